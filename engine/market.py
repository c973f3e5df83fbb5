"""The normalized market vocabulary shared by providers (which produce it) and the engine (which scores it).

Invariants every provider guarantees at its boundary, so nothing downstream re-checks them:

- Series are oldest-first (OKX and CoinAPI answer newest-first; the providers reverse them).
- Timestamps are timezone-aware UTC ``datetime`` objects.
- Funding is a *fraction per funding interval* with its ``interval_hours``; converting to percent or to
  an 8h-equivalent happens once, here, in :class:`FundingRate`.
- Candle series are split at a moment into *closed* bars and the *forming* one (:func:`split_candles`): a
  bar is closed when its end, ``open_time + interval``, is at or before the clock ("now" live, the
  cassette's clock in replay, the bar close in the backtest). Binance's ``closeTime`` is the bar's last
  millisecond, so a kline is closed when ``closeTime < now``. Closedness is a relation between a bar and
  a moment, not a property of the bar, so :class:`Candle` carries no flag (a flag on a cached value would
  go stale as the clock moves). The signal scores closed bars only; the forming bar is kept apart.
- Numbers are ``float``. Written decision: venues send prices and sizes as decimal strings with at most
  ~12 significant digits; an IEEE-754 double keeps 15, so ``float(text)`` is exact to the venue's
  precision and ``repr`` gives the venue's text back. Everything downstream is statistics (averages,
  ratios, thresholds), never ledger arithmetic, so ``Decimal`` would cost speed and buy nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Sequence


class Timeframe(enum.Enum):
    """The candle interval of a signal; also the period of the ratio and OI-history queries."""

    M15 = "15m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"

    @property
    def duration(self) -> timedelta:
        return _TIMEFRAME_DURATION[self]

    @classmethod
    def parse(cls, text: str) -> Timeframe:
        """Accept ``4h``, ``4H``, ``H4``; raise ``ValueError`` naming the valid choices otherwise."""
        cleaned = text.strip().lower()
        for member in cls:
            if cleaned in (member.value, member.name.lower()):
                return member
        choices = ", ".join(m.value for m in cls)
        raise ValueError(f"unknown timeframe {text!r}; expected one of {choices}")


_TIMEFRAME_DURATION = {
    Timeframe.M15: timedelta(minutes=15),
    Timeframe.H1: timedelta(hours=1),
    Timeframe.H4: timedelta(hours=4),
    Timeframe.D1: timedelta(days=1),
}


def utc_from_ms(epoch_ms: int | float | str) -> datetime:
    """Epoch milliseconds (number or numeric string) to an aware UTC datetime."""
    return datetime.fromtimestamp(int(epoch_ms) / 1000, tz=UTC)


@dataclass(frozen=True, slots=True)
class Candle:
    open_time: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float  # base-asset volume
    quote_volume: float | None = None


@dataclass(frozen=True, slots=True)
class CandleSeries:
    """A venue's oldest-first candles split at one moment: ``closed`` bars and the ``forming`` bar (or ``None``)."""

    closed: tuple[Candle, ...]
    forming: Candle | None


def split_candles(candles: Sequence[Candle], interval: timedelta, now: datetime) -> CandleSeries:
    """Split oldest-first ``candles`` of ``interval`` at ``now``: the one rule live, replay and backtest share.

    A bar is closed when ``open_time + interval <= now``. The forming bar is the one with
    ``open_time <= now < open_time + interval``; a bar that opens after ``now`` (a venue clock ahead of
    ours) is neither and is dropped, so no value from the future reaches the score.
    """
    closed = tuple(c for c in candles if c.open_time + interval <= now)
    forming = next((c for c in reversed(candles) if c.open_time <= now < c.open_time + interval), None)
    return CandleSeries(closed=closed, forming=forming)


@dataclass(frozen=True, slots=True)
class Ticker24h:
    symbol: str
    last_price: float
    price_change_pct: float
    high: float
    low: float
    volume: float
    quote_volume: float
    close_time: datetime


@dataclass(frozen=True, slots=True)
class FundingRate:
    """A funding rate as a fraction per interval, e.g. ``0.0001`` every 8 h (= 0.01 % per 8 h)."""

    symbol: str
    rate: float
    interval_hours: float
    time: datetime
    next_funding_time: datetime | None = None
    mark_price: float | None = None
    # why ``interval_hours`` is assumed rather than observed (the venue's default after a failed lookup);
    # ``None`` when observed. Readings report it next to the sources that failed.
    interval_note: str | None = None

    @property
    def rate_8h_equivalent(self) -> float:
        """The same carry expressed per 8 hours, as a fraction."""
        return self.rate * 8.0 / self.interval_hours

    @property
    def percent_8h(self) -> float:
        return self.rate_8h_equivalent * 100.0


@dataclass(frozen=True, slots=True)
class MarkPrice:
    symbol: str
    mark_price: float
    index_price: float
    last_funding_rate: float  # fraction per interval
    next_funding_time: datetime | None
    time: datetime


OpenInterestUnit = Literal["coin", "usd"]


@dataclass(frozen=True, slots=True)
class OpenInterestPoint:
    """Open interest at a time, in ``unit``: ``"coin"`` (base asset, free of price moves) where the venue
    gives coins, ``"usd"`` where it gives only notional (CoinGlass aggregated history). The unit travels
    with the number so every text about it (the OI-trend detail) says what the source measured."""

    time: datetime
    open_interest: float
    open_interest_usd: float | None = None
    unit: OpenInterestUnit = "coin"


@dataclass(frozen=True, slots=True)
class LongShortPoint:
    """Share of accounts (or of top traders' positions) that are long, as a percentage 0..100."""

    time: datetime
    long_pct: float
    long_short_ratio: float


@dataclass(frozen=True, slots=True)
class LiquidationTotals:
    """Liquidated USD by liquidated position side over a trailing window."""

    window: timedelta
    long_usd: float
    short_usd: float

    @property
    def long_share_pct(self) -> float | None:
        total = self.long_usd + self.short_usd
        return None if total <= 0 else self.long_usd / total * 100.0


@dataclass(frozen=True, slots=True)
class LiquidationBar:
    """Liquidated USD by liquidated position side over one bar, stamped at the bar's END: ``time`` is the
    moment the total is complete (the bar's open + its length). Venues that stamp bars with their open
    (CoinGlass) add the length at their domain boundary, so every bar in the service has one convention."""

    time: datetime
    long_usd: float
    short_usd: float


@dataclass(frozen=True, slots=True)
class FearGreed:
    value: float  # 0..100
    classification: str
    time: datetime


@dataclass(frozen=True, slots=True)
class SocialSentiment:
    """A 0..100 social score; ``kind`` says what it is (CoinGecko up-votes, LunarCrush Galaxy Score).

    ``time`` is when the source last updated the score (CoinGecko's ``last_updated``), ``None`` when the
    source does not say; the freshness rule judges a timed score by it.
    """

    score: float
    kind: str
    time: datetime | None = None


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    symbol: str  # canonical, e.g. BTCUSDT
    base_asset: str
    quote_asset: str
    status: str
    onboard_date: datetime | None
    contract_type: str
    # the venue's price increment (Binance PRICE_FILTER tickSize, Bybit priceFilter.tickSize, OKX tickSz);
    # None where the venue publishes none (Hyperliquid): prices are then shown by significant digits
    tick_size: float | None = None


class CandleInterval(enum.Enum):
    """Candle intervals of the multi-exchange API (a superset of :class:`Timeframe`)."""

    M1 = "1m"
    M3 = "3m"
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H2 = "2h"
    H4 = "4h"
    H6 = "6h"
    H12 = "12h"
    D1 = "1d"
    W1 = "1w"

    @property
    def duration(self) -> timedelta:
        unit = self.value[-1]
        amount = int(self.value[:-1])
        return {
            "m": timedelta(minutes=amount),
            "h": timedelta(hours=amount),
            "d": timedelta(days=amount),
            "w": timedelta(weeks=amount),
        }[unit]

    @classmethod
    def parse(cls, text: str) -> CandleInterval:
        """Accept ``4h``, ``4H``, ``H4``; raise ``ValueError`` naming the valid choices otherwise."""
        cleaned = text.strip()
        for member in cls:
            if cleaned.lower() in (member.value, member.name.lower()):
                return member
        raise ValueError(f"unknown interval {text!r}; expected one of {', '.join(m.value for m in cls)}")

    @classmethod
    def of(cls, timeframe: Timeframe) -> CandleInterval:
        return cls(timeframe.value)


class PositionSide(enum.Enum):
    LONG = "LONG"
    SHORT = "SHORT"


@dataclass(frozen=True, slots=True)
class OpenInterest:
    """Current open interest; ``usd`` is ``None`` where the venue gives no notional and no price is known."""

    symbol: str
    coins: float
    usd: float | None
    time: datetime


@dataclass(frozen=True, slots=True)
class Liquidation:
    """One forced liquidation, normalized to the *liquidated position's* side.

    Binance ``forceOrder`` gives the order side (SELL = a long was liquidated); Bybit ``allLiquidation``
    gives the position side (Buy = a long was liquidated); OKX sizes are contracts × ``ctVal``.
    """

    venue: str
    symbol: str
    side: PositionSide
    price: float
    size: float  # in coins
    time: datetime  # the venue's event time
    received_at: datetime | None = None  # our receipt time (streams)

    @property
    def usd(self) -> float:
        return self.price * self.size


@dataclass(frozen=True, slots=True)
class Trade:
    venue: str
    symbol: str
    taker_side: str  # "BUY" or "SELL": the aggressor
    price: float
    size: float  # in coins
    time: datetime  # the venue's event time
    received_at: datetime | None = None  # our receipt time (streams)

    @property
    def usd(self) -> float:
        return self.price * self.size


@dataclass(frozen=True, slots=True)
class OrderBook:
    """Price levels as ``(price, size in coins)``, best first."""

    symbol: str
    bids: tuple[tuple[float, float], ...]
    asks: tuple[tuple[float, float], ...]
    time: datetime


@dataclass(frozen=True, slots=True)
class CandleUpdate:
    """A streamed candle: the current (``closed=False``) or just-closed bar of one venue and interval."""

    venue: str
    symbol: str
    interval: CandleInterval
    candle: Candle
    closed: bool
    received_at: datetime
