"""The trusted-document registry: every named GraphQL operation the REST shim offers.

One entry here is all a feature needs to appear on ``POST /invoke``, its ``GET /v1/...`` route,
``/openapi.json`` and the GPT action schema; the same documents are the allow-list of persisted queries
for ``/graphql``. Each document holds exactly one named operation with exactly one top-level field (its
*root field*, derived from the document, never repeated here).

Selections keep to what a caller (a person or a GPT) uses: long diagnostic lists such as
``dataQuality.sources`` stay out, and every union result selects ``__typename`` so a REST client can
tell a result from a ``Problem``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

from graphql import DocumentNode, FieldNode, GraphQLError, OperationDefinitionNode, parse, print_ast

from engine.market import CandleInterval
from resolvers.exchange import MAX_LIMIT
from resolvers.gateway import UNIVERSE_VENUES as _VENUE_NAMES
from resolvers.history import MAX_PAGE_SIZE
from resolvers.structure import MAX_RECENT
from resolvers.universe import MAX_LIMIT as MAX_SCREENER_ROWS
from resolvers.universe import MAX_SPIKES, MAX_WITHIN_HOURS

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")

_FACTOR = "name score weight effectiveWeight contribution available source rawValue detail error"
_SIGNAL_RESULT = f"""
    __typename
    ... on Signal {{
      id symbol recommendation score confidence mode timeframe price tickSize generatedAt probabilityUp
      calibration {{ longThreshold shortThreshold missingFeatures }}
      thresholds {{ shortMax longMin }}
      factors {{ {_FACTOR} }}
      topFactors {{ name score contribution detail }}
      dataQuality {{ score missing tiers {{ tier available expected }} }}
    }}
    ... on Problem {{ code message }}
    ... on InvalidInput {{ field }}
    ... on SymbolNotFound {{ symbol }}
    ... on InsufficientData {{ symbol missing quality: dataQuality {{ score }} }}
"""


# signals.get only: a batch of 50 with a verdict each would cost 200 (schema/cost.py) and up to 50 AI calls
_SIGNAL_TRADE = """    ... on Signal {
      plan { entry stop takeProfit atr atrPct sizeMultiplier riskMode }
      verdict { verdict riskMode decidedBy fallbackReason reason checks { name value passed } }
    }
"""


# What REST callers may pass for a symbol: every spelling :func:`providers.symbols.parse_symbol` reads as a
# USDT perpetual (BTC, btc, BTCUSDT, BTC-USDT, BTC/USDT, BTC-USDT-SWAP, BTCUSDT.P), so that anything the
# REST schema allows is a well-formed symbol (an unlisted one is 404, never 400).
SYMBOL_PATTERN = r"^[A-Za-z0-9]{1,20}([-/_]?[Uu][Ss][Dd][Tt])?(-[Ss][Ww][Aa][Pp]|\.[Pp])?$"
# A signalHistory position as REST shows it (signal_api.rest.cursors): ``<UTC time>Z_<row id>``. Exact: every
# calendar date (leap days included), time and UUID it matches is a position the history can page from.
_YEAR = r"(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_MONTH_DAY = r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
_DATE = rf"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{6})?Z"
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
CURSOR_PATTERN = rf"^{_DATE}T{_TIME}_{_UUID}$"
SYMBOL_TEXT = "Futures symbol such as BTCUSDT or btc; quote USDT is assumed (BTC-USDT, BTCUSDT.P also work)."


@dataclass(frozen=True)
class ParamDoc:
    """How REST callers should fill one variable: what to pass, and the bounds the REST schema states.

    The bounds only narrow what the GraphQL type allows, to the values the resolvers accept, so that every
    input the OpenAPI schema allows is answered (or is a documented 404) instead of refused with 400.
    """

    name: str
    description: str
    pattern: str | None = None
    min_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] | None = None  # a closed set behind a String variable (``interval``)


_SYMBOL = ParamDoc("symbol", SYMBOL_TEXT, pattern=SYMBOL_PATTERN)
_MODE = ParamDoc(
    "mode",
    "Risk mode: conservative (fewer, surer signals), aggressive (default), ultra (the most signals) or calibrated "
    "(BTC 4h only: the fitted model's probability; opt-in, see model.get).",
)
_UNIVERSE_VENUES = ParamDoc(
    "venues",
    "Comma-separated venues to include: binance, bybit, okx (leave out for all three).",
    choices=_VENUE_NAMES,
)
_TIMEFRAME = ParamDoc("timeframe", "Candle timeframe the signal is computed on: 15m, 1h, 4h (default) or 1d.")
# MSS as REST shows it: the phases and their inputs' values, points and reasons (sources stay in GraphQL)
_MSS_REPORT = """
      symbol total measurableMax totalLow totalHigh complete band tier missing categories
      phases { name points maxPoints passPoints available passes inputs { name value unit points error } }"""


@dataclass(frozen=True)
class Operation:
    """A named GraphQL operation exposed over REST.

    ``timeout_seconds`` is the operation's own default (the ``operation_timeouts`` setting overrides
    it, the ``rest_default_timeout_seconds`` setting applies when neither is set); ``gpt`` says whether
    it belongs in the GPT action schema (at most 30 operations there). ``summary`` is the one-line title
    (≤ 120 characters), ``description`` the rest (≤ 300), ``params`` what to pass for each variable.
    """

    name: str
    description: str
    document: str
    timeout_seconds: float | None = None
    gpt: bool = True
    summary: str = ""
    params: tuple[ParamDoc, ...] = ()

    def param_doc(self, name: str) -> ParamDoc | None:
        return next((doc for doc in self.params if doc.name == name), None)

    @cached_property
    def ast(self) -> DocumentNode:
        return parse(self.document)

    @cached_property
    def definition(self) -> OperationDefinitionNode:
        [definition] = [d for d in self.ast.definitions if isinstance(d, OperationDefinitionNode)]
        return definition

    @property
    def operation_name(self) -> str:
        assert self.definition.name is not None, f"{self.name}: the operation must be named"
        return self.definition.name.value

    @cached_property
    def root_field(self) -> str:
        """The response key of the document's single top-level field (its alias, else its name)."""
        [field] = self.definition.selection_set.selections
        assert isinstance(field, FieldNode), f"{self.name}: the top-level selection must be a field"
        return (field.alias or field.name).value

    @property
    def path(self) -> str:
        """The GET route: dots become slashes, ``signals.get`` → ``/v1/signals/get``."""
        return "/v1/" + self.name.replace(".", "/")

    @property
    def operation_id(self) -> str:
        """camelCase of the name: ``history.list`` → ``historyList``, ``exchange.funding_rates`` →
        ``exchangeFundingRates``."""
        head, *rest = re.split(r"[._]", self.name)
        return head + "".join(part[:1].upper() + part[1:] for part in rest)


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="signals.get",
        summary=(
            "LONG, SHORT or NEUTRAL signal for one USDT perpetual, with its score, confidence and the factors behind it"
        ),
        params=(_SYMBOL, _MODE, _TIMEFRAME),
        description=(
            "LONG / SHORT / NEUTRAL signal for one USDT perpetual (BTC, ETHUSDT) with score 0..100, confidence, "
            "factors, data quality; for LONG/SHORT an ATR plan (entry, stop, take-profit) and a verdict. "
            "mode: conservative | aggressive (default) | ultra | calibrated (BTC 4h); timeframe: 15m | 1h | 4h | 1d."
        ),
        document=f"""
query SignalsGet($symbol: String!, $mode: Mode! = AGGRESSIVE, $timeframe: Timeframe! = H4) {{
  signal(symbol: $symbol, mode: $mode, timeframe: $timeframe) {{{_SIGNAL_RESULT}{_SIGNAL_TRADE}  }}
}}
""",
    ),
    Operation(
        name="signals.batch",
        summary="Signals for several USDT perpetuals in one call: each item a signal or the reason there is none",
        params=(
            ParamDoc(
                "symbols",
                "Comma-separated futures symbols such as BTC,ETH,SOL (USDT quote assumed); up to 50 by default.",
                pattern=SYMBOL_PATTERN,
            ),
            _MODE,
            _TIMEFRAME,
        ),
        description=(
            "Signals for several USDT perpetuals in one call (symbols=BTC,ETH,SOL; 50 at most by default); "
            "each item is a signal or the reason there is none for that symbol."
        ),
        document=f"""
query SignalsBatch($symbols: [String!]!, $mode: Mode! = AGGRESSIVE, $timeframe: Timeframe! = H4) {{
  signals(symbols: $symbols, mode: $mode, timeframe: $timeframe) {{{_SIGNAL_RESULT}  }}
}}
""",
    ),
    Operation(
        name="symbols.list",
        summary="Tradable USDT-margined perpetual futures, optionally filtered by part of the symbol",
        params=(
            ParamDoc(
                "search",
                "Part of a symbol to look for, such as BTC or PEPE (case-insensitive); leave out to list every symbol.",
                pattern=r"^[A-Za-z0-9]{1,20}$",
            ),
        ),
        description=(
            "Tradable USDT-margined perpetual futures on Binance, optionally filtered by a substring of the "
            "symbol (search=BTC)."
        ),
        document="""
query SymbolsList($search: String) {
  symbols(search: $search) {
    __typename
    ... on SymbolList { count symbols { symbol baseAsset quoteAsset status contractType onboardDate } }
    ... on Problem { code message }
    ... on UpstreamUnavailable { failedSources }
  }
}
""",
    ),
    Operation(
        name="market.get",
        summary=(
            "Market snapshot of one USDT perpetual across venues: price, 24 h change, funding, open interest, "
            "long/short"
        ),
        params=(_SYMBOL,),
        description=(
            "Market snapshot of one USDT perpetual across every enabled venue: price, 24 h change and volume, "
            "funding per venue, open interest (and its USD total) and long/short ratios, each with its source."
        ),
        document="""
query MarketGet($symbol: String!) {
  market(symbol: $symbol) {
    __typename
    ... on Market {
      id symbol price priceSource change24hPct volume24hUsd openInterestTotalUsd failures generatedAt
      funding { venue ratePct intervalHours rate8hPct nextFundingTime time }
      openInterest { venue coins usd time }
      longShort { venue longPct longShortRatio time }
    }
    ... on Problem { code message }
    ... on InvalidInput { field }
    ... on SymbolNotFound { symbol }
    ... on UpstreamUnavailable { failedSources }
  }
}
""",
    ),
    Operation(
        name="exchanges.list",
        summary="Known exchanges and data vendors: whether each is enabled here and what data it serves",
        description="Every known exchange and data vendor, whether it is enabled here, and what data it serves.",
        document="""
query ExchangesList {
  exchanges { name enabled status capabilities }
}
""",
    ),
    Operation(
        name="exchange.candles",
        summary="Oldest-first OHLCV candles of one USDT perpetual on one exchange",
        params=(
            ParamDoc(
                "exchange",
                "Exchange to read: binance, bybit, okx or hyperliquid (keyless candle sources; exchanges.list "
                "names every venue, and a keyed one such as coinapi is accepted too).",
                choices=("binance", "bybit", "okx", "hyperliquid"),
            ),
            _SYMBOL,
            ParamDoc(
                "interval",
                "Candle length: 1m, 3m, 5m, 15m, 30m, 1h (default), 2h, 4h, 12h, 1d or 1w (6h too, except on "
                "hyperliquid).",
                # what every listed exchange serves: hyperliquid has no 6h candles (still accepted elsewhere)
                choices=tuple(interval.value for interval in CandleInterval if interval is not CandleInterval.H6),
            ),
            ParamDoc(
                "limit",
                f"How many of the latest candles, 1 to {MAX_LIMIT} (default 200).",
                minimum=1,
                maximum=MAX_LIMIT,
            ),
        ),
        description=(
            "Oldest-first candles of one USDT perpetual on one exchange (exchange=binance), as rows "
            "[openTime ms, open, high, low, close, volume]; interval 1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 1w."
        ),
        document="""
query ExchangeCandles($exchange: String!, $symbol: String!, $interval: String! = "1h", $limit: Int! = 200) {
  exchange(name: $exchange) {
    __typename
    ... on Exchange {
      candles(symbol: $symbol, interval: $interval, limit: $limit) {
        __typename
        ... on CandleSeries { exchange symbol interval columns rows }
        ... on Problem { code message }
        ... on InvalidInput { field }
        ... on SymbolNotFound { symbol }
        ... on CapabilityUnsupported { exchange capability }
        ... on UpstreamUnavailable { failedSources }
      }
    }
    ... on Problem { code message }
  }
}
""",
    ),
    Operation(
        name="structure.smc",
        summary="Smart Money Concepts per timeframe: structure, last BOS/CHoCH, nearest fair value gaps and liquidity",
        params=(
            _SYMBOL,
            ParamDoc(
                "timeframes",
                "Candle intervals such as 15m,1h,4h,1d (leave out for these four); any of 1m 3m 5m 15m 30m 1h 2h "
                "4h 6h 12h 1d 1w.",
                choices=tuple(interval.value for interval in CandleInterval),
            ),
            ParamDoc(
                "recent",
                f"How many recent swings, BOS and CHoCH to list per timeframe, 0 to {MAX_RECENT} (default 5).",
                minimum=0,
                maximum=MAX_RECENT,
            ),
        ),
        description=(
            "Smart Money Concepts on closed candles per timeframe: structure (BULLISH/BEARISH/RANGING), last BOS "
            "and CHoCH, recent swings, nearest unfilled fair value gaps, equal highs/lows above and below price; "
            "every item with barTime and knownAt."
        ),
        document="""
query StructureSmc($symbol: String!, $timeframes: [String!], $recent: Int! = 5) {
  smc(symbol: $symbol, timeframes: $timeframes, recent: $recent) {
    __typename
    ... on SMCReport {
      symbol swingBars generatedAt
      timeframes {
        timeframe available error candles asOf lastClose structure
        lastBos { kind direction price barTime knownAt }
        lastChoch { kind direction price barTime knownAt }
        events { kind direction price barTime knownAt }
        nearestUnfilledFvgs { direction top bottom barTime knownAt filled }
        liquidityAbove { kind level touches knownAt }
        liquidityBelow { kind level touches knownAt }
      }
    }
    ... on Problem { code message }
    ... on InvalidInput { field }
    ... on SymbolNotFound { symbol }
    ... on UpstreamUnavailable { failedSources }
  }
}
""",
    ),
    Operation(
        name="market.orderbook",
        summary="Whale walls and order-book imbalance of one USDT perpetual on Binance, OKX and Bybit",
        params=(_SYMBOL,),
        description=(
            "Order books of one USDT perpetual on Binance, OKX and Bybit: walls (levels at least 5x the average "
            "level size within 2 % of mid) with price, size, USD notional, side and distance, and the bid/ask "
            "imbalance within 0.5 % and 2 % of mid."
        ),
        document="""
query MarketOrderbook($symbol: String!) {
  orderBook(symbol: $symbol) {
    __typename
    ... on OrderBookReport {
      symbol wallMultiple bandPct failures generatedAt
      books { venue time mid spreadPct reachPct levelsInBand averageLevelSize
        walls { side price size notionalUsd distancePct multiple }
        imbalance { bandPct bidUsd askUsd ratio complete } }
    }
    ... on Problem { code message }
    ... on InvalidInput { field }
    ... on SymbolNotFound { symbol }
    ... on UpstreamUnavailable { failedSources }
  }
}
""",
    ),
    Operation(
        name="market.flow",
        summary="Large trades and cumulative volume delta of one USDT perpetual over the last 5 minutes to 1 hour",
        params=(
            _SYMBOL,
            ParamDoc("window", "How far back: M5, M15, M30 or H1 (default), ending now."),
        ),
        description=(
            "Taker buy minus sell volume (USD) and trades of at least $100k over a window, per venue (Binance, OKX, "
            "Bybit trade streams) and merged; a venue whose stream has not covered the whole window says so. The "
            "first call starts following the symbol."
        ),
        document="""
query MarketFlow($symbol: String!, $window: FlowWindow! = H1) {
  flow(symbol: $symbol, window: $window) {
    __typename
    ... on FlowReport {
      symbol window start end thresholdUsd mergedVenues missing
      merged { buyUsd sellUsd deltaUsd deltaPct trades }
      venues { venue complete coveredFrom error delta { buyUsd sellUsd deltaUsd deltaPct trades } }
      largeTrades { venue takerSide price size valueUsd time }
    }
    ... on Problem { code message }
    ... on InvalidInput { field }
    ... on SymbolNotFound { symbol }
  }
}
""",
    ),
    Operation(
        name="market.scalping",
        summary="Scalping readiness of one USDT perpetual: nine layers with value, source, verdict and freshness",
        params=(_SYMBOL,),
        description=(
            "Scalping view: RSI 1m/5m, 5-minute volume delta, book imbalance, last-hour liquidations, funding, "
            "long/short, walls near the price, fear & greed; ready only when 4 of the 5 critical layers are "
            "present and fresh, naming the missing ones."
        ),
        document="""
query MarketScalping($symbol: String!) {
  scalping(symbol: $symbol) {
    __typename
    ... on ScalpingView {
      symbol asOf price ready criticalUsable missing bullish bearish
      layers { name critical value verdict detail source observedAt fresh error }
    }
    ... on Problem { code message }
    ... on InvalidInput { field }
    ... on SymbolNotFound { symbol }
  }
}
""",
    ),
    Operation(
        name="history.list",
        summary="Stored LONG and SHORT signals, newest first, with their outcomes after 1 h, 4 h and 24 h",
        params=(
            ParamDoc(
                "symbol",
                "Only signals of this futures symbol, such as BTCUSDT or btc; leave out for every symbol.",
                pattern=SYMBOL_PATTERN,
            ),
            ParamDoc(
                "recommendation", "Only LONG or only SHORT signals; leave out for both.", choices=("LONG", "SHORT")
            ),
            ParamDoc(
                "first", f"Page size, 1 to {MAX_PAGE_SIZE} signals (default 20).", minimum=1, maximum=MAX_PAGE_SIZE
            ),
            ParamDoc(
                "after",
                "pageInfo.endCursor of the previous page, to get the next one; leave out for the first page.",
                pattern=CURSOR_PATTERN,
            ),
        ),
        description=(
            "Stored LONG/SHORT signals, newest first, with their outcomes at 1h/4h/24h; filter by symbol, "
            "recommendation and time; page with first (1-100) and the previous page's endCursor as after."
        ),
        document="""
query HistoryList($symbol: String, $recommendation: Recommendation, $first: Int! = 20, $after: String) {
  signalHistory(symbol: $symbol, recommendation: $recommendation, first: $first, after: $after) {
    __typename
    ... on SignalHistoryConnection {
      edges { cursor node { id symbol recommendation score confidence mode timeframe price generatedAt
        outcomes { horizonHours returnPct verdict } } }
      pageInfo { hasNextPage endCursor }
    }
    ... on Problem { code message }
    ... on InvalidInput { field }
  }
}
""",
    ),
    Operation(
        name="history.performance",
        summary="Tracked win rate and returns of stored signals, overall, by recommendation and by mode",
        params=(
            ParamDoc(
                "symbol",
                "Only signals of this futures symbol, such as BTCUSDT or btc; leave out for every symbol.",
                pattern=SYMBOL_PATTERN,
            ),
            ParamDoc("mode", "Only signals made in this mode: conservative, aggressive or ultra; leave out for all."),
            ParamDoc("horizon", "How long after each signal it is judged: H1, H4 or H24 (default) hours."),
        ),
        description=(
            "Tracked win rate of stored signals with a 95% interval, mean and median return, overall, by "
            "recommendation and by mode, at one horizon (H1, H4, H24)."
        ),
        document="""
query HistoryPerformance($symbol: String, $mode: Mode, $horizon: OutcomeHorizon! = H24) {
  signalPerformance(symbol: $symbol, mode: $mode, horizon: $horizon) {
    __typename
    ... on SignalPerformance {
      horizonHours pending
      overall { key count wins losses flats winRatePct winRatePctCi95 { low high } meanReturnPct medianReturnPct }
      byRecommendation { key count winRatePct winRatePctCi95 { low high } meanReturnPct medianReturnPct }
      byMode { key count winRatePct winRatePctCi95 { low high } meanReturnPct medianReturnPct }
    }
    ... on Problem { code message }
    ... on InvalidInput { field }
  }
}
""",
    ),
    Operation(
        name="backtest.run",
        summary="Walk-forward backtest of the signal engine over a year of recorded 4 h BTC history, against baselines",
        params=(
            ParamDoc(
                "symbol", "Symbol to replay; only BTC (the default) has recorded history.", pattern=SYMBOL_PATTERN
            ),
            ParamDoc(
                "mode",
                "Threshold set of the in-sample rows: conservative, aggressive (default) or ultra.",
                choices=("conservative", "aggressive", "ultra"),
            ),
            ParamDoc(
                "walkForward",
                "true (default) also fits thresholds on the first part of the year and tests them on the rest.",
            ),
        ),
        description=(
            "Replay the signal engine bar by bar over a year of recorded 4h BTC history with no look-ahead: "
            "win rate and mean return at 4h and 24h with 95% intervals, against baselines, and whether it "
            "beats them out of sample (walk-forward)."
        ),
        timeout_seconds=60.0,
        document="""
query BacktestRun($symbol: String! = "BTC", $mode: Mode! = AGGRESSIVE, $walkForward: Boolean! = true) {
  backtest(symbol: $symbol, mode: $mode, walkForward: $walkForward) {
    __typename
    ... on BacktestResult {
      symbol mode shortMax longMin barsScored firstBar lastBar
      rows {
        name recommendation horizonHours count winRatePct winRateLowPct winRateHighPct
        meanReturnPct meanReturnLowPct meanReturnHighPct
      }
      walkForward {
        testBars
        verdict {
          beatsBaselines statement engineMeanReturnPct engineMeanReturnLowPct bestBaseline bestBaselineMeanReturnPct
        }
        rows { name recommendation horizonHours count winRatePct meanReturnPct meanReturnLowPct meanReturnHighPct }
      }
    }
    ... on Problem { code message }
    ... on InvalidInput { field }
    ... on HistoryNotAvailable { missing }
    ... on BacktestTimeout { timeoutSeconds }
  }
}
""",
    ),
    Operation(
        name="model.get",
        summary="The CALIBRATED mode's fitted model: version, fit period, coefficients and its out-of-sample record",
        description=(
            "The calibrated model behind mode=calibrated and probabilityUp: what it predicts, when it was fitted, "
            "its thresholds and coefficients, its out-of-sample win rate and mean net return at 4h and 24h, and "
            "the shipping gate's verdict (whether it beats always-long)."
        ),
        document="""
query ModelGet {
  model {
    __typename
    ... on CalibratedModel {
      version symbol timeframe horizonHours target fitFrom fitTo trainBars regularizationC
      longThreshold shortThreshold isDefaultMode
      coefficients { feature description coefficient }
      outOfSample {
        testFrom testTo testBars
        horizons {
          horizonHours calls winRatePct winRateLowPct winRateHighPct meanNetReturnPct meanNetReturnLowPct
          meanNetReturnHighPct returnPerRisk maxDrawdownPct brier brierBaseRate alwaysLongMeanNetReturnPct
        }
        gate {
          passes statement bestFactor vsAlwaysLongLowPct vsAlwaysLongHighPct vsBestFactorLowPct vsBestFactorHighPct
        }
      }
    }
    ... on Problem { code message }
  }
}
""",
    ),
    Operation(
        name="ask.question",
        summary="Ask in plain English or Bahasa Indonesia: routed to the right operation, with its answer",
        params=(
            ParamDoc(
                "question",
                "The question, up to 300 characters: 'signal BTC mode 3', 'whale walls on ETH', 'kenapa market "
                "merah semua?', 'sinyal BTC agresif'.",
                pattern=r"^[\s\S]{1,300}$",
            ),
        ),
        description=(
            "Reads an English or Indonesian question as an operation, coin and mode (mode 1/2/3 = conservative/"
            "aggressive/ultra) and returns that operation's answer in answer; when unsure, runs nothing and "
            "offers the two best readings."
        ),
        timeout_seconds=60.0,  # the routed operation may be a backtest
        document="""
query AskQuestion($question: String!) {
  ask(question: $question) {
    __typename
    ... on AskAnswer {
      operation symbol symbols mode modeStated language confident reason notes answer
      alternatives { operation symbols mode confidence missing }
    }
    ... on Problem { code message }
    ... on InvalidInput { field }
  }
}
""",
    ),
    Operation(
        name="listings.new",
        summary="USDT perpetuals newly listed on Binance, Bybit and OKX, newest first, with first-day performance",
        params=(
            ParamDoc(
                "withinHours",
                "How far back to look in hours, 1 to 720 (default 72: the last three days).",
                minimum=1,
                maximum=int(MAX_WITHIN_HOURS),
            ),
            _UNIVERSE_VENUES,
        ),
        description=(
            "New USDT perpetual listings (Binance onboardDate, OKX listTime, Bybit launchTime), newest first: "
            "age in hours, which other venues list it, first-day and since-listing change and volume."
        ),
        document="""
query ListingsNew($withinHours: Float! = 72, $venues: [String!]) {
  newListings(withinHours: $withinHours, venues: $venues) {
    __typename
    ... on NewListings {
      asOf venues missing
      listings {
        symbol venue listedAt ageHours alsoListedOn unknownOn sinceListingChangePct
        firstDayChangePct firstDayQuoteVolumeUsd firstDayComplete figuresMissing
      }
    }
    ... on Problem { code message }
    ... on InvalidInput { field }
    ... on UpstreamUnavailable { failedSources }
  }
}
""",
    ),
    Operation(
        name="screener.run",
        summary="Screen every USDT perpetual: top gainers, losers, volume, funding extremes or open-interest leaders",
        params=(
            ParamDoc(
                "kind",
                "What to rank by: gainers, losers, volume, funding_high, funding_low or open_interest.",
            ),
            ParamDoc(
                "limit", f"How many rows, 1 to {MAX_SCREENER_ROWS} (default 20).", minimum=1, maximum=MAX_SCREENER_ROWS
            ),
            ParamDoc(
                "minQuoteVolumeUsd",
                "Leave out symbols with less 24 h quote volume in USD (default 1000000).",
                minimum=0,
            ),
            _UNIVERSE_VENUES,
        ),
        description=(
            "Ranks the whole USD-M universe of Binance, Bybit and OKX from all-symbol endpoints; each row has "
            "price, 24 h change, volume, open interest, each venue's funding and CoinGecko market cap and FDV."
        ),
        document="""
query ScreenerRun($kind: ScreenerKind!, $limit: Int! = 20, $minQuoteVolumeUsd: Float! = 1000000, $venues: [String!]) {
  screener(kind: $kind, limit: $limit, minQuoteVolumeUsd: $minQuoteVolumeUsd, venues: $venues) {
    __typename
    ... on Screener {
      asOf kind screened belowMinVolume withoutFigure missing
      rows {
        rank symbol value priceVenue lastPrice change24hPct quoteVolumeUsd openInterestUsd
        funding { venue rate8hPct }
        coin { name marketCapUsd marketCapRank fdvUsd }
      }
    }
    ... on Problem { code message }
    ... on InvalidInput { field }
    ... on UpstreamUnavailable { failedSources }
  }
}
""",
    ),
    Operation(
        name="spikes.scan",
        summary="Open-interest and volume spikes across every USDT perpetual: z-scores at 5m, 15m and 1h",
        params=(
            ParamDoc(
                "minZ",
                "One z-score threshold for every horizon, 1 to 100; leave out for 3.0 (5m), 2.5 (15m), 2.0 (1h).",
                minimum=1,
                maximum=100,
            ),
            _UNIVERSE_VENUES,
            ParamDoc(
                "limit", f"Most readings to return, 1 to {MAX_SPIKES} (default 50).", minimum=1, maximum=MAX_SPIKES
            ),
        ),
        description=(
            "Changes in open interest and volume far outside each symbol's own recent history (z-scores at 5m, "
            "15m, 1h), sampled by the server; a fresh server says which horizons are still warming up."
        ),
        document="""
query SpikesScan($minZ: Float, $venues: [String!], $limit: Int! = 50) {
  spikes(minZ: $minZ, venues: $venues, limit: $limit) {
    __typename
    ... on SpikeScan {
      asOf venues symbolsTracked historySince warmingUp missing
      spikes { symbol venue metric horizon z change threshold }
    }
    ... on Problem { code message }
    ... on InvalidInput { field }
    ... on UpstreamUnavailable { failedSources }
  }
}
""",
    ),
    Operation(
        name="mss.get",
        summary="Multi-modal Signal Score of one coin: discovery, social and institutional phases, 0..100, with tier",
        params=(_SYMBOL,),
        description=(
            "MSS 0..100 = discovery (FDV, age, circulating share) + social (AltRank, Galaxy, sentiment, volume "
            "spike) + institutional (OI change, funding, top traders); a phase missing data is unavailable, "
            "never 0."
        ),
        document=f"""
query MssGet($symbol: String!) {{
  mss(symbol: $symbol) {{
    __typename
    ... on MSSReport {{{_MSS_REPORT}
      failures generatedAt
    }}
    ... on Problem {{ code message }}
    ... on InvalidInput {{ field }}
    ... on SymbolNotFound {{ symbol }}
  }}
}}
""",
    ),
    Operation(
        name="mss.scan",
        summary="Score today's new listings with MSS: newest USDT perpetuals ranked by MSS under an optional FDV cap",
        params=(
            ParamDoc("limit", "How many new listings to score, 1 to 20 (default 10).", minimum=1, maximum=20),
            ParamDoc("maxFdvUsd", "Leave out coins whose fully diluted valuation is above this many USD.", minimum=1),
            ParamDoc("withinHours", "Listed within this many hours, 1 to 720 (default 72).", minimum=1, maximum=720),
            ParamDoc(
                "screen",
                "Scan a screener's top rows instead of new listings: GAINERS, LOSERS, VOLUME, FUNDING_HIGH, "
                "FUNDING_LOW or OPEN_INTEREST; leave out for new listings.",
            ),
        ),
        description=(
            "New USDT-perpetual listings (Binance, Bybit, OKX) within withinHours, or a screener's top rows, "
            "scored by MSS, best first; vendor calls are budgeted per scan and what was left out is in skipped."
        ),
        timeout_seconds=30.0,
        document=f"""
query MssScan($limit: Int! = 10, $maxFdvUsd: Float, $withinHours: Float! = 72, $screen: ScreenerKind) {{
  mssScan(limit: $limit, maxFdvUsd: $maxFdvUsd, withinHours: $withinHours, screen: $screen) {{
    __typename
    ... on MssScan {{
      candidates skipped coingeckoCalls lunarcrushCalls
      items {{ symbol venue origin listedAt ageHours report {{{_MSS_REPORT}    }} }}
    }}
    ... on Problem {{ code message }}
    ... on InvalidInput {{ field }}
    ... on UpstreamUnavailable {{ failedSources }}
  }}
}}
""",
    ),
    Operation(
        name="market.summary",
        summary="Why is the market up or down? BTC, ETH, SOL, XRP, BNB signals in one word, in English and Indonesian",
        params=(_MODE, _TIMEFRAME),
        description=(
            "Overall BULLISH / BEARISH / NEUTRAL / MIXED over BTC, ETH, SOL, XRP and BNB: each coin's signal, "
            "average funding, liquidation balance, and an explanation in English and Indonesian from the numbers."
        ),
        document="""
query MarketSummary($mode: Mode! = AGGRESSIVE, $timeframe: Timeframe! = H4) {
  marketSummary(mode: $mode, timeframe: $timeframe) {
    __typename
    ... on MarketSummary {
      overall longs shorts neutrals averageScore averageFundingPct8h fundingCoins liquidationLongSharePct
      liquidationCoins explanationEn explanationId generatedAt
      coins { symbol recommendation score fundingPct8h liquidationLongSharePct problem }
    }
    ... on Problem { code message }
    ... on InvalidInput { field }
  }
}
""",
    ),
    Operation(
        name="social.hype",
        gpt=False,
        summary="Social hype of one coin: 0..100 score, spike against its own history, hype versus price",
        params=(_SYMBOL,),
        description=(
            "Attention a coin draws: CoinGecko trending (keyless), LunarCrush Galaxy Score and AltRank (keyed), "
            "a spike flag against its own history and hype-versus-price divergence."
        ),
        document="""
query SocialHype($symbol: String!) {
  socialHype(symbol: $symbol) {
    __typename
    ... on SocialHype {
      symbol score spike spikeDetail historyPoints hypeChange hypeChangeHours priceChange24hPct divergence
      divergenceDetail
      missing keyAdds
      components { name rawValue score weight source error }
      context { name rawValue source }
    }
    ... on Problem { code message }
    ... on InvalidInput { field }
    ... on SymbolNotFound { symbol }
  }
}
""",
    ),
    Operation(
        name="watchlist.list",
        gpt=False,
        summary="Your watchlist (every owner's for an admin key): each coin with its newest MSS measurements",
        params=(
            ParamDoc(
                "historyPoints",
                "MSS measurements per coin, newest first, 0 to 100 (default 10).",
                minimum=0,
                maximum=100,
            ),
        ),
        description="Each coin on the caller's watchlist (add and remove them with the GraphQL mutations "
        "watchlistAdd / watchlistRemove) with its MSS history since it was added, newest first.",
        document="""
query WatchlistList($historyPoints: Int! = 10) {
  watchlist(historyPoints: $historyPoints) {
    __typename
    ... on Watchlist {
      truncated
      entries { symbol owner note addedAt history { measuredAt total measurableMax totalLow totalHigh tier } }
    }
    ... on Problem { code message }
    ... on InvalidInput { field }
  }
}
""",
    ),
    Operation(
        name="alerts.rules",
        gpt=False,  # alert management is for apps: create, pause and delete are GraphQL mutations
        summary="Your alert rules (every rule for an admin key): conditions, channels, paused, fired count",
        description="The caller's alert rules, oldest first, with their conditions and channels; create, pause, "
        "resume and delete them with the GraphQL mutations (createAlertRule ...).",
        document="""
query AlertsRules {
  alertRules {
    __typename
    ... on AlertRuleList {
      count
      rules {
        id name owner channels paused createdAt firedCount lastFiredAt webhookUrl
        conditions { symbols recommendations minScore minConfidence verdicts mssTiers minSpikeZ expression }
      }
    }
    ... on Problem { code message }
  }
}
""",
    ),
)

_BY_NAME = {op.name: op for op in OPERATIONS}


def operation(name: str) -> Operation:
    """The registry entry called ``name``; ``KeyError`` when there is none."""
    return _BY_NAME[name]


def normalize_document(query: str) -> str | None:
    """A canonical spelling of a GraphQL document (whitespace, commas and comments do not matter), or
    ``None`` when it does not parse."""
    try:
        return print_ast(parse(query, no_location=True))
    except GraphQLError:
        return None


@lru_cache(maxsize=1)
def _persisted() -> frozenset[str]:
    return frozenset(filter(None, (normalize_document(op.document) for op in OPERATIONS)))


def persisted_query_allowed(query: str) -> bool:
    """Whether ``query`` is one of the registry's documents (the allow-list when persisted queries only)."""
    normalized = normalize_document(query)
    return normalized is not None and normalized in _persisted()
