"""Hyperliquid ``/info`` response models. ``candleSnapshot`` and ``l2Book`` rows keep the venue's field
names; a ``metaAndAssetCtxs`` answer is two index-parallel lists, joined here into one model per coin
(:class:`HyperliquidAssetCtx`, snake_case because it is ours, not a wire object)."""

from __future__ import annotations

from providers._shared import VenueModel


class HyperliquidAssetCtx(VenueModel):
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


class HyperliquidFunding(VenueModel):
    coin: str
    funding_rate: float  # fraction per settlement interval (hourly since 2023-06-08)
    premium: float | None
    time_ms: int


class HyperliquidCandle(VenueModel):
    t: int  # open time (ms)
    T: int | None = None  # close time (ms)
    s: str = ""
    i: str = ""
    o: float
    c: float
    h: float
    l: float  # noqa: E741 - Hyperliquid's name
    v: float  # volume in coins
    n: int | None = None  # trades


class HyperliquidLevel(VenueModel):
    px: float
    sz: float  # coins
    n: int | None = None  # orders at the level; absent in some captures


class HyperliquidL2Book(VenueModel):
    coin: str
    levels: tuple[tuple[HyperliquidLevel, ...], tuple[HyperliquidLevel, ...]]  # bids, asks; best first
    time: int
