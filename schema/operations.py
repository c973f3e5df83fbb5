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

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")

_FACTOR = "name score weight effectiveWeight contribution available source rawValue detail error"
_SIGNAL_RESULT = f"""
    __typename
    ... on Signal {{
      id symbol recommendation score confidence mode timeframe price generatedAt
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


@dataclass(frozen=True)
class Operation:
    """A named GraphQL operation exposed over REST.

    ``timeout_seconds`` is the operation's own default (the ``operation_timeouts`` setting overrides
    it, the ``rest_default_timeout_seconds`` setting applies when neither is set); ``gpt`` says whether
    it belongs in the GPT action schema (at most 30 operations there).
    """

    name: str
    description: str
    document: str
    timeout_seconds: float | None = None
    gpt: bool = True

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
        description=(
            "LONG / SHORT / NEUTRAL signal for one USDT perpetual (BTC, ETHUSDT, sol-usdt) with its score "
            "0..100, confidence, the eight weighted factors that explain it and the data quality. mode: "
            "conservative | aggressive (default) | ultra; timeframe: 15m | 1h | 4h (default) | 1d."
        ),
        document=f"""
query SignalsGet($symbol: String!, $mode: Mode! = AGGRESSIVE, $timeframe: Timeframe! = H4) {{
  signal(symbol: $symbol, mode: $mode, timeframe: $timeframe) {{{_SIGNAL_RESULT}  }}
}}
""",
    ),
    Operation(
        name="signals.batch",
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
        description="Every known exchange and data vendor, whether it is enabled here, and what data it serves.",
        document="""
query ExchangesList {
  exchanges { name enabled status capabilities }
}
""",
    ),
    Operation(
        name="exchange.candles",
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
        name="history.list",
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
