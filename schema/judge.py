"""``Signal.plan`` and ``Signal.verdict``: the ATR trade plan and the judge's verdict, resolved only when
selected (the plan reads the cached candles and ticker; the verdict may cost one budgeted AI call).

One assessment per signal object: when both fields are selected, the candles and ticker are read once.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import strawberry

from engine.judge import DecidedBy, VerdictKind
from engine.outcomes import ExitFirst
from engine.plan import RiskMode
from resolvers.judge import assess, judge_assessed
from schema.enums import described

if TYPE_CHECKING:
    from engine import Signal as EngineSignal
    from engine.judge import Verdict as EngineVerdict
    from engine.plan import TradePlan as EngineTradePlan
    from resolvers.context import RequestContext
    from resolvers.judge import Assessment

JudgeVerdictEnum = described(
    VerdictKind,
    "JudgeVerdict",
    "What the judge says to do with a LONG or SHORT call.",
    {
        VerdictKind.CONFIRM: "Take the trade at the plan's size.",
        VerdictKind.DOWNSIZE: "Take it smaller (risk mode REDUCED): structure against it or a thin margin.",
        VerdictKind.SKIP: "Do not take it: a hard check failed (RSI, funding, volume or conflicting factors).",
        VerdictKind.WAIT: "Not now: a hard check could not be made for missing data.",
    },
)
RiskModeEnum = described(
    RiskMode,
    "RiskMode",
    "How much risk the judge allows; it scales the ATR size and sets the stop distance.",
    {
        RiskMode.AVOID: "Size 0: do not trade (stop and take-profit shown at the REDUCED distances for reference).",
        RiskMode.REDUCED: "Half size; stop 2.5 ATR, take-profit 3.0 R.",
        RiskMode.NORMAL: "Full size; stop 2.0 ATR, take-profit 2.5 R.",
        RiskMode.AGGRESSIVE: "1.5x size; stop 1.5 ATR, take-profit 2.0 R.",
    },
)
ExitFirstEnum = described(
    ExitFirst,
    "ExitFirst",
    "Which leg of the stored trade plan the price reached first within the horizon.",
    {
        ExitFirst.TAKE_PROFIT: "The take-profit was reached before the stop.",
        ExitFirst.STOP: "The stop was reached before the take-profit.",
        ExitFirst.NEITHER: "Neither level was reached within the horizon.",
        ExitFirst.SAME_BAR: "Both inside one candle: the order within it is unknown, so neither is claimed.",
    },
)
DecidedByEnum = described(
    DecidedBy,
    "DecidedBy",
    "Which judge gave the verdict.",
    {
        DecidedBy.AI: "The AI judge (OpenAI structured output).",
        DecidedBy.RULES: "The keyless rules (no key set, or the AI fell back: see fallbackReason).",
    },
)


@strawberry.type(
    description="ATR trade plan for a LONG or SHORT: entry at the last price, stop and take-profit from ATR14 "
    "(Wilder) of the timeframe's closed candles, rounded to the venue's tick."
)
class TradePlan:
    entry: float = strawberry.field(description="Entry: the signal's last price (USDT), on the tick grid.")
    stop: float = strawberry.field(
        description="Stop-loss (USDT): entry − ATR × the risk mode's multiple for a LONG, + for a SHORT."
    )
    take_profit: float = strawberry.field(
        description="Take-profit (USDT): the stop distance × the risk mode's reward:risk, on the call's side."
    )
    atr: float = strawberry.field(description="ATR14 (Wilder) in USDT on the signal timeframe's closed candles.")
    atr_pct: float = strawberry.field(description="ATR as a percent of the last closed candle's close.")
    size_multiplier: float = strawberry.field(
        description="Fraction of a normal position: clamp(3.0 / atrPct, 0.25, 2.0) × the risk multiplier "
        "(AVOID 0, REDUCED 0.5, NORMAL 1, AGGRESSIVE 1.5)."
    )
    risk_mode: RiskModeEnum = strawberry.field(  # type: ignore[valid-type]
        description="The risk mode the plan was built with: the rules judge's (the same with or without AI)."
    )

    @classmethod
    def from_json(cls, p: dict[str, Any]) -> TradePlan:
        """A plan as stored with a signal (engine.plan.TradePlan.to_json)."""
        return cls(
            entry=float(p["entry"]),
            stop=float(p["stop"]),
            take_profit=float(p["take_profit"]),
            atr=float(p["atr"]),
            atr_pct=float(p["atr_pct"]),
            size_multiplier=float(p["size_multiplier"]),
            risk_mode=RiskMode(p["risk_mode"]),
        )

    @classmethod
    def of(cls, p: EngineTradePlan) -> TradePlan:
        return cls(
            entry=p.entry,
            stop=p.stop,
            take_profit=p.take_profit,
            atr=p.atr,
            atr_pct=p.atr_pct,
            size_multiplier=p.size_multiplier,
            risk_mode=p.risk_mode,
        )


@strawberry.type(description="One rule check of the judge, made in the call's own direction.")
class VerdictCheck:
    name: str = strawberry.field(
        description="rsi, funding, volume_24h, conflicting_factors, smc_structure or threshold_margin."
    )
    value: float | None = strawberry.field(
        description="What was checked (RSI, funding % per 8h, USD volume, a count, +1/0/-1 structure, score "
        "points); null when the input was unavailable."
    )
    passed: bool | None = strawberry.field(
        description="Whether the call passed; null when it could not be checked (never counted as passed)."
    )
    detail: str = strawberry.field(description="The check in words, with its threshold.")


@strawberry.type(description="The judge's verdict on a LONG or SHORT call, with every rule check behind it.")
class TradeVerdict:
    verdict: JudgeVerdictEnum = strawberry.field(description="CONFIRM, DOWNSIZE, SKIP or WAIT.")  # type: ignore[valid-type]
    risk_mode: RiskModeEnum = strawberry.field(description="AVOID, REDUCED, NORMAL or AGGRESSIVE.")  # type: ignore[valid-type]
    decided_by: DecidedByEnum = strawberry.field(description="AI or RULES.")  # type: ignore[valid-type]
    fallback_reason: str | None = strawberry.field(
        description="Why the AI did not decide (timeout, refusal, invalid answer, budget spent); null when it "
        "did or when no key is set."
    )
    reason: str = strawberry.field(description="The verdict in one line (the AI's reason, or the rules that fired).")
    checks: list[VerdictCheck] = strawberry.field(description="Every rule check, passed or not.")

    @classmethod
    def of(cls, v: EngineVerdict) -> TradeVerdict:
        return cls(
            verdict=v.verdict,
            risk_mode=v.risk_mode,
            decided_by=v.decided_by,
            fallback_reason=v.fallback_reason,
            reason=v.reason,
            checks=[VerdictCheck(name=c.name, value=c.value, passed=c.passed, detail=c.detail) for c in v.checks],
        )


async def _assessment(ctx: RequestContext, holder: Any, signal: EngineSignal) -> Assessment | None:
    """The signal's assessment, made once per signal object (plan and verdict share it)."""
    task: asyncio.Future[Assessment | None] | None = holder.assessing
    if task is None:
        task = asyncio.ensure_future(assess(ctx, signal))
        holder.assessing = task
    return await asyncio.shield(task)


async def resolve_plan(ctx: RequestContext, holder: Any) -> TradePlan | None:
    signal: EngineSignal | None = holder.engine_signal
    if signal is None:
        return None
    a = await _assessment(ctx, holder, signal)
    return None if a is None or a.plan is None else TradePlan.of(a.plan)


async def resolve_plan_missing(ctx: RequestContext, holder: Any) -> str | None:
    signal: EngineSignal | None = holder.engine_signal
    if signal is None:
        return None
    a = await _assessment(ctx, holder, signal)
    return None if a is None else a.plan_error


async def resolve_verdict(ctx: RequestContext, holder: Any) -> TradeVerdict | None:
    signal: EngineSignal | None = holder.engine_signal
    if signal is None:
        return None
    a = await _assessment(ctx, holder, signal)
    return None if a is None else TradeVerdict.of(await judge_assessed(ctx, a))
