"""New listings across venues and CoinGecko's market facts, pure (no I/O).

Stable API (helper D's ``mssScan`` builds on it; keep these names and fields):

- :class:`VenueListing`: one venue's listing of one symbol (what a listing endpoint says).
- :class:`Listing`: a listing as answered: symbol, venue, ``listed_at`` (UTC), ``age_hours`` from the
  service clock, status, which other venues list it, and first-day / since-listing figures where derivable.
- :class:`CoinMarket`: one CoinGecko ``coins/markets`` row (market cap, FDV, supply) in our vocabulary.
- :func:`new_listings`: the listings younger than a window, newest first.
- :func:`listing_performance`: first-day and since-listing change and volume from hourly candles.
- :func:`coin_for_base` / :func:`coins_by_base` / :func:`coin_symbol`: the CoinGecko coin for a perpetual's
  base asset (``1000PEPE`` → ``PEPE``; of coins sharing a symbol, the best market-cap rank wins).

Listing times are the venues' own: Binance ``onboardDate``, OKX ``listTime``, Bybit ``launchTime``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from engine.market import Candle

FIRST_DAY = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class VenueListing:
    """One venue's listing of one symbol: ``listed_at`` is ``None`` when the venue publishes no date."""

    symbol: str  # canonical, BTCUSDT
    venue: str
    listed_at: datetime | None
    status: str
    base_asset: str = ""


@dataclass(frozen=True, slots=True)
class ListingPerformance:
    """Price and volume since listing, from hourly candles starting at the listing hour.

    ``first_day_complete`` is False while the listing is younger than 24 h (the first-day figures are
    then "so far"). Volumes are in quote currency (USDT).
    """

    first_price: float
    last_price: float
    since_listing_change_pct: float
    since_listing_quote_volume: float | None
    first_day_change_pct: float
    first_day_quote_volume: float | None
    first_day_complete: bool


@dataclass(frozen=True, slots=True)
class Listing:
    """A listing as answered. ``also_listed_on``: the other venues that list the symbol; ``not_listed_on``:
    the others that answered without it; ``unknown_on``: the others whose listing could not be read.
    ``performance`` is ``None`` with ``performance_missing`` saying why when it could not be derived."""

    symbol: str
    venue: str
    listed_at: datetime
    age_hours: float
    status: str
    base_asset: str
    also_listed_on: tuple[str, ...]
    not_listed_on: tuple[str, ...]
    unknown_on: tuple[str, ...]
    performance: ListingPerformance | None = None
    performance_missing: str | None = None

    def with_performance(self, performance: ListingPerformance | None, missing: str | None = None) -> Listing:
        return replace(self, performance=performance, performance_missing=None if performance else missing)


@dataclass(frozen=True, slots=True)
class CoinMarket:
    """A CoinGecko ``coins/markets`` row; CoinGecko's nulls stay ``None`` (unknown, not zero)."""

    coin_id: str
    symbol: str  # upper case, as perpetual bases are spelled (CoinGecko sends lower case)
    name: str
    price_usd: float | None
    market_cap_usd: float | None
    market_cap_rank: int | None
    fdv_usd: float | None
    total_volume_usd: float | None
    circulating_supply: float | None
    total_supply: float | None
    max_supply: float | None
    last_updated: datetime | None

    @property
    def circulating_share(self) -> float | None:
        """Circulating over total supply (0..1): how much is still to unlock; ``None`` when unknown."""
        total = self.total_supply or self.max_supply
        if self.circulating_supply is None or not total:
            return None
        return self.circulating_supply / total


def new_listings(
    listings: Mapping[str, Mapping[str, VenueListing]],
    now: datetime,
    within: timedelta,
    unavailable: Iterable[str] = (),
) -> list[Listing]:
    """Every venue's listings younger than ``within`` at ``now``, newest first (ties by symbol, venue).

    ``listings`` is venue → symbol → listing, for the venues that answered; ``unavailable`` names the venues
    asked whose listing failed (they appear in ``unknown_on``). A listing dated after ``now`` (a venue
    announcing a future launch) has age 0 and is kept: it is the newest there is.
    """
    failed = tuple(sorted(set(unavailable)))
    answered = tuple(sorted(listings))
    found: list[Listing] = []
    for venue, by_symbol in listings.items():
        for row in by_symbol.values():
            if row.listed_at is None:
                continue
            age = now - row.listed_at
            if age > within:
                continue
            others = tuple(v for v in answered if v != venue)
            found.append(
                Listing(
                    symbol=row.symbol,
                    venue=venue,
                    listed_at=row.listed_at,
                    age_hours=max(age.total_seconds(), 0.0) / 3600.0,
                    status=row.status,
                    base_asset=row.base_asset,
                    also_listed_on=tuple(v for v in others if row.symbol in listings[v]),
                    not_listed_on=tuple(v for v in others if row.symbol not in listings[v]),
                    unknown_on=failed,
                )
            )
    found.sort(key=lambda item: (-item.listed_at.timestamp(), item.symbol, item.venue))
    return found


def listing_performance(candles: Sequence[Candle], listed_at: datetime, now: datetime) -> ListingPerformance | None:
    """First-day and since-listing figures from oldest-first hourly candles, or ``None`` when the series
    does not reach back to the listing hour (a venue serving fewer bars than the listing's age): figures
    from a later start would not be "since listing"."""
    bars = [c for c in candles if c.open_time <= now]
    if not bars or bars[0].open_time > listed_at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1):
        return None
    first_day_end = listed_at + FIRST_DAY
    first_day = [c for c in bars if c.open_time < first_day_end]
    if not first_day or bars[0].open <= 0:
        return None
    first = bars[0].open
    return ListingPerformance(
        first_price=first,
        last_price=bars[-1].close,
        since_listing_change_pct=(bars[-1].close / first - 1.0) * 100.0,
        since_listing_quote_volume=_quote_volume(bars),
        first_day_change_pct=(first_day[-1].close / first - 1.0) * 100.0,
        first_day_quote_volume=_quote_volume(first_day),
        first_day_complete=now >= first_day_end,
    )


def _quote_volume(bars: Sequence[Candle]) -> float | None:
    """Quote volume of ``bars``; ``None`` when any bar lacks it (a partial sum would understate)."""
    total = 0.0
    for bar in bars:
        if bar.quote_volume is None:
            return None
        total += bar.quote_volume
    return total


def coin_for_base(markets: Iterable[CoinMarket], base: str) -> CoinMarket | None:
    """The coin whose symbol is ``base`` (case-insensitive); of several (symbols are not unique on
    CoinGecko), the one with the best market-cap rank, since a perpetual is listed for the big one.
    Perpetual bases with a multiplier prefix (``1000PEPE``, ``1000000MOG``) match the coin without it."""
    wanted = coin_symbol(base)
    best: CoinMarket | None = None
    for coin in markets:
        if coin.symbol.upper() != wanted:
            continue
        if best is None or _rank(coin) < _rank(best):
            best = coin
    return best


def coins_by_base(markets: Iterable[CoinMarket]) -> dict[str, CoinMarket]:
    """Every coin by upper-case symbol, the best market-cap rank winning a shared symbol."""
    table: dict[str, CoinMarket] = {}
    for coin in markets:
        key = coin.symbol.upper()
        if key not in table or _rank(coin) < _rank(table[key]):
            table[key] = coin
    return table


def _rank(coin: CoinMarket) -> int:
    return coin.market_cap_rank if coin.market_cap_rank is not None else 1 << 30


def coin_symbol(base: str) -> str:
    """A perpetual's base as CoinGecko spells the coin's symbol (upper case, multiplier prefix removed)."""
    base = base.upper()
    for prefix in ("1000000", "10000", "1000", "1M"):
        if base.startswith(prefix) and len(base) > len(prefix):
            return base[len(prefix) :]
    return base
