"""Trade plan and verdict for a computed signal: gather what the plan and the judge read, then decide.

``assess`` reads the signal timeframe's closed candles (the gateway's cached call, the bars the score
used), the 24 h ticker (the request's loader: the price already asked it) and the venue's tick, and
returns the ATR plan and the rules' verdict. ``judge_signal`` adds the AI when it is configured: one
budgeted, cached call, falling back to the rules with the reason. NEUTRAL gets neither (``None``).

The plan is built with the *rules'* risk mode, so it is the same whether or not the AI was asked;
an AI verdict carries its own ``risk_mode`` to scale by.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from engine import FactorName, InputName, Recommendation
from engine.indicators import rsi_wilder
from engine.judge import JudgeInputs, Judgement, StructureView, Verdict, judge_rules, structure_view
from engine.market import CandleInterval
from engine.plan import ATR_PERIOD, PlanUnavailable, TradePlan, build_plan
from engine.smc import DEFAULT_SWING_BARS, analyze_structure
from providers.symbols import parse_symbol
from resolvers.structure import DEFAULT_CANDLES as STRUCTURE_CANDLES
from resolvers.ticks import resolve_tick_size

if TYPE_CHECKING:
    from collections.abc import Hashable
    from datetime import datetime

    from engine import Reading, Signal
    from engine.market import Candle, Timeframe
    from resolvers.context import RequestContext

RSI_PERIOD = 14
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Assessment:
    """Everything decided about one LONG/SHORT without the AI."""

    signal: Signal
    plan: TradePlan | None
    plan_error: str | None  # why there is no plan (too few candles, ...)
    rules: Verdict
    inputs: JudgeInputs
    last_bar: datetime | None  # open time of the last closed candle: the signal state's clock


def _factor(signal: Signal, name: FactorName) -> tuple[float | None, str | None]:
    f = next(x for x in signal.factors if x.name is name)
    return (f.raw_value, None) if f.available else (None, f.error or "unavailable")


# SMC readings by (symbol, timeframe, first and last bar, last close): structure changes only when a bar
# closes, and a reading costs ~3 ms, more than the rest of the plan and the judge together
_STRUCTURES: OrderedDict[tuple[Any, ...], tuple[StructureView | None, str]] = OrderedDict()
STRUCTURE_MEMO_ENTRIES = 512


def _structure(symbol: str, candles: tuple[Candle, ...], timeframe: Timeframe) -> tuple[StructureView | None, str]:
    """Market structure for the ``smc_structure`` check: the SMC engine on the window ``Signal.structure``
    reads (too few candles for a swing on each side is reported as unavailable, never as passed)."""
    if len(candles) < 2 * DEFAULT_SWING_BARS + 2:
        return None, f"{len(candles)} closed candles are too few for market structure"
    key = (symbol, timeframe, len(candles), candles[0].open_time, candles[-1].open_time, candles[-1].close)
    found = _STRUCTURES.get(key)
    if found is None:
        found = structure_view(analyze_structure(candles, interval=timeframe.duration)), ""
        _STRUCTURES[key] = found
        while len(_STRUCTURES) > STRUCTURE_MEMO_ENTRIES:
            _STRUCTURES.popitem(last=False)
    return found


def judge_inputs(
    signal: Signal,
    candles: tuple[Candle, ...],
    quote_volume: float | None,
    volume_error: str,
    structure_window: Reading[tuple[Candle, ...]] | None = None,
) -> JudgeInputs:
    """The rules' inputs from the signal, its candles and the structure window (``Signal.structure``'s
    candles; the signal's own when not given); each missing one with its reason."""
    missing: dict[str, str] = {}
    closes = [c.close for c in candles]
    rsi = rsi_wilder(closes, RSI_PERIOD) if len(closes) > RSI_PERIOD else None
    if rsi is None:
        missing["rsi"] = f"RSI{RSI_PERIOD} needs {RSI_PERIOD + 1} closed candles, got {len(closes)}"
    funding, funding_error = _factor(signal, FactorName.FUNDING)
    if funding is None:
        missing["funding"] = funding_error or "unavailable"
    if quote_volume is None:
        missing["volume_24h"] = volume_error
    window = candles if structure_window is None else (structure_window.value or ())
    structure, structure_error = _structure(signal.symbol, window, signal.timeframe)
    if structure_window is not None and structure_window.value is None:
        structure_error = f"no candles for market structure: {structure_window.error or 'none served'}"
    if structure is None:
        missing["smc_structure"] = structure_error
    return JudgeInputs(
        side=signal.recommendation,
        score=signal.score,
        confidence=signal.confidence,
        thresholds=signal.thresholds,
        factor_scores=[(f.name.value, f.score) for f in signal.factors],
        rsi=rsi,
        funding_pct_8h=funding,
        quote_volume_24h=quote_volume,
        structure=structure,
        missing=missing,
    )


async def assess(ctx: RequestContext, signal: Signal) -> Assessment | None:
    """Plan and rules verdict for a LONG/SHORT; ``None`` for NEUTRAL."""
    if signal.recommendation is Recommendation.NEUTRAL:
        return None
    gateway = ctx.services.gateway
    instrument = parse_symbol(signal.symbol)
    price_source = next((s.source for s in signal.data_quality.sources if s.input is InputName.PRICE), None)
    candles_r, ticker_r, tick, window = await asyncio.gather(
        gateway.closed_candles(instrument, signal.timeframe),
        gateway.ticker_24h(instrument, ctx.loaders),
        resolve_tick_size(gateway, signal.symbol, price_source),
        # the window Signal.structure reads (the same cached call), so the check and the field agree
        gateway.candle_window(instrument, CandleInterval.of(signal.timeframe), STRUCTURE_CANDLES),
    )
    candles = candles_r.value or ()
    volume = ticker_r.value.quote_volume if ticker_r.value is not None else None
    inputs = judge_inputs(signal, candles, volume, ticker_r.error or "no 24h ticker answered", window)
    rules = judge_rules(inputs)
    plan: TradePlan | None = None
    plan_error: str | None = None
    if not candles:
        plan_error = f"no closed {signal.timeframe.value} candles: {candles_r.error or 'none served'}"
    else:
        try:
            plan = build_plan(signal.recommendation, signal.price, candles, rules.risk_mode, tick)
        except PlanUnavailable as exc:
            plan_error = str(exc)
    last_bar = candles[-1].open_time if candles else None
    return Assessment(signal, plan, plan_error, rules, inputs, last_bar)


def ai_payload(a: Assessment) -> dict[str, Any]:
    """What the AI is shown: the call, its factors, the plan, the structure and the rule checks."""
    s = a.signal
    return {
        "call": {
            "symbol": s.symbol,
            "side": s.recommendation.value,
            "score": s.score,
            "confidence": s.confidence,
            "mode": s.mode.value,
            "thresholds": {"short_max": s.thresholds.short_max, "long_min": s.thresholds.long_min},
            "timeframe": s.timeframe.value,
            "price": s.price,
        },
        "factors": [{"name": f.name.value, "score": f.score, "detail": f.detail} for f in s.factors],
        "plan": None if a.plan is None else a.plan.to_json(),
        "structure": None
        if a.inputs.structure is None
        else {"bias": a.inputs.structure.bias.value, "detail": a.inputs.structure.detail},
        "rule_checks": [
            {"name": c.name, "value": c.value, "passed": c.passed, "detail": c.detail} for c in a.rules.checks
        ],
        "rules_verdict": {"verdict": a.rules.verdict.value, "risk_mode": a.rules.risk_mode.value},
    }


def state_key(a: Assessment) -> Hashable:
    """The signal state an AI verdict is cached for: same symbol, timeframe, mode and side on the same bar."""
    s = a.signal
    return (s.symbol, s.timeframe.value, s.mode.value, s.recommendation.value, a.last_bar)


async def judge_assessed(ctx: RequestContext, a: Assessment) -> Verdict:
    """The AI's verdict when configured (budgeted, cached, with fallback), else the rules'."""
    ai = ctx.services.ai_judge
    if ai is None:
        return a.rules
    duration = a.signal.timeframe.duration
    # kept until the bar after the last closed one closes: then the signal state is new
    expires = (a.last_bar + 2 * duration) if a.last_bar is not None else ctx.services.gateway.now() + duration
    return await ai.judge(state_key(a), expires, ai_payload(a), a.rules)


async def judge_signal(ctx: RequestContext, signal: Signal) -> Verdict | None:
    """The verdict on ``signal`` (``None`` for NEUTRAL): the stable entry point for alerts and the scanner."""
    a = await assess(ctx, signal)
    return None if a is None else await judge_assessed(ctx, a)


async def judgement_for(ctx: RequestContext, signal: Signal) -> Judgement | None:
    """Plan and verdicts to store with a LONG/SHORT (``None`` for NEUTRAL). A failure here is logged and
    the signal is stored without them: the history never loses a signal to the judge."""
    try:
        a = await assess(ctx, signal)
        if a is None:
            return None
        return Judgement(plan=a.plan, verdict=await judge_assessed(ctx, a), rules=a.rules)
    except Exception:
        log.exception("signal judged for history failed; stored without a verdict", symbol=signal.symbol)
        return None


async def plan_signal(ctx: RequestContext, signal: Signal) -> TradePlan | None:
    """The ATR plan (``None`` for NEUTRAL or when it cannot be built; see ``Assessment.plan_error``)."""
    a = await assess(ctx, signal)
    return None if a is None else a.plan


__all__ = ["ATR_PERIOD", "Assessment", "assess", "judge_assessed", "judge_signal", "judgement_for", "plan_signal"]
