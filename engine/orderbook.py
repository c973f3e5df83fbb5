"""Whale walls and book imbalance on one venue's order book: pure arithmetic on :class:`OrderBook`.

The definitions, made exact so that every number can be checked by hand:

- ``mid`` = (best bid + best ask) / 2; a level's *distance* is ``|price - mid| / mid`` in percent.
- The *band* is every level, bids and asks, within ``band_pct`` percent of mid.
- The *average level size* is the mean size (in coins) of the levels inside the band, both sides together:
  one yardstick for the book around the price, so a side that is thick everywhere shows no walls of its own.
- A *wall* is a level inside the band whose size is at least ``wall_multiple`` x that average (5x by
  default, the predecessor's rule). It carries its price, size, USD(T) notional, side, distance and
  multiple. Walls are sorted nearest to mid first.
- *Imbalance* within X % of mid: the USD(T) notional of the bids and of the asks within X %, and
  ``(bid - ask) / (bid + ask)`` in -1..1 (positive: more resting bids). ``complete`` says whether the book
  the venue sent reaches X % on both sides; when it does not, the sums cover only the levels sent
  (a few hundred levels of a deep, finely ticked book can stop well inside 2 %), and the answer says so.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from engine.market import OrderBook

DEFAULT_WALL_MULTIPLE = 5.0
DEFAULT_BAND_PCT = 2.0
IMBALANCE_BANDS_PCT = (0.5, 2.0)


class BookSide(enum.Enum):
    BID = "BID"
    ASK = "ASK"


class EmptyBook(ValueError):
    """A side of the book has no level, so there is no mid price to measure from."""


@dataclass(frozen=True, slots=True)
class Wall:
    side: BookSide
    price: float
    size: float  # coins
    notional_usd: float  # price x size, in the quote (USDT)
    distance_pct: float  # |price - mid| / mid x 100
    multiple: float  # size / the band's average level size


@dataclass(frozen=True, slots=True)
class Imbalance:
    band_pct: float
    bid_usd: float
    ask_usd: float
    ratio: float | None  # (bid - ask) / (bid + ask); None when the band holds nothing
    complete: bool  # the book sent reaches band_pct on both sides


@dataclass(frozen=True, slots=True)
class BookAnalysis:
    symbol: str
    time: datetime
    best_bid: float
    best_ask: float
    mid: float
    spread_pct: float
    bid_levels: int
    ask_levels: int
    reach_pct: float  # how far from mid the shallower side of the book sent reaches
    band_pct: float
    wall_multiple: float
    levels_in_band: int
    average_level_size: float | None  # None when no level lies in the band
    walls: tuple[Wall, ...]
    imbalances: tuple[Imbalance, ...]

    def imbalance(self, band_pct: float) -> Imbalance | None:
        return next((i for i in self.imbalances if i.band_pct == band_pct), None)


def _distance_pct(price: float, mid: float) -> float:
    return abs(price - mid) / mid * 100.0


def analyze_book(
    book: OrderBook,
    *,
    wall_multiple: float = DEFAULT_WALL_MULTIPLE,
    band_pct: float = DEFAULT_BAND_PCT,
    imbalance_bands_pct: Sequence[float] = IMBALANCE_BANDS_PCT,
) -> BookAnalysis:
    """Walls within ``band_pct`` of mid and the imbalance within each of ``imbalance_bands_pct``.

    Levels are read as the venue sent them (best first); a level of size zero (a venue's deletion
    marker) is skipped. Raises :class:`EmptyBook` when a side is empty, ``ValueError`` on a bad parameter.
    """
    if wall_multiple <= 0 or band_pct <= 0 or any(b <= 0 for b in imbalance_bands_pct):
        raise ValueError("wall_multiple, band_pct and the imbalance bands must be positive")
    bids = [(p, s) for p, s in book.bids if s > 0]
    asks = [(p, s) for p, s in book.asks if s > 0]
    if not bids or not asks:
        raise EmptyBook(f"{book.symbol}: the book has no {'bids' if not bids else 'asks'}")
    best_bid = max(p for p, _ in bids)
    best_ask = min(p for p, _ in asks)
    mid = (best_bid + best_ask) / 2.0
    # price bounds instead of a distance per level: one comparison each (the same set up to the last ulp)
    bid_floor, ask_cap = mid * (1.0 - band_pct / 100.0), mid * (1.0 + band_pct / 100.0)
    band_bids = [(p, s) for p, s in bids if bid_floor <= p <= ask_cap]  # both bounds: a crossed book stays honest
    band_asks = [(p, s) for p, s in asks if bid_floor <= p <= ask_cap]
    count = len(band_bids) + len(band_asks)
    average = (sum(s for _, s in band_bids) + sum(s for _, s in band_asks)) / count if count else None
    walls: list[Wall] = []
    if average is not None and average > 0:
        threshold = wall_multiple * average
        for side, levels in ((BookSide.BID, band_bids), (BookSide.ASK, band_asks)):
            walls.extend(
                Wall(side, p, s, p * s, _distance_pct(p, mid), s / average) for p, s in levels if s >= threshold
            )
        walls.sort(key=lambda w: (w.distance_pct, w.side.value))
    reach_bid = _distance_pct(min(p for p, _ in bids), mid)
    reach_ask = _distance_pct(max(p for p, _ in asks), mid)
    imbalances = tuple(_imbalance(bids, asks, mid, band, reach_bid, reach_ask) for band in imbalance_bands_pct)
    return BookAnalysis(
        symbol=book.symbol,
        time=book.time,
        best_bid=best_bid,
        best_ask=best_ask,
        mid=mid,
        spread_pct=(best_ask - best_bid) / mid * 100.0,
        bid_levels=len(bids),
        ask_levels=len(asks),
        reach_pct=min(reach_bid, reach_ask),
        band_pct=band_pct,
        wall_multiple=wall_multiple,
        levels_in_band=count,
        average_level_size=average,
        walls=tuple(walls),
        imbalances=imbalances,
    )


def _imbalance(
    bids: list[tuple[float, float]],
    asks: list[tuple[float, float]],
    mid: float,
    band: float,
    reach_bid: float,
    reach_ask: float,
) -> Imbalance:
    bid_floor, ask_cap = mid * (1.0 - band / 100.0), mid * (1.0 + band / 100.0)
    bid_usd = sum(p * s for p, s in bids if bid_floor <= p <= ask_cap)
    ask_usd = sum(p * s for p, s in asks if bid_floor <= p <= ask_cap)
    total = bid_usd + ask_usd
    ratio = (bid_usd - ask_usd) / total if total > 0 else None
    return Imbalance(band, bid_usd, ask_usd, ratio, complete=reach_bid >= band and reach_ask >= band)


def nearest_walls(analysis: BookAnalysis, within_pct: float) -> tuple[Wall, ...]:
    """The walls within ``within_pct`` of mid, nearest first (the scalping view's "walls nearby")."""
    return tuple(w for w in analysis.walls if w.distance_pct <= within_pct)
