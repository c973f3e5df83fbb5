"""Screeners over the whole USD-M universe, pure: gainers, losers, volume, funding extremes, OI leaders.

Input is what the all-symbol endpoints answered, per venue (tickers, funding, open interest) plus
CoinGecko's market facts. One row per symbol merges its venues:

- price and 24 h change come from the venue with the most quote volume (``price_venue``): the deepest
  market sets the price a trader sees;
- quote volume and open interest (USD) are sums over the venues that report them, and each names its venues,
  so a sum over two venues is never mistaken for the whole market;
- funding is kept per venue (8 h-equivalent percent) because the extremes are venue-specific: FUNDING_HIGH
  ranks by a symbol's highest venue rate, FUNDING_LOW by its lowest.

A symbol without the figure a kind ranks by is left out of that ranking (never ranked as zero).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.listings import coin_symbol

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from engine.listings import CoinMarket
    from engine.market import FundingRate, OpenInterest, Ticker24h


class ScreenKind(enum.Enum):
    GAINERS = "GAINERS"
    LOSERS = "LOSERS"
    VOLUME = "VOLUME"
    FUNDING_HIGH = "FUNDING_HIGH"
    FUNDING_LOW = "FUNDING_LOW"
    OPEN_INTEREST = "OPEN_INTEREST"


@dataclass(frozen=True, slots=True)
class VenueFunding:
    venue: str
    rate_8h_pct: float  # the venue's rate expressed per 8 h, in percent
    interval_hours: float
    note: str | None = None  # why the interval is assumed, when it is


@dataclass(frozen=True, slots=True)
class ScreenerRow:
    symbol: str
    base_asset: str
    price_venue: str
    last_price: float
    change_24h_pct: float
    quote_volume_usd: float
    volume_venues: tuple[str, ...]
    open_interest_usd: float | None
    open_interest_venues: tuple[str, ...]
    funding: tuple[VenueFunding, ...]
    coin: CoinMarket | None

    @property
    def funding_high(self) -> VenueFunding | None:
        return max(self.funding, key=lambda f: f.rate_8h_pct, default=None)

    @property
    def funding_low(self) -> VenueFunding | None:
        return min(self.funding, key=lambda f: f.rate_8h_pct, default=None)


def merge_universe(
    tickers: Mapping[str, Mapping[str, Ticker24h]],
    funding: Mapping[str, Mapping[str, FundingRate]],
    open_interest: Mapping[str, Mapping[str, OpenInterest]],
    coins: Mapping[str, CoinMarket],
) -> list[ScreenerRow]:
    """One row per symbol that some venue's ticker lists (venue → symbol → value inputs; ``coins`` by
    upper-case coin symbol, see :func:`engine.listings.coins_by_base`)."""
    by_symbol: dict[str, list[tuple[str, Ticker24h]]] = {}
    for venue in sorted(tickers):
        for symbol, ticker in tickers[venue].items():
            by_symbol.setdefault(symbol, []).append((venue, ticker))
    rows: list[ScreenerRow] = []
    for symbol, quotes in by_symbol.items():
        venue, lead = max(quotes, key=lambda q: q[1].quote_volume)
        oi = [(v, answer[symbol].usd) for v, answer in sorted(open_interest.items()) if symbol in answer]
        oi_known = [(v, usd) for v, usd in oi if usd is not None]
        rates = tuple(
            VenueFunding(v, answer[symbol].percent_8h, answer[symbol].interval_hours, answer[symbol].interval_note)
            for v, answer in sorted(funding.items())
            if symbol in answer
        )
        base = _base(symbol)
        rows.append(
            ScreenerRow(
                symbol=symbol,
                base_asset=base,
                price_venue=venue,
                last_price=lead.last_price,
                change_24h_pct=lead.price_change_pct,
                quote_volume_usd=sum(t.quote_volume for _, t in quotes),
                volume_venues=tuple(v for v, _ in quotes),
                open_interest_usd=sum(usd for _, usd in oi_known) if oi_known else None,
                open_interest_venues=tuple(v for v, _ in oi_known),
                funding=rates,
                coin=coins.get(coin_symbol(base)),
            )
        )
    return rows


def _base(symbol: str) -> str:
    return symbol[: -len("USDT")] if symbol.endswith("USDT") else symbol


_RANKING: dict[ScreenKind, tuple[Callable[[ScreenerRow], float | None], bool]] = {
    ScreenKind.GAINERS: (lambda r: r.change_24h_pct, True),
    ScreenKind.LOSERS: (lambda r: r.change_24h_pct, False),
    ScreenKind.VOLUME: (lambda r: r.quote_volume_usd, True),
    ScreenKind.FUNDING_HIGH: (lambda r: f.rate_8h_pct if (f := r.funding_high) else None, True),
    ScreenKind.FUNDING_LOW: (lambda r: f.rate_8h_pct if (f := r.funding_low) else None, False),
    ScreenKind.OPEN_INTEREST: (lambda r: r.open_interest_usd, True),
}


def ranking_value(row: ScreenerRow, kind: ScreenKind) -> float | None:
    """The figure ``kind`` ranks ``row`` by, or ``None`` when the row lacks it."""
    return _RANKING[kind][0](row)


@dataclass(frozen=True, slots=True)
class ScreenOutcome:
    """The ranked rows and how many symbols were screened, filtered out, or lacked the figure."""

    rows: tuple[ScreenerRow, ...]
    screened: int
    below_min_volume: int
    without_figure: int


def screen(rows: Sequence[ScreenerRow], kind: ScreenKind, limit: int, min_quote_volume_usd: float) -> ScreenOutcome:
    """The top ``limit`` rows for ``kind`` among those with at least ``min_quote_volume_usd`` of 24 h volume;
    ties broken by quote volume, then symbol, so the order is deterministic."""
    value, descending = _RANKING[kind]
    liquid = [r for r in rows if r.quote_volume_usd >= min_quote_volume_usd]
    ranked = [(v, r) for r in liquid if (v := value(r)) is not None]
    sign = -1.0 if descending else 1.0
    ranked.sort(key=lambda item: (sign * item[0], -item[1].quote_volume_usd, item[1].symbol))
    return ScreenOutcome(
        rows=tuple(r for _, r in ranked[:limit]),
        screened=len(rows),
        below_min_volume=len(rows) - len(liquid),
        without_figure=len(liquid) - len(ranked),
    )
