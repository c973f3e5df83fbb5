"""Hyperliquid perpetuals (keyless): every read is ``POST /info`` with a JSON body ``{"type": ...}``.

Docs: https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint (and its
``perpetuals`` page). Units, decided once here:

- ``funding`` in ``metaAndAssetCtxs`` and ``fundingRate`` in ``fundingHistory`` are fractions *per
  hour*: Hyperliquid computes an 8 h rate and pays one eighth of it every hour (docs, "Funding"). So a
  :class:`FundingRate` carries ``interval_hours=1`` and ``rate_8h_equivalent`` is 8 × the hourly rate.
  Rows settled before the switch to hourly payments (2023-06-08) were paid every 8 h at the full 8 h
  rate (``0.0001`` = the 8 h interest rate is the clamped value there); they keep ``interval_hours=8``.
- ``openInterest`` is in coins; its USD value is coins × ``markPx``.
- ``dayNtlVlm`` is USD (quote) volume, ``dayBaseVlm`` coins; ``prevDayPx`` is the price 24 h ago.

Hyperliquid has no public liquidation feed (liquidations are ordinary fills against the liquidator
vault), so this adapter has no ``LIQUIDATIONS`` capability. Coins are named by their base asset
(``BTC``); prices are in USDC, which the normalized models treat as the USD quote.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.market import (
    Candle,
    CandleInterval,
    FundingRate,
    OpenInterest,
    OrderBook,
    Ticker24h,
    utc_from_ms,
)
from providers.errors import InvalidSymbol, UpstreamError
from providers.venue import Capability, MarketProvider, interval_code

if TYPE_CHECKING:
    from collections.abc import Callable

    from providers.config import CacheTtls
    from providers.http import ProviderHttp
    from providers.symbols import Instrument
    from providers.venue import ProviderDeps

PROVIDER = "hyperliquid"
DEFAULT_BASE_URL = "https://api.hyperliquid.xyz"
# Docs, "Rate limits and user limits": 1200 weight per minute per IP; l2Book weighs 2, most other
# /info reads (metaAndAssetCtxs, fundingHistory, candleSnapshot) 20 plus extra per items returned.
# 1200 / 20 = 1 heavy read per second; design for 0.8 to leave room for other clients on the host.
RATE_LIMIT_PER_SECOND = 0.8
INFO_PATH = "/info"

FUNDING_INTERVAL_HOURS = 1.0
# Hyperliquid paid funding every 8 h until 2023-06-08 00:00 UTC (the last 8 h settlement in the SDK's
# recorded BTC history is 1686182400254, the first hourly one 1686186000054); anything between is hourly.
HOURLY_FUNDING_SINCE_MS = 1_686_184_200_000
_LEGACY_FUNDING_INTERVAL_HOURS = 8.0
MAX_CANDLES = 5000  # candleSnapshot serves only the most recent 5000 candles
MAX_FUNDING_ROWS = 500  # fundingHistory pages at 500 rows
_HOUR_MS = 3_600_000

# candleSnapshot intervals: 1m 3m 5m 15m 30m 1h 2h 4h 8h 12h 1d 3d 1w 1M (no 6h)
INTERVALS: dict[CandleInterval, str] = {
    CandleInterval.M1: "1m",
    CandleInterval.M3: "3m",
    CandleInterval.M5: "5m",
    CandleInterval.M15: "15m",
    CandleInterval.M30: "30m",
    CandleInterval.H1: "1h",
    CandleInterval.H2: "2h",
    CandleInterval.H4: "4h",
    CandleInterval.H12: "12h",
    CandleInterval.D1: "1d",
    CandleInterval.W1: "1w",
}


def hyperliquid_error_hook(provider: str, endpoint: str, status: int, payload: Any) -> UpstreamError | None:
    """Hyperliquid answers an unknown coin on ``l2Book`` with HTTP 200 and the body ``null``.

    A malformed request is HTTP 422 (``Failed to deserialize the JSON body into the target type``, plain
    text) or 400; those fall through to :func:`providers.errors.classify_status` (InvalidRequest), as do
    429 and 5xx (retryable, honouring ``Retry-After``).
    """
    if status == 200 and payload is None:
        return InvalidSymbol(provider, endpoint, "HTTP 200 with a null body: the coin is not listed", status=status)
    return None


# --------------------------------------------------------------------------------------------------
# venue models and parsers


@dataclass(frozen=True, slots=True)
class HyperliquidAssetCtx:
    """One perpetual's live context, joined to its name from ``universe`` by index."""

    coin: str
    mark_px: float
    prev_day_px: float
    day_ntl_vlm: float  # USD
    day_base_vlm: float | None  # coins; absent from older answers
    funding: float  # fraction per hour
    open_interest: float  # coins
    oracle_px: float
    premium: float | None
    mid_px: float | None
    is_delisted: bool = False


@dataclass(frozen=True, slots=True)
class HyperliquidFunding:
    coin: str
    funding_rate: float  # fraction per settlement interval (hourly since 2023-06-08)
    premium: float | None
    time_ms: int


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def parse_meta_and_asset_ctxs(payload: list[Any]) -> dict[str, HyperliquidAssetCtx]:
    """``{"type": "metaAndAssetCtxs"}`` → ``[meta, assetCtxs]``, two index-parallel lists.

    Sample::

        [{"universe": [{"name": "BTC", "szDecimals": 5, "maxLeverage": 50},
                       {"name": "HPOS", "szDecimals": 0, "maxLeverage": 3, "onlyIsolated": true}]},
         [{"dayNtlVlm": "1169046.29406",   # 24 h volume in USD
           "funding": "0.0000125",          # fraction per HOUR
           "impactPxs": ["14.3047", "14.3444"], "markPx": "14.3161", "midPx": "14.314",
           "openInterest": "688.11",        # coins
           "oraclePx": "14.32", "premium": "0.00031774",
           "prevDayPx": "15.322"},          # price 24 h ago
          ...]]

    Current answers add ``dayBaseVlm`` (coins) to each context and ``isDelisted`` to some universe rows;
    ``midPx`` and ``premium`` can be null.
    """
    meta, ctxs = payload
    universe = meta["universe"]
    if len(universe) != len(ctxs):
        raise ValueError(f"universe has {len(universe)} coins but assetCtxs has {len(ctxs)}")
    result: dict[str, HyperliquidAssetCtx] = {}
    for asset, ctx in zip(universe, ctxs, strict=True):
        name = str(asset["name"])
        result[name] = HyperliquidAssetCtx(
            coin=name,
            mark_px=float(ctx["markPx"]),
            prev_day_px=float(ctx["prevDayPx"]),
            day_ntl_vlm=float(ctx["dayNtlVlm"]),
            day_base_vlm=_opt_float(ctx.get("dayBaseVlm")),
            funding=float(ctx["funding"]),
            open_interest=float(ctx["openInterest"]),
            oracle_px=float(ctx["oraclePx"]),
            premium=_opt_float(ctx.get("premium")),
            mid_px=_opt_float(ctx.get("midPx")),
            is_delisted=bool(asset.get("isDelisted", False)),
        )
    return result


def parse_candle_snapshot(payload: list[dict[str, Any]]) -> tuple[Candle, ...]:
    """``{"type": "candleSnapshot", "req": {"coin", "interval", "startTime", "endTime"}}``, oldest-first.

    Sample row: ``{"t": 1684699200000,  # open time (ms)
    "T": 1684702799999,  # close time
    "s": "kPEPE", "i": "1h", "o": "0.001601", "c": "0.001604", "h": "0.001616", "l": "0.001601",
    "v": "520665683.0",  # volume in coins
    "n": 709}``  (trades). Sorted here anyway, so the invariant does not rest on the venue's order.
    """
    rows = sorted(payload, key=lambda r: int(r["t"]))
    return tuple(
        Candle(
            open_time=utc_from_ms(r["t"]),
            open=float(r["o"]),
            high=float(r["h"]),
            low=float(r["l"]),
            close=float(r["c"]),
            volume=float(r["v"]),
        )
        for r in rows
    )


def parse_funding_history(payload: list[dict[str, Any]]) -> tuple[HyperliquidFunding, ...]:
    """``{"type": "fundingHistory", "coin": "BTC", "startTime": ms}``, oldest-first, at most 500 rows.

    Sample: ``[{"coin": "BTC", "fundingRate": "0.0000125",  # fraction per hour
    "premium": "0.00029005", "time": 1769908800000}, ...]`` (``premium`` is missing on some rows).
    """
    rows = sorted(payload, key=lambda r: int(r["time"]))
    return tuple(
        HyperliquidFunding(
            coin=str(r["coin"]),
            funding_rate=float(r["fundingRate"]),
            premium=_opt_float(r.get("premium")),
            time_ms=int(r["time"]),
        )
        for r in rows
    )


def parse_l2_book(payload: dict[str, Any]) -> OrderBook:
    """``{"type": "l2Book", "coin": "BTC"}``: up to 20 levels a side, best first.

    Sample: ``{"coin": "BTC", "levels": [[{"px": "110427.0", "sz": "4.11882", "n": 3}, ...],  # bids
    [{"px": "110428.0", "sz": "3.72573", "n": 1}, ...]],  # asks
    "time": 1761786491067}`` (sizes in coins; ``n`` = orders at the level, absent in some captures).
    """
    bids, asks = payload["levels"]
    return OrderBook(
        symbol=str(payload["coin"]),
        bids=tuple((float(level["px"]), float(level["sz"])) for level in bids),
        asks=tuple((float(level["px"]), float(level["sz"])) for level in asks),
        time=utc_from_ms(payload["time"]),
    )


def funding_interval_hours(time_ms: int) -> float:
    """Hourly since 2023-06-08; every 8 h (and at the full 8 h rate) before."""
    return FUNDING_INTERVAL_HOURS if time_ms >= HOURLY_FUNDING_SINCE_MS else _LEGACY_FUNDING_INTERVAL_HOURS


def to_funding(row: HyperliquidFunding, symbol: str) -> FundingRate:
    return FundingRate(
        symbol=symbol,
        rate=row.funding_rate,
        interval_hours=funding_interval_hours(row.time_ms),
        time=utc_from_ms(row.time_ms),
    )


# --------------------------------------------------------------------------------------------------
# raw client


class HyperliquidClient:
    """Raw ``/info`` reads, one method per request type, shaped like the venue."""

    def __init__(self, http: ProviderHttp, ttls: CacheTtls) -> None:
        self._http = http
        self._ttls = ttls

    async def meta_and_asset_ctxs(self) -> dict[str, HyperliquidAssetCtx]:
        """Every perpetual's mark price, funding, OI and 24 h volume in one read (weight 20).

        One cache entry serves ticker, funding and open interest alike, so it uses the shortest TTL.
        """
        return await self._http.post(
            INFO_PATH,
            {"type": "metaAndAssetCtxs"},
            endpoint="metaAndAssetCtxs",
            ttl=self._ttls.price,
            parse=parse_meta_and_asset_ctxs,
        )

    async def candle_snapshot(self, coin: str, interval: str, start_ms: int, end_ms: int) -> tuple[Candle, ...]:
        return await self._http.post(
            INFO_PATH,
            {
                "type": "candleSnapshot",
                "req": {"coin": coin, "interval": interval, "startTime": start_ms, "endTime": end_ms},
            },
            endpoint="candleSnapshot",
            ttl=self._ttls.candles,
            parse=parse_candle_snapshot,
        )

    async def funding_history(self, coin: str, start_ms: int) -> tuple[HyperliquidFunding, ...]:
        return await self._http.post(
            INFO_PATH,
            {"type": "fundingHistory", "coin": coin, "startTime": start_ms},
            endpoint="fundingHistory",
            ttl=self._ttls.funding,
            parse=parse_funding_history,
        )

    async def l2_book(self, coin: str) -> OrderBook:
        return await self._http.post(
            INFO_PATH,
            {"type": "l2Book", "coin": coin},
            endpoint="l2Book",
            ttl=self._ttls.price,
            parse=parse_l2_book,
        )


# --------------------------------------------------------------------------------------------------
# normalized provider


class HyperliquidMarket(MarketProvider):
    """Hyperliquid through the normalized interface. ``clock`` (epoch seconds) stamps context reads,
    which carry no time of their own, and anchors the candle and funding windows."""

    name = PROVIDER
    capabilities = frozenset(
        {
            Capability.TICKER,
            Capability.CANDLES,
            Capability.FUNDING,
            Capability.FUNDING_HISTORY,
            Capability.OPEN_INTEREST,
            Capability.ORDER_BOOK,
        }
    )
    keyed = False

    def __init__(self, client: HyperliquidClient, clock: Callable[[], float] = time.time) -> None:
        self.raw = client
        self._clock = clock

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def _ctx(self, instrument: Instrument, endpoint: str = "metaAndAssetCtxs") -> HyperliquidAssetCtx:
        coin = instrument.for_provider(PROVIDER)
        ctx = (await self.raw.meta_and_asset_ctxs()).get(coin)
        if ctx is None or ctx.is_delisted:
            raise InvalidSymbol(PROVIDER, endpoint, f"{coin} is not a listed Hyperliquid perpetual")
        return ctx

    async def _window(self, coin: str, interval: CandleInterval, limit: int) -> tuple[Candle, ...]:
        code = interval_code(PROVIDER, "candleSnapshot", interval, INTERVALS)
        step_ms = int(interval.duration.total_seconds() * 1000)
        count = max(1, min(limit, MAX_CANDLES))
        # The window ends where the current candle closes, so the request body (and cache key) stays
        # the same for the life of a candle and still includes the candle in progress.
        end_ms = (self._now_ms() // step_ms + 1) * step_ms
        candles = await self.raw.candle_snapshot(coin, code, end_ms - count * step_ms, end_ms)
        if not candles:
            raise InvalidSymbol(PROVIDER, "candleSnapshot", f"no candles for {coin}: not a listed coin")
        return candles[-count:]

    async def ticker(self, instrument: Instrument) -> Ticker24h:
        """Price, change and USD volume from the asset context; the context has no 24 h high and low,
        so they (and the coin volume, when ``dayBaseVlm`` is absent) come from the last 24 hourly candles."""
        coin = instrument.for_provider(PROVIDER)
        ctx, candles = await asyncio.gather(self._ctx(instrument), self._window(coin, CandleInterval.H1, 24))
        return Ticker24h(
            symbol=instrument.canonical,
            last_price=ctx.mark_px,
            price_change_pct=(ctx.mark_px - ctx.prev_day_px) / ctx.prev_day_px * 100.0,
            high=max(c.high for c in candles),
            low=min(c.low for c in candles),
            volume=ctx.day_base_vlm if ctx.day_base_vlm is not None else sum(c.volume for c in candles),
            quote_volume=ctx.day_ntl_vlm,
            close_time=utc_from_ms(self._now_ms()),
        )

    async def candles(self, instrument: Instrument, interval: CandleInterval, limit: int) -> tuple[Candle, ...]:
        return await self._window(instrument.for_provider(PROVIDER), interval, limit)

    async def funding(self, instrument: Instrument) -> FundingRate:
        """The hourly rate being accrued now; it settles at the top of the next hour."""
        ctx = await self._ctx(instrument)
        now_ms = self._now_ms()
        return FundingRate(
            symbol=instrument.canonical,
            rate=ctx.funding,
            interval_hours=FUNDING_INTERVAL_HOURS,
            time=utc_from_ms(now_ms),
            next_funding_time=utc_from_ms((now_ms // _HOUR_MS + 1) * _HOUR_MS),
            mark_price=ctx.mark_px,
        )

    async def funding_history(self, instrument: Instrument, limit: int) -> tuple[FundingRate, ...]:
        coin = instrument.for_provider(PROVIDER)
        count = max(1, min(limit, MAX_FUNDING_ROWS))
        # one settlement an hour: start ``count`` hours back, on the hour so the cache key holds all hour
        start_ms = (self._now_ms() // _HOUR_MS - count) * _HOUR_MS
        rows = await self.raw.funding_history(coin, start_ms)
        if not rows:
            raise InvalidSymbol(PROVIDER, "fundingHistory", f"no funding history for {coin}: not a listed coin")
        return tuple(to_funding(r, instrument.canonical) for r in rows[-count:])

    async def open_interest(self, instrument: Instrument) -> OpenInterest:
        ctx = await self._ctx(instrument)
        return OpenInterest(
            symbol=instrument.canonical,
            coins=ctx.open_interest,
            usd=ctx.open_interest * ctx.mark_px,
            time=utc_from_ms(self._now_ms()),
        )

    async def order_book(self, instrument: Instrument, depth: int) -> OrderBook:
        book = await self.raw.l2_book(instrument.for_provider(PROVIDER))
        return OrderBook(
            symbol=instrument.canonical,
            bids=book.bids[:depth],
            asks=book.asks[:depth],
            time=book.time,
        )


def build(deps: ProviderDeps) -> MarketProvider | None:
    return HyperliquidMarket(HyperliquidClient(deps.http(PROVIDER, hyperliquid_error_hook), deps.ttls))
