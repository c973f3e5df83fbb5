"""CoinAPI market data REST (keyed: header ``X-CoinAPI-Key``), one method per endpoint, shaped like the venue.

Docs: https://docs.coinapi.io/market-data/rest-api. A contract is addressed by CoinAPI's ``symbol_id``
(``BINANCEFTS_PERP_BTC_USDT``). Errors are ``{"error": "..."}`` (older docs: ``{"message": "..."}``) with
400 bad request, 401 bad key, 403 key without the privilege, 429 over the key's limits, and 550 "no
data": the requested single item (symbol) does not exist, which is not a server fault and must not be
retried. Every method returns the venue's models; the ``/latest`` routes answer NEWEST-FIRST and
:mod:`providers.coinapi.domain` puts every series oldest-first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from providers.coinapi.models import CoinApiExchangeRate, CoinApiOhlcv, CoinApiOrderBook, CoinApiQuote, CoinApiTrade
from providers.errors import AuthenticationFailed, InvalidSymbol, UpstreamError
from providers.venue import RawClient

if TYPE_CHECKING:
    from datetime import datetime

DOCS = "https://docs.coinapi.io/market-data/rest-api/"


def coinapi_error_hook(provider: str, endpoint: str, status: int, payload: Any) -> UpstreamError | None:
    """CoinAPI's 550 "No data" is an unknown symbol, not an outage; bad and under-privileged keys are fatal.

    Sample body (any status >= 400): ``{"error": "Invalid API key"}``. 429 and 5xx are left to
    :func:`providers.errors.classify_status`, which keeps them retryable and honours ``Retry-After``.
    """
    message = str(payload.get("error") or payload.get("message") or "") if isinstance(payload, dict) else ""
    text = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    if status == 550:
        return InvalidSymbol(provider, endpoint, f"{text} (no data for this symbol)", status=status)
    if status in (401, 403):
        return AuthenticationFailed(provider, endpoint, text, status=status)
    return None


class CoinApiClient(RawClient):
    """Raw routes, one method per endpoint; ``symbol_id`` is CoinAPI's (``BINANCEFTS_PERP_BTC_USDT``)."""

    async def exchange_rate(self, base: str, quote: str) -> CoinApiExchangeRate:
        """``GET /v1/exchangerate/{asset_id_base}/{asset_id_quote}``: CoinAPI's VWAP-based rate
        (:data:`DOCS` ``exchange-rates``). Sample: ``{"time": "2025-05-13T06:03:48.6878017Z",
        "asset_id_base": "BTC", "asset_id_quote": "USD", "rate": 10000.0}``"""
        path = f"/v1/exchangerate/{base}/{quote}"
        return await self._http.get(
            path, None, endpoint="exchangerate", ttl=self._ttls.price, parse=CoinApiExchangeRate.model_validate
        )

    async def ohlcv_latest(self, symbol_id: str, period_id: str, limit: int) -> tuple[CoinApiOhlcv, ...]:
        """``GET /v1/ohlcv/{symbol_id}/latest?period_id=1HRS&limit=N`` (NEWEST-FIRST; :data:`DOCS` ``ohlcv``).

        Sample row: ``{"time_period_start": "2017-08-09T14:31:00.0000000Z",  # candle open
        "time_period_end": "2017-08-09T14:32:00.0000000Z", "time_open": "2017-08-09T14:31:01.0000000Z",
        "time_close": "2017-08-09T14:31:46.0000000Z",  # first and last trade in the period
        "price_open": 3255.59, "price_high": 3255.59, "price_low": 3244.74, "price_close": 3244.74,
        "volume_traded": 16.90327455,  # base asset
        "trades_count": 31}``
        """
        query: dict[str, str | int] = {"period_id": period_id, "limit": limit}
        return await self._http.get(
            f"/v1/ohlcv/{symbol_id}/latest", query, endpoint="ohlcv.latest", ttl=self._ttls.candles, parse=_ohlcv
        )

    async def ohlcv_history(
        self, symbol_id: str, period_id: str, time_start: datetime, limit: int
    ) -> tuple[CoinApiOhlcv, ...]:
        """``GET /v1/ohlcv/{symbol_id}/history?period_id=&time_start=&limit=`` (oldest-first; rows as above)."""
        start = time_start.strftime("%Y-%m-%dT%H:%M:%S")
        query: dict[str, str | int] = {"period_id": period_id, "time_start": start, "limit": limit}
        return await self._http.get(
            f"/v1/ohlcv/{symbol_id}/history", query, endpoint="ohlcv.history", ttl=self._ttls.candles, parse=_ohlcv
        )

    async def orderbook_current(self, symbol_id: str, depth: int) -> CoinApiOrderBook:
        """``GET /v1/orderbooks/{symbol_id}/current?limit_levels=N`` (:data:`DOCS` ``order-book``).

        Sample: ``{"symbol_id": "COINBASE_SPOT_BCH_USD", "time_exchange": "2020-08-27T10:28:35.6111130Z",
        "time_coinapi": "2020-08-27T10:28:35.6766461Z",
        "asks": [{"id": "3c5e789c-...", "price": 272.89, "size": 1}, ...],
        "bids": [{"id": "100d5004-...", "price": 272.83, "size": 18}, ...]}``
        """
        book = f"/v1/orderbooks/{symbol_id}/current"
        return await self._http.get(
            book, {"limit_levels": depth}, endpoint="orderbooks.current", ttl=self._ttls.price, parse=_order_book
        )

    async def trades_latest(self, symbol_id: str, limit: int) -> tuple[CoinApiTrade, ...]:
        """``GET /v1/trades/{symbol_id}/latest?limit=N`` (NEWEST-FIRST live; :data:`DOCS` ``trades``).

        Sample row: ``{"symbol_id": "BITSTAMP_SPOT_BTC_USD", "time_exchange": "2013-09-28T22:40:50.0000000Z",
        "time_coinapi": "2017-03-18T22:42:21.3763342Z", "uuid": "770c7a3b-...", "price": 770.0,
        "size": 0.05, "taker_side": "BUY"}``
        """
        return await self._http.get(
            f"/v1/trades/{symbol_id}/latest",
            {"limit": limit},
            endpoint="trades.latest",
            ttl=self._ttls.price,
            parse=_trades,
        )

    async def quote_current(self, symbol_id: str) -> CoinApiQuote:
        """``GET /v1/quotes/{symbol_id}/current``: best bid and ask (:data:`DOCS` ``quotes``).

        Sample: ``{"symbol_id": "BITSTAMP_SPOT_BTC_USD", "time_exchange": "2013-09-28T22:40:50.0000000Z",
        "time_coinapi": "2017-03-18T22:42:21.3763342Z", "ask_price": 770.0, "ask_size": 3252,
        "bid_price": 760, "bid_size": 124, "last_trade": {...}}``
        """
        quote = f"/v1/quotes/{symbol_id}/current"
        return await self._http.get(
            quote, None, endpoint="quotes.current", ttl=self._ttls.price, parse=CoinApiQuote.model_validate
        )


def _ohlcv(rows: list[Any]) -> tuple[CoinApiOhlcv, ...]:
    return tuple(CoinApiOhlcv.model_validate(r) for r in rows)


def _trades(rows: list[Any]) -> tuple[CoinApiTrade, ...]:
    return tuple(CoinApiTrade.model_validate(r) for r in rows)


def _order_book(payload: Any) -> CoinApiOrderBook:
    return CoinApiOrderBook.model_validate(payload)
