"""Root query fields, composed from one class per area so adding an area is adding one class."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import merge_types
from strawberry.types import Info  # noqa: TC002 - strawberry reads annotations at runtime

from engine import DEFAULT_MODE, Mode
from engine.market import Timeframe
from resolvers.context import RequestContext  # noqa: TC001
from resolvers.problems import Problem
from resolvers.signals import SignalOutcome, resolve_signal, resolve_signals
from resolvers.symbols import resolve_symbols
from schema.backtest import BacktestQuery
from schema.errors import InsufficientData, InvalidInput, SymbolNotFound, UpstreamUnavailable, problem
from schema.history import HistoryQuery
from schema.market import MarketQuery
from schema.ratelimit import RateLimitQuery
from schema.types import ModeEnum, Signal, SymbolList, SymbolType, TimeframeEnum

DEFAULT_TIMEFRAME = Timeframe.H4

SignalResult = Annotated[
    Signal | InvalidInput | SymbolNotFound | InsufficientData,
    strawberry.union("SignalResult", description="A signal, or why there is none."),
]
SymbolsResult = Annotated[SymbolList | UpstreamUnavailable, strawberry.union("SymbolsResult")]


def signal_result(outcome: SignalOutcome) -> SignalResult:
    """The GraphQL member for a resolved signal or its problem (also used by ``signalUpdates``)."""
    return problem(outcome) if isinstance(outcome, Problem) else Signal.of(outcome)


@strawberry.type
class SignalQuery:
    @strawberry.field(description="The 8-factor signal for one USDT perpetual (BTC, BTCUSDT, BTC-USDT, ...).")
    async def signal(
        self,
        info: Info[RequestContext, None],
        symbol: str,
        mode: ModeEnum = DEFAULT_MODE,  # type: ignore[valid-type]
        timeframe: TimeframeEnum = DEFAULT_TIMEFRAME,  # type: ignore[valid-type]
    ) -> SignalResult:
        return signal_result(await resolve_signal(info.context, symbol, Mode(mode), Timeframe(timeframe)))

    @strawberry.field(description="Signals for several symbols in one round; all-symbol endpoints are batched.")
    async def signals(
        self,
        info: Info[RequestContext, None],
        symbols: list[str],
        mode: ModeEnum = DEFAULT_MODE,  # type: ignore[valid-type]
        timeframe: TimeframeEnum = DEFAULT_TIMEFRAME,  # type: ignore[valid-type]
    ) -> list[SignalResult]:
        outcomes = await resolve_signals(info.context, symbols, Mode(mode), Timeframe(timeframe))
        return [signal_result(o) for o in outcomes]


@strawberry.type
class SymbolQuery:
    @strawberry.field(description="Tradable USDT-margined perpetuals, optionally filtered by a substring.")
    async def symbols(self, info: Info[RequestContext, None], search: str | None = None) -> SymbolsResult:
        listed = await resolve_symbols(info.context, search)
        if isinstance(listed, Problem):
            return problem(listed)
        return SymbolList(symbols=[SymbolType.of(s) for s in listed], count=len(listed))


Query = merge_types("Query", (SignalQuery, SymbolQuery, MarketQuery, BacktestQuery, HistoryQuery, RateLimitQuery))
