"""CoinGlass API v4 (keyed: header ``CG-API-KEY``), preferred for liquidations, ratios and OI when set.

Docs: https://docs.coinglass.com/v4.0-zh/reference. Every answer is ``{"code": "0", "msg": "success",
"data": ...}``; ``code`` may be the string ``"0"`` or the integer ``0``, anything else is an error even
with HTTP 200. Symbol forms differ by endpoint: the coin (``BTC``) on coin endpoints, the pair
(``BTCUSDT``) plus ``exchange`` on pair endpoints. Ratio percentages arrive already in percent.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from engine.market import LiquidationTotals, LongShortPoint, OpenInterestPoint, utc_from_ms
from providers.errors import (
    AuthenticationFailed,
    InvalidRequest,
    InvalidSymbol,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
)

if TYPE_CHECKING:
    from datetime import datetime

    from engine.market import Timeframe
    from providers.config import CacheTtls
    from providers.http import ProviderHttp
    from providers.symbols import Instrument

PROVIDER = "coinglass"
LIQUIDATION_EXCHANGES = "Binance,OKX,Bybit,Bitget,Hyperliquid,Gate,HTX,BingX"
# envelope codes CoinGlass documents as transient (request timeout, server error)
_RETRYABLE_CODES = {"408", "500", "502", "503", "504"}


def coinglass_error_hook(provider: str, endpoint: str, status: int, payload: Any) -> UpstreamError | None:
    """Non-zero ``code`` in the envelope is an error whatever the HTTP status.

    CoinGlass documents its envelope codes as HTTP-like (``0`` success, ``400``, ``401`` bad key, ``408``
    too slow, ``429`` rate limit, ``500``), so the transient ones stay retryable. A 429 / 5xx HTTP status
    is left to :func:`providers.errors.classify_status`, which also honours ``Retry-After``.
    """
    if status in (418, 429, 451) or status >= 500:
        return None
    if not isinstance(payload, dict) or "code" not in payload:
        return None
    code = str(payload["code"])
    if code == "0":
        return None
    message = f"code {code}: {payload.get('msg') or 'error'}"
    lowered = message.lower()
    if code == "429":
        return RateLimited(provider, endpoint, message, status=status)
    if code in _RETRYABLE_CODES:
        return UpstreamUnavailable(provider, endpoint, message, status=status)
    if code == "401" or "key" in lowered or "upgrade" in lowered or "plan" in lowered or status in (401, 403):
        return AuthenticationFailed(provider, endpoint, message, status=status)
    if "symbol" in lowered:
        return InvalidSymbol(provider, endpoint, message, status=status)
    return InvalidRequest(provider, endpoint, message, status=status)


def _data_rows(payload: dict[str, Any]) -> list[dict[str, Any]]:
    rows = payload["data"]
    if not isinstance(rows, list):
        raise TypeError(f"data is {type(rows).__name__}, expected a list")
    return sorted(rows, key=lambda r: int(r["time"]))


def parse_liquidation_history(payload: dict[str, Any]) -> tuple[tuple[datetime, float, float], ...]:
    """``GET /api/futures/liquidation/aggregated-history?symbol=BTC&interval=4h&exchange_list=...``.

    Sample: ``{"code": "0", "msg": "success", "data": [{"time": 1749384000000,
    "aggregated_long_liquidation_usd": 6366.4341, "aggregated_short_liquidation_usd": 467444.0939}]}``
    (USD of liquidated *long* and *short* positions per bar.)
    """
    return tuple(
        (
            utc_from_ms(r["time"]),
            float(r["aggregated_long_liquidation_usd"]),
            float(r["aggregated_short_liquidation_usd"]),
        )
        for r in _data_rows(payload)
    )


def parse_global_ratio(payload: dict[str, Any]) -> tuple[LongShortPoint, ...]:
    """``GET /api/futures/global-long-short-account-ratio/history?exchange=Binance&symbol=BTCUSDT&interval=4h``.

    Sample: ``{"code": "0", "data": [{"time": 1741604400000, "global_account_long_percent": 73.88,
    "global_account_short_percent": 26.12, "global_account_long_short_ratio": 2.83}]}``
    """
    return tuple(
        LongShortPoint(
            time=utc_from_ms(r["time"]),
            long_pct=float(r["global_account_long_percent"]),
            long_short_ratio=float(r["global_account_long_short_ratio"]),
        )
        for r in _data_rows(payload)
    )


def parse_top_position_ratio(payload: dict[str, Any]) -> tuple[LongShortPoint, ...]:
    """``GET /api/futures/top-long-short-position-ratio/history?exchange=Binance&symbol=BTCUSDT&interval=4h``.

    Sample: ``{"code": "0", "data": [{"time": 1749384000000, "top_position_long_percent": 57.56,
    "top_position_short_percent": 42.44, "top_position_long_short_ratio": 1.36}]}``
    """
    return tuple(
        LongShortPoint(
            time=utc_from_ms(r["time"]),
            long_pct=float(r["top_position_long_percent"]),
            long_short_ratio=float(r["top_position_long_short_ratio"]),
        )
        for r in _data_rows(payload)
    )


def parse_oi_history(payload: dict[str, Any]) -> tuple[OpenInterestPoint, ...]:
    """``GET /api/futures/open-interest/aggregated-history?symbol=BTC&interval=4h``: OHLC of USD OI.

    Sample: ``{"code": "0", "data": [{"time": 1749384000000, "open": 71550877210.0, "high": 72412713465.0,
    "low": 71550877210.0, "close": 72391752381.0}]}`` (the docs show the values as strings; both parse.)
    """
    return tuple(
        OpenInterestPoint(
            time=utc_from_ms(r["time"]),
            open_interest=float(r["close"]),
            open_interest_usd=float(r["close"]),
            unit="usd",
        )
        for r in _data_rows(payload)
    )


class CoinGlassClient:
    """Raw v4 endpoints plus their normalization (the venue is one JSON envelope, so one class suffices)."""

    def __init__(self, http: ProviderHttp, ttls: CacheTtls) -> None:
        self._http = http
        self._ttls = ttls

    async def liquidations_24h(self, instrument: Instrument) -> LiquidationTotals:
        """Long vs short liquidated USD over the last 24 h across the major venues (six 4 h bars)."""
        bars = await self._http.get(
            "/api/futures/liquidation/aggregated-history",
            {
                "symbol": instrument.for_provider(PROVIDER, form="coin"),
                "interval": "4h",
                "limit": 6,
                "exchange_list": LIQUIDATION_EXCHANGES,
            },
            endpoint="liquidation.aggregated-history",
            ttl=self._ttls.liquidations,
            parse=parse_liquidation_history,
        )
        if not bars:
            raise InvalidRequest(PROVIDER, "liquidation.aggregated-history", "no liquidation bars returned")
        last_day = [b for b in bars if b[0] > bars[-1][0] - timedelta(hours=24)]
        return LiquidationTotals(
            window=timedelta(hours=24),
            long_usd=sum(b[1] for b in last_day),
            short_usd=sum(b[2] for b in last_day),
        )

    async def global_long_short(self, instrument: Instrument, timeframe: Timeframe) -> tuple[LongShortPoint, ...]:
        return await self._http.get(
            "/api/futures/global-long-short-account-ratio/history",
            {
                "exchange": "Binance",
                "symbol": instrument.for_provider(PROVIDER),
                "interval": timeframe.value,
                "limit": 30,
            },
            endpoint="global-long-short-account-ratio",
            ttl=self._ttls.ratios,
            parse=parse_global_ratio,
        )

    async def top_trader_positions(self, instrument: Instrument, timeframe: Timeframe) -> tuple[LongShortPoint, ...]:
        return await self._http.get(
            "/api/futures/top-long-short-position-ratio/history",
            {
                "exchange": "Binance",
                "symbol": instrument.for_provider(PROVIDER),
                "interval": timeframe.value,
                "limit": 30,
            },
            endpoint="top-long-short-position-ratio",
            ttl=self._ttls.ratios,
            parse=parse_top_position_ratio,
        )

    async def open_interest_history(
        self, instrument: Instrument, timeframe: Timeframe, limit: int = 30
    ) -> tuple[OpenInterestPoint, ...]:
        return await self._http.get(
            "/api/futures/open-interest/aggregated-history",
            {
                "symbol": instrument.for_provider(PROVIDER, form="coin"),
                "interval": timeframe.value,
                "limit": limit,
            },
            endpoint="open-interest.aggregated-history",
            ttl=self._ttls.open_interest,
            parse=parse_oi_history,
        )
