"""Hyperliquid perpetuals on the common :class:`~providers.venue.MarketProvider` interface: the raw
client's venue models, converted by :mod:`providers.hyperliquid.domain`.

Hyperliquid has no public liquidation feed (liquidations are ordinary fills against the liquidator
vault), so this adapter has no ``LIQUIDATIONS`` capability.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from engine.market import CandleInterval, FundingRate, OpenInterest, Ticker24h, utc_from_ms
from providers._shared import PERPETUALS_CORE, ExchangeVenue
from providers.errors import InvalidSymbol
from providers.hyperliquid import domain
from providers.hyperliquid.domain import FUNDING_INTERVAL_HOURS, INTERVALS, PROVIDER
from providers.hyperliquid.raw import MAX_CANDLES, MAX_FUNDING_ROWS, HyperliquidClient, hyperliquid_error_hook
from providers.normalize import clamp_limit
from providers.venue import Capability, MarketProvider, interval_code

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from engine.market import Candle, OrderBook, SymbolInfo
    from providers.hyperliquid.models import HyperliquidAssetCtx
    from providers.symbols import Instrument
    from providers.venue import ProviderDeps

DEFAULT_BASE_URL = "https://api.hyperliquid.xyz"
# Docs, "Rate limits and user limits": 1200 weight per minute per IP; l2Book weighs 2, most other
# /info reads (metaAndAssetCtxs, fundingHistory, candleSnapshot) 20 plus extra per items returned.
# 1200 / 20 = 1 heavy read per second; design for 0.8 to leave room for other clients on the host.
RATE_LIMIT_PER_SECOND = 0.8
_HOUR_MS = 3_600_000


class HyperliquidMarket(ExchangeVenue["HyperliquidClient"]):
    """Hyperliquid through the normalized interface. ``clock`` (epoch seconds) stamps context reads,
    which carry no time of their own, and anchors the candle and funding windows."""

    name = PROVIDER
    capabilities = PERPETUALS_CORE | {Capability.INSTRUMENTS}
    keyed = False

    def __init__(self, client: HyperliquidClient, clock: Callable[[], float] = time.time) -> None:
        super().__init__(client)
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
        count = clamp_limit(limit, MAX_CANDLES)
        # The window ends where the current candle closes, so the request body (and cache key) stays
        # the same for the life of a candle and still includes the candle in progress.
        end_ms = (self._now_ms() // step_ms + 1) * step_ms
        rows = await self.raw.candle_snapshot(coin, code, end_ms - count * step_ms, end_ms)
        if not rows:
            raise InvalidSymbol(PROVIDER, "candleSnapshot", f"no candles for {coin}: not a listed coin")
        return self._convert("candleSnapshot", rows, domain.to_candles)[-count:]

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

    async def instruments(self) -> Mapping[str, SymbolInfo]:
        """Every listed perpetual, from the same cached ``metaAndAssetCtxs`` read as ticker and funding."""
        return domain.to_listing(await self.raw.meta_and_asset_ctxs())

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
        count = clamp_limit(limit, MAX_FUNDING_ROWS)
        # one settlement an hour: start ``count`` hours back, on the hour so the cache key holds all hour
        start_ms = (self._now_ms() // _HOUR_MS - count) * _HOUR_MS
        rows = await self.raw.funding_history(coin, start_ms)
        if not rows:
            raise InvalidSymbol(PROVIDER, "fundingHistory", f"no funding history for {coin}: not a listed coin")
        return tuple(domain.to_funding(r, instrument.canonical) for r in rows[-count:])

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
        return domain.to_order_book(book, instrument.canonical, depth)


def build(deps: ProviderDeps) -> MarketProvider | None:
    return HyperliquidMarket(HyperliquidClient(deps.http(PROVIDER, hyperliquid_error_hook), deps.ttls))
