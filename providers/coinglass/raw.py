"""CoinGlass v4 REST: one :class:`Route` per endpoint (path, doc link, row model, cache TTL) and one funnel.

Docs: https://docs.coinglass.com/reference. The endpoints differ only in those facts, so they are data in
:data:`ROUTES` and one method, :meth:`CoinGlassRawClient.rows`, serves every one of them with the venue's
own models (:mod:`providers.coinglass.models`); normalization happens in :mod:`providers.coinglass.domain`.
Parameters are spelled as CoinGlass spells them: the coin (``BTC``) on coin routes, the pair
(``BTCUSDT``) plus ``exchange`` on pair routes, intervals ``1m 3m 5m 15m 30m 1h 4h 6h 8h 12h 1d 1w``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from providers import errors
from providers.coinglass import models as cg
from providers.venue import RawClient

if TYPE_CHECKING:
    from collections.abc import Mapping

    from providers._shared import VenueModel

M = TypeVar("M", bound="VenueModel")
DOCS = "https://docs.coinglass.com/reference/"
# envelope codes CoinGlass documents as transient (request timeout, server error)
_RETRYABLE_CODES = {"408", "500", "502", "503", "504"}


@dataclass(frozen=True, slots=True)
class Route(Generic[M]):
    """One documented endpoint. ``name`` labels metrics and errors (``coinglass.<name>``); ``ttl`` names the
    :class:`~providers.config.CacheTtls` field that caches it; ``doc`` is the page under :data:`DOCS`."""

    path: str
    name: str
    model: type[M]
    ttl: str
    doc: str

    @property
    def doc_url(self) -> str:
        return DOCS + self.doc


# One entry per endpoint: path and name, then row model, TTL field and doc page. Sample payloads, field by
# field, are in the models' and the domain converters' docstrings.
LIQUIDATION_AGGREGATED_HISTORY = Route(
    "/api/futures/liquidation/aggregated-history", "liquidation.aggregated-history",
    cg.CgLiquidationBar, "liquidations", "aggregated-liquidation-history",
)  # fmt: skip
LIQUIDATION_HISTORY = Route(
    "/api/futures/liquidation/history", "liquidation.history",
    cg.CgLiquidationBar, "liquidations", "liquidation-history",
)  # fmt: skip
# Startup plan and up
LIQUIDATION_COIN_LIST = Route(
    "/api/futures/liquidation/coin-list", "liquidation.coin-list",
    cg.CoinLiquidations, "liquidations", "liquidation-coin-list",
)  # fmt: skip
# range: 1h, 4h, 12h or 24h
LIQUIDATION_EXCHANGE_LIST = Route(
    "/api/futures/liquidation/exchange-list", "liquidation.exchange-list",
    cg.CgExchangeLiquidations, "liquidations", "liquidation-exchange-list",
)  # fmt: skip
GLOBAL_ACCOUNT_RATIO_HISTORY = Route(
    "/api/futures/global-long-short-account-ratio/history", "global-long-short-account-ratio",
    cg.CgLongShortRatio, "ratios", "global-longshort-account-ratio",
)  # fmt: skip
TOP_POSITION_RATIO_HISTORY = Route(
    "/api/futures/top-long-short-position-ratio/history", "top-long-short-position-ratio",
    cg.CgLongShortRatio, "ratios", "top-longshort-position-ratio",
)  # fmt: skip
TOP_ACCOUNT_RATIO_HISTORY = Route(
    "/api/futures/top-long-short-account-ratio/history", "top-long-short-account-ratio",
    cg.CgLongShortRatio, "ratios", "top-longshort-account-ratio",
)  # fmt: skip
OPEN_INTEREST_AGGREGATED_HISTORY = Route(
    "/api/futures/open-interest/aggregated-history", "open-interest.aggregated-history",
    cg.CgOhlc, "open_interest", "oi-ohlc-aggregated-history",
)  # fmt: skip
OPEN_INTEREST_EXCHANGE_LIST = Route(
    "/api/futures/open-interest/exchange-list", "open-interest.exchange-list",
    cg.ExchangeOpenInterest, "open_interest", "oi-exchange-list",
)  # fmt: skip
# Standard plan and up; page, per_page, exchange_list
COINS_MARKETS = Route(
    "/api/futures/coins-markets", "coins-markets",
    cg.CoinMarket, "open_interest", "coins-markets",
)  # fmt: skip
# "histroy": sic, the docs' page name
FUNDING_RATE_HISTORY = Route(
    "/api/futures/funding-rate/history", "funding-rate.history",
    cg.CgOhlc, "funding", "fr-ohlc-histroy",
)  # fmt: skip
FUNDING_RATE_OI_WEIGHT_HISTORY = Route(
    "/api/futures/funding-rate/oi-weight-history", "funding-rate.oi-weight-history",
    cg.CgOhlc, "funding", "oi-weight-ohlc-history",
)  # fmt: skip
# every coin in one answer
FUNDING_RATE_EXCHANGE_LIST = Route(
    "/api/futures/funding-rate/exchange-list", "funding-rate.exchange-list",
    cg.CgCoinFunding, "funding", "fr-exchange-list",
)  # fmt: skip
# exchange_list is mandatory here
TAKER_VOLUME_AGGREGATED_HISTORY = Route(
    "/api/futures/aggregated-taker-buy-sell-volume/history", "aggregated-taker-buy-sell-volume",
    cg.CgTakerVolume, "candles", "aggregated-taker-buysell-volume-history",
)  # fmt: skip
# the v4 reference routes the pair history under /api/futures/v2/
TAKER_VOLUME_HISTORY = Route(
    "/api/futures/v2/taker-buy-sell-volume/history", "taker-buy-sell-volume",
    cg.CgTakerVolume, "candles", "taker-buysell-volume",
)  # fmt: skip
# data: one object of parallel arrays live, a list of them in the docs
FEAR_GREED_HISTORY = Route(
    "/api/index/fear-greed-history", "fear-greed-history",
    cg.CgFearGreed, "fear_greed", "cryptofear-greedindex",
)  # fmt: skip

ROUTES: tuple[Route[Any], ...] = (
    LIQUIDATION_AGGREGATED_HISTORY,
    LIQUIDATION_HISTORY,
    LIQUIDATION_COIN_LIST,
    LIQUIDATION_EXCHANGE_LIST,
    GLOBAL_ACCOUNT_RATIO_HISTORY,
    TOP_POSITION_RATIO_HISTORY,
    TOP_ACCOUNT_RATIO_HISTORY,
    OPEN_INTEREST_AGGREGATED_HISTORY,
    OPEN_INTEREST_EXCHANGE_LIST,
    COINS_MARKETS,
    FUNDING_RATE_HISTORY,
    FUNDING_RATE_OI_WEIGHT_HISTORY,
    FUNDING_RATE_EXCHANGE_LIST,
    TAKER_VOLUME_AGGREGATED_HISTORY,
    TAKER_VOLUME_HISTORY,
    FEAR_GREED_HISTORY,
)


def coinglass_error_hook(provider: str, endpoint: str, status: int, payload: Any) -> errors.UpstreamError | None:
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
        return errors.RateLimited(provider, endpoint, message, status=status)
    if code in _RETRYABLE_CODES:
        return errors.UpstreamUnavailable(provider, endpoint, message, status=status)
    if code == "401" or "key" in lowered or "upgrade" in lowered or "plan" in lowered or status in (401, 403):
        return errors.AuthenticationFailed(provider, endpoint, message, status=status)
    if "symbol" in lowered:
        return errors.InvalidSymbol(provider, endpoint, message, status=status)
    return errors.InvalidRequest(provider, endpoint, message, status=status)


def data_rows(payload: Mapping[str, Any], model: type[M]) -> tuple[M, ...]:
    """The envelope's ``data`` list as ``model`` rows, in wire order (a non-list ``data`` is a TypeError).

    ``index/fear-greed-history`` sends one object live and a list of them in the docs: both are rows."""
    data = payload["data"]
    if isinstance(data, dict) and model is cg.CgFearGreed:
        data = [data]
    if not isinstance(data, list):
        raise TypeError(f"data is {type(data).__name__}, expected a list")
    return tuple(model.model_validate(row) for row in data)


class CoinGlassRawClient(RawClient):
    """Raw client: any route of :data:`ROUTES`, parameters exactly as CoinGlass documents them."""

    async def rows(self, route: Route[M], params: Mapping[str, str | int] | None = None) -> tuple[M, ...]:
        """``GET route.path?params``: the ``data`` rows as ``route.model``, cached for ``route.ttl``."""
        return await self._http.get(
            route.path,
            dict(params) if params else None,
            endpoint=route.name,
            ttl=float(getattr(self._ttls, route.ttl)),
            parse=lambda payload: data_rows(payload, route.model),
        )
