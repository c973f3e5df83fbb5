"""Closed sets as GraphQL enums, each value described.

The engine's enums (``Mode``, ``Timeframe``, ``FactorName`` ...) stay free of GraphQL: :func:`described`
registers one with Strawberry and attaches a description to each of its values here, where the schema
is written. Enums the engine has no class for (the venue names, the aggressor side) are defined here.

Inputs that accept aliases stay ``String`` arguments (``interval: "4h"`` or ``"H4"``, ``venue:
"Binance"``), so documents clients already send keep validating; what the server *answers* uses these
enums.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, TypeVar

import strawberry

from engine import FactorName, InputName, Mode, Recommendation, Tier
from engine.market import CandleInterval, PositionSide, Timeframe
from engine.outcomes import Verdict
from resolvers.exchange import Capability

if TYPE_CHECKING:
    from collections.abc import Mapping

    from strawberry.types.enum import StrawberryEnumDefinition

E = TypeVar("E", bound=enum.Enum)


def described(
    cls: type[E],
    name: str,
    description: str,
    values: Mapping[E, str] | Mapping[str, str],
    *,
    graphql_name_from: str = "key",
) -> type[E]:
    """``cls`` as the GraphQL enum ``name``, with a description on the type and on every value in ``values``
    (keyed by member or member name; a value left out stays undescribed, and
    tests/test_schema_descriptions.py says which)."""
    wrapped = strawberry.enum(cls, name=name, description=description, graphql_name_from=graphql_name_from)  # type: ignore[call-overload]
    definition: StrawberryEnumDefinition = wrapped.__strawberry_definition__
    by_name = {(key if isinstance(key, str) else key.name): text for key, text in values.items()}
    for value in definition.values:
        member = next(m for m in cls if m.value == value.value)
        value.description = by_name.get(member.name)
    return wrapped  # type: ignore[no-any-return]


class Venue(enum.Enum):
    """Every exchange and data vendor the server knows (``providers.registry``); the GraphQL names are
    the lowercase names the API has always answered with and accepts as ``venue``/``name`` strings."""

    BINANCE = "binance"
    BYBIT = "bybit"
    OKX = "okx"
    HYPERLIQUID = "hyperliquid"
    COINGLASS = "coinglass"
    COINAPI = "coinapi"
    LUNARCRUSH = "lunarcrush"
    COINGECKO = "coingecko"
    ALTERNATIVE_ME = "alternative_me"


class TakerSide(enum.Enum):
    """The aggressor of a trade."""

    BUY = "BUY"
    SELL = "SELL"


RecommendationEnum = described(
    Recommendation,
    "Recommendation",
    "What the score says, against the mode's thresholds.",
    {
        Recommendation.LONG: "Score at or above the mode's longMin: the factors favour a long position.",
        Recommendation.SHORT: "Score at or below the mode's shortMax: the factors favour a short position.",
        Recommendation.NEUTRAL: "Score between the thresholds: no trade suggested.",
    },
)
ModeEnum = described(
    Mode,
    "Mode",
    "Threshold set: CONSERVATIVE (LONG ≥ 60, SHORT ≤ 40), AGGRESSIVE (55/45, default), ULTRA (52/48), "
    "or CALIBRATED (the fitted model's probabilityUp against its own thresholds; opt-in, see the model query).",
    {
        Mode.CONSERVATIVE: "LONG at score ≥ 60, SHORT at ≤ 40: fewest, strongest calls.",
        Mode.AGGRESSIVE: "LONG at score ≥ 55, SHORT at ≤ 45 (the default).",
        Mode.ULTRA: "LONG at score ≥ 52, SHORT at ≤ 48: most calls, weakest edges.",
        Mode.CALIBRATED: "LONG when the fitted model's probabilityUp clears its long threshold, SHORT when it is "
        "at or below its short threshold (both chosen on earlier data; a side without one makes no calls). 4h "
        "only. Opt-in: out of sample it has not beaten always-long (see the model query and README).",
    },
)
TimeframeEnum = described(
    Timeframe,
    "Timeframe",
    "The signal's candle interval, also the period of its ratio and open-interest inputs: M15, H1, H4 (default), D1.",
    {
        Timeframe.M15: "15-minute candles.",
        Timeframe.H1: "1-hour candles.",
        Timeframe.H4: "4-hour candles (the default).",
        Timeframe.D1: "1-day candles (UTC days).",
    },
)
CandleIntervalEnum = described(
    CandleInterval,
    "CandleInterval",
    "A candle interval (arguments take the short form too: 1m, 4h, 1d). Days and weeks start 00:00 UTC; "
    "weeks on Monday.",
    {
        CandleInterval.M1: "1 minute (1m).",
        CandleInterval.M3: "3 minutes (3m).",
        CandleInterval.M5: "5 minutes (5m).",
        CandleInterval.M15: "15 minutes (15m).",
        CandleInterval.M30: "30 minutes (30m).",
        CandleInterval.H1: "1 hour (1h).",
        CandleInterval.H2: "2 hours (2h).",
        CandleInterval.H4: "4 hours (4h).",
        CandleInterval.H6: "6 hours (6h).",
        CandleInterval.H12: "12 hours (12h).",
        CandleInterval.D1: "1 day (1d).",
        CandleInterval.W1: "1 week (1w).",
    },
)
FactorNameEnum = described(
    FactorName,
    "FactorName",
    "The eight factors of a signal, heaviest weight first (nominal weights in percent in parentheses).",
    {
        FactorName.LIQUIDATIONS: "Long vs short liquidations (USD) over recent hours (24 %).",
        FactorName.MOMENTUM: "Price momentum from the timeframe's candles (20 %).",
        FactorName.FUNDING: "The funding rate, as its 8-hour equivalent in percent (18 %).",
        FactorName.LONG_SHORT: "Share of all accounts long vs short (11 %).",
        FactorName.SMART_MONEY: "Top traders' long vs short positions (11 %).",
        FactorName.OI_TREND: "Change of open interest over 24 h, in percent (6 %).",
        FactorName.SOCIAL: "Social sentiment (6 %).",
        FactorName.FEAR_GREED: "The market-wide Fear & Greed index, 0..100 (4 %).",
    },
)
TierEnum = described(
    Tier,
    "Tier",
    "How much an input matters to data quality.",
    {
        Tier.CRITICAL: "Needed for any signal: without it the data quality is too low.",
        Tier.IMPORTANT: "Counts toward data quality; the signal can do without some.",
        Tier.OPTIONAL: "Improves the signal; never counts toward data quality.",
    },
)
InputNameEnum = described(
    InputName,
    "InputName",
    "One market input the engine reads before scoring.",
    {
        InputName.PRICE: "The last traded price (USDT).",
        InputName.CANDLES: "Recent candles of the timeframe.",
        InputName.FUNDING: "Funding rates across venues.",
        InputName.GLOBAL_LONG_SHORT: "Share of all accounts long vs short.",
        InputName.TOP_TRADER_POSITIONS: "Top traders' long/short position ratio.",
        InputName.OPEN_INTEREST: "Open interest now and 24 h ago.",
        InputName.LIQUIDATIONS: "Liquidations over the timeframe.",
        InputName.SOCIAL: "Social sentiment.",
        InputName.FEAR_GREED: "The Fear & Greed index.",
    },
)
VerdictEnum = described(
    Verdict,
    "Verdict",
    "WIN above +0.1 % in the signal's direction, LOSS below -0.1 %, else FLAT.",
    {
        Verdict.WIN: "The price moved more than +0.1 % in the signal's direction.",
        Verdict.LOSS: "The price moved more than 0.1 % against the signal.",
        Verdict.FLAT: "The move stayed within ±0.1 %; counted as not a win.",
    },
)
PositionSideEnum = described(
    PositionSide,
    "PositionSide",
    "The side of a position (for a liquidation: the position that was closed by force).",
    {
        PositionSide.LONG: "A long position (its forced close is a sell).",
        PositionSide.SHORT: "A short position (its forced close is a buy).",
    },
)
TakerSideEnum = described(
    TakerSide,
    "TakerSide",
    "The aggressor of a trade: who crossed the spread.",
    {TakerSide.BUY: "The taker bought (lifted the ask).", TakerSide.SELL: "The taker sold (hit the bid)."},
)
VenueEnum = described(
    Venue,
    "Venue",
    "An exchange or data vendor this server knows, by the lowercase name it answers with (see `exchanges` "
    "for which are enabled).",
    {
        Venue.BINANCE: "Binance USDⓈ-M futures.",
        Venue.BYBIT: "Bybit linear perpetuals.",
        Venue.OKX: "OKX USDT swaps.",
        Venue.HYPERLIQUID: "Hyperliquid perpetuals (USDC-margined, quoted as USDT here).",
        Venue.COINGLASS: "CoinGlass aggregated derivatives data (needs a key).",
        Venue.COINAPI: "CoinAPI market data (needs a key).",
        Venue.LUNARCRUSH: "LunarCrush social data (needs a key).",
        Venue.COINGECKO: "CoinGecko market data.",
        Venue.ALTERNATIVE_ME: "alternative.me, the Fear & Greed index.",
    },
    graphql_name_from="value",
)
CapabilityEnum = described(
    Capability,
    "Capability",
    "What a provider can serve; ask `exchange(name)` only for what its capabilities list.",
    {
        "TICKER": "Last price, 24 h change and volume of one symbol.",
        "TICKERS": "Every symbol's ticker in one upstream call (batching).",
        "CANDLES": "OHLCV candles (`exchange { candles }`).",
        "FUNDING": "The current funding rate (`exchange { funding }`).",
        "FUNDINGS": "Many symbols' funding in one upstream call (batching).",
        "FUNDING_HISTORY": "Settled funding rates (`exchange { fundingHistory }`).",
        "OPEN_INTEREST": "Current open interest (`exchange { openInterest }`).",
        "OPEN_INTERESTS": "Many symbols' open interest with shared upstream calls (batching).",
        "OPEN_INTEREST_HISTORY": "Open interest history (`exchange { openInterestHistory }`).",
        "LONG_SHORT_RATIO": "Global account long/short ratio.",
        "TOP_TRADER_POSITIONS": "Top traders' long/short position ratio.",
        "LIQUIDATIONS": "Individual forced liquidations.",
        "LIQUIDATION_TOTALS": "Liquidation totals per period (long and short, USD).",
        "ORDER_BOOK": "Order book depth.",
        "TRADES": "Recent trades.",
        "SOCIAL": "Social sentiment.",
        "FEAR_GREED": "The Fear & Greed index.",
        "INSTRUMENTS": "The venue's listing of tradable USDT perpetuals.",
        "OPEN_INTEREST_ALL": "Every symbol's open interest in one upstream call (universe scans).",
        "FUNDING_ALL": "Every symbol's funding from a fixed handful of upstream calls (universe scans).",
        "COIN_MARKETS": "Market cap, fully diluted valuation and supply by coin (CoinGecko coins/markets).",
        "SOCIAL_METRICS": "A coin's social numbers: Galaxy Score, AltRank, sentiment, social volume, community.",
        "TRENDING": "The vendor's trending coins, most searched first (CoinGecko search/trending).",
        "COIN_DETAILS": "One coin's FDV, supplies and social numbers from one answer (CoinGecko coins/{id}).",
    },
)
