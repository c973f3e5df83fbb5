"""What the engine is given: one reading per input, each saying where it came from or why it is missing.

The gateway in ``resolvers`` fills a :class:`MarketSnapshot` from the providers; the engine never
fetches. A reading that failed keeps the error text so the response can name exactly what is missing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from datetime import datetime

    from engine.market import (
        Candle,
        FearGreed,
        FundingRate,
        LiquidationTotals,
        LongShortPoint,
        OpenInterestPoint,
        SocialSentiment,
        Timeframe,
    )

T = TypeVar("T")


class Tier(enum.Enum):
    """How much an input matters to a signal; data quality counts CRITICAL and IMPORTANT inputs."""

    CRITICAL = "CRITICAL"
    IMPORTANT = "IMPORTANT"
    OPTIONAL = "OPTIONAL"


@dataclass(frozen=True, slots=True)
class Reading(Generic[T]):
    """One input value, or the reason it is missing.

    ``source`` names who answered (``binance.premiumIndex``) or, when missing, the last source tried.
    ``failed`` lists sources that were tried first and failed, as ``"name: error"`` strings.
    ``observed_at`` is when the venue says the value was true; the engine judges staleness from it.
    """

    value: T | None
    source: str | None
    error: str | None = None
    failed: tuple[str, ...] = ()
    observed_at: datetime | None = None

    @property
    def available(self) -> bool:
        return self.value is not None

    @classmethod
    def missing(cls, error: str, source: str | None = None, failed: tuple[str, ...] = ()) -> Reading[T]:
        return cls(value=None, source=source, error=error, failed=failed)


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """Everything the 8-factor score reads for one symbol at one moment (``as_of`` is "now").

    ``candles`` holds *closed* bars only (see :func:`engine.market.split_candles`), live and in the
    backtest alike, so both score the same bars for the same moment; the venue's still-forming bar,
    when there is one, is ``forming_candle``, for a feature that wants the partial bar explicitly.
    """

    symbol: str
    timeframe: Timeframe
    as_of: datetime
    price: Reading[float]
    candles: Reading[tuple[Candle, ...]]
    funding: Reading[FundingRate]
    global_long_short: Reading[LongShortPoint]
    top_trader_positions: Reading[LongShortPoint]
    open_interest: Reading[tuple[OpenInterestPoint, ...]]
    liquidations: Reading[LiquidationTotals]
    social: Reading[SocialSentiment]
    fear_greed: Reading[FearGreed]
    extra_failures: tuple[str, ...] = field(default=())
    forming_candle: Candle | None = None
