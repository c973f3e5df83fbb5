"""Root query fields, composed from one class per area so adding an area is adding one class."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.tools import merge_types
from strawberry.types import Info  # noqa: TC002 - strawberry reads annotations at runtime
from strawberry.types.base import get_object_definition
from strawberry.types.nodes import SelectedField

from engine import DEFAULT_MODE, Mode
from engine.market import Timeframe
from resolvers.context import RequestContext  # noqa: TC001
from resolvers.problems import Problem
from resolvers.signals import SignalOutcome, resolve_signal, resolve_signals
from resolvers.symbols import resolve_symbols
from schema.alerts import AlertQuery
from schema.ask import AskQuery
from schema.backtest import BacktestQuery
from schema.enums import ModeEnum, TimeframeEnum
from schema.errors import InsufficientData, InvalidInput, SymbolNotFound, UpstreamUnavailable, problem
from schema.history import HistoryQuery
from schema.market import MarketQuery
from schema.model import ModelQuery
from schema.mss import MssQuery
from schema.orderflow import OrderFlowQuery
from schema.ratelimit import RateLimitQuery
from schema.structure import StructureQuery
from schema.types import Signal, SymbolList, SymbolType
from schema.universe import UniverseQuery

DEFAULT_TIMEFRAME = Timeframe.H4

SignalResult = Annotated[
    Signal | InvalidInput | SymbolNotFound | InsufficientData,
    strawberry.union("SignalResult", description="A signal, or why there is none."),
]
SymbolsResult = Annotated[
    SymbolList | UpstreamUnavailable,
    strawberry.union("SymbolsResult", description="The symbol list, or why it could not be read."),
]

SymbolArg = Annotated[
    str,
    strawberry.argument(description="A USDT perpetual in any usual spelling: BTC, BTCUSDT, BTC-USDT, btc/usdt."),
]
SymbolsArg = Annotated[
    list[str],
    strawberry.argument(
        description="USDT perpetuals in any usual spelling (BTC, ETHUSDT, ...); at most MAX_SYMBOLS_PER_REQUEST "
        "(50 by default); one result per symbol, in order."
    ),
]
ModeArg = Annotated[
    ModeEnum,  # type: ignore[valid-type]
    strawberry.argument(
        description="Threshold set: CONSERVATIVE, AGGRESSIVE (default), ULTRA, or CALIBRATED (BTC 4h; opt-in model)."
    ),
]
TimeframeArg = Annotated[
    TimeframeEnum,  # type: ignore[valid-type]
    strawberry.argument(description="Candle interval the factors are read on: M15, H1, H4 (default) or D1."),
]


# the Signal fields that read the calibrated model's output; a document selecting neither does not run it
CALIBRATION_FIELDS = frozenset({"calibration", "probabilityUp"})


def asks_for_calibration(info: Info[RequestContext, None]) -> bool:
    """Whether the document selects a field of :data:`CALIBRATION_FIELDS` anywhere under this field (through
    inline fragments and fragment spreads; a ``@skip``/``@include`` is not evaluated: it counts as selected)."""
    stack: list[Any] = list(info.selected_fields)
    while stack:
        selection = stack.pop()
        if isinstance(selection, SelectedField) and selection.name in CALIBRATION_FIELDS:
            return True
        stack.extend(selection.selections)
    return False


def signal_result(outcome: SignalOutcome) -> SignalResult:
    """The GraphQL member for a resolved signal or its problem (also used by ``signalUpdates``)."""
    return problem(outcome) if isinstance(outcome, Problem) else Signal.of(outcome)


@strawberry.type
class SignalQuery:
    @strawberry.field(description="The 8-factor signal for one USDT perpetual (BTC, BTCUSDT, BTC-USDT, ...).")
    async def signal(
        self,
        info: Info[RequestContext, None],
        symbol: SymbolArg,
        mode: ModeArg = DEFAULT_MODE,
        timeframe: TimeframeArg = DEFAULT_TIMEFRAME,
    ) -> SignalResult:
        calibrate = asks_for_calibration(info)
        return signal_result(
            await resolve_signal(info.context, symbol, Mode(mode), Timeframe(timeframe), calibrate=calibrate)
        )

    @strawberry.field(description="Signals for several symbols in one round; all-symbol endpoints are batched.")
    async def signals(
        self,
        info: Info[RequestContext, None],
        symbols: SymbolsArg,
        mode: ModeArg = DEFAULT_MODE,
        timeframe: TimeframeArg = DEFAULT_TIMEFRAME,
    ) -> list[SignalResult]:
        calibrate = asks_for_calibration(info)
        outcomes = await resolve_signals(info.context, symbols, Mode(mode), Timeframe(timeframe), calibrate=calibrate)
        return [signal_result(o) for o in outcomes]


@strawberry.type
class SymbolQuery:
    @strawberry.field(description="Tradable USDT-margined perpetuals, optionally filtered by a substring.")
    async def symbols(
        self,
        info: Info[RequestContext, None],
        search: Annotated[
            str | None,
            strawberry.argument(description="Keep symbols containing this text, case-insensitive (BTC); null: all."),
        ] = None,
    ) -> SymbolsResult:
        listed = await resolve_symbols(info.context, search)
        if isinstance(listed, Problem):
            return problem(listed)
        return SymbolList(symbols=[SymbolType.of(s) for s in listed], count=len(listed))


Query = merge_types(
    "Query",
    (
        SignalQuery,
        SymbolQuery,
        MarketQuery,
        BacktestQuery,
        ModelQuery,
        HistoryQuery,
        RateLimitQuery,
        StructureQuery,
        OrderFlowQuery,
        AlertQuery,
        AskQuery,
        UniverseQuery,
        MssQuery,
    ),
)
get_object_definition(Query, strict=True).description = (  # merge_types takes no description
    "Signals, market data per venue, signal history and backtests. Expected failures are union members "
    "implementing Problem (code, message), never errors."
)
