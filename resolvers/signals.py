"""Signal resolvers: symbol text in, an engine Signal or a domain problem out. Thin: the gateway fetches,
the engine scores, the recorder stores; ``schema`` turns the result into GraphQL types."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from engine import Signal, SignalRefused, compute_signal
from providers.symbols import InvalidSymbolFormat, parse_symbol
from resolvers.gateway import SymbolNotListed
from resolvers.judge import judgement_for
from resolvers.model import ModelNotAvailable
from resolvers.problems import InvalidArgument, NotEnoughData, UnknownSymbol

if TYPE_CHECKING:
    from engine import Mode
    from engine.market import Timeframe
    from resolvers.context import RequestContext

SignalOutcome = Signal | InvalidArgument | UnknownSymbol | NotEnoughData


async def resolve_signal(
    ctx: RequestContext, symbol: str, mode: Mode, timeframe: Timeframe, *, calibrate: bool = True
) -> SignalOutcome:
    """``calibrate=False``: the caller reads nothing of the model's output (``probabilityUp``, ``calibration``),
    so the model is not run (its features are about a tenth of a cold signal's CPU); ``Mode.CALIBRATED`` runs
    it whatever ``calibrate`` says, since its recommendation is the model's."""
    try:
        instrument = parse_symbol(symbol)
    except InvalidSymbolFormat as exc:
        return InvalidArgument("symbol", str(exc))
    state = ctx.services.model
    if mode.is_calibrated:  # before any upstream call: a mode that cannot answer costs nothing
        refusal = state.refusal(instrument, timeframe) if state is not None else "no calibrated model is configured"
        if refusal is not None:  # an answer, not a fault: the inputs are valid, the model does not cover them
            return NotEnoughData(ModelNotAvailable.code, refusal, instrument.canonical, (refusal,), None)
    model = state.for_signal(instrument, timeframe) if state is not None and (calibrate or mode.is_calibrated) else None
    try:
        snapshot = await ctx.services.gateway.snapshot(instrument, timeframe, ctx.loaders)
    except SymbolNotListed as exc:
        return UnknownSymbol(exc.symbol, str(exc))
    try:
        computed = compute_signal(snapshot, mode, model)
    except SignalRefused as exc:
        return NotEnoughData(exc.code, exc.message, instrument.canonical, exc.missing, exc.data_quality)
    if ctx.services.recorder is not None:
        # durable before it is sent: every path that answers a signal (signal, signals, /invoke,
        # signalUpdates) comes through here; stored with its plan and verdict (the same, cached, verdict
        # the Signal.verdict field answers)
        await ctx.services.recorder.persist(computed, await judgement_for(ctx, computed))
    return computed


async def resolve_signals(
    ctx: RequestContext, symbols: list[str], mode: Mode, timeframe: Timeframe, *, calibrate: bool = True
) -> list[SignalOutcome]:
    """Every symbol in one concurrent round; the per-request loaders batch the all-symbol endpoints."""
    limit = ctx.services.max_symbols_per_request
    if not symbols or len(symbols) > limit:
        return [InvalidArgument("symbols", f"give between 1 and {limit} symbols, not {len(symbols)}")]
    return list(await asyncio.gather(*(resolve_signal(ctx, s, mode, timeframe, calibrate=calibrate) for s in symbols)))
