"""ATR trade plan and the rules judge (issue 14, items 1-2): hand-checked maths, the real cassettes' candles,
and the direction-aware rules (predecessor defects 6 and 7)."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.judge import (
    Bias,
    JudgeInputs,
    StructureView,
    VerdictKind,
    judge_rules,
)
from engine.market import Candle, Timeframe, split_candles, utc_from_ms
from engine.modes import Mode, Recommendation
from engine.plan import (
    RISK_MULTIPLIER,
    STOP_RULES,
    PlanUnavailable,
    RiskMode,
    atr_wilder,
    build_plan,
    round_to_tick,
    size_multiplier,
)
from tests.conftest import CASSETTE_NAMES, cassette_body, load_cassette_json

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _candle(i: int, high: float, low: float, close: float) -> Candle:
    return Candle(T0 + timedelta(hours=4 * i), close, high, low, close, 1.0)


def cassette_candles(name: str) -> tuple[list[Candle], float]:
    """The cassette's closed Binance 4h klines (``[openTime, open, high, low, close, volume, closeTime,
    quoteVolume, ...]``) split at its clock, and its last price."""
    cassette = load_cassette_json(name)
    klines = cassette_body(cassette, "binance", "/fapi/v1/klines", symbol="BTCUSDT", interval="4h")
    candles = [
        Candle(utc_from_ms(k[0]), float(k[1]), float(k[2]), float(k[3]), float(k[4]), float(k[5]), float(k[7]))
        for k in klines
    ]
    closed = split_candles(candles, timedelta(hours=4), utc_from_ms(cassette["clock"])).closed
    price = float(cassette_body(cassette, "binance", "/fapi/v1/ticker/24hr", symbol="BTCUSDT")["lastPrice"])
    return list(closed), price


def reference_atr(candles: list[Candle], period: int = 14) -> float:
    """Wilder's ATR written the other way round: RMA with alpha 1/period over TR, seeded by the SMA."""
    trs = [max(c.high - c.low, abs(c.high - p.close), abs(c.low - p.close)) for p, c in itertools.pairwise(candles)]
    rma = sum(trs[:period]) / period
    alpha = 1.0 / period
    for tr in trs[period:]:
        rma = alpha * tr + (1 - alpha) * rma
    return rma


# ---------------------------------------------------------------- ATR and sizes, by hand


def test_atr_of_constant_ranges_is_the_range() -> None:
    candles = [_candle(i, 110.0, 100.0, 105.0) for i in range(30)]
    assert atr_wilder(candles) == pytest.approx(10.0)


def test_atr_counts_gaps_through_the_previous_close() -> None:
    # 15 candles: each opens where the last closed, then one gaps up by 20 with a range of 2
    candles = [_candle(i, 101.0, 99.0, 100.0) for i in range(15)]
    candles.append(_candle(15, 122.0, 120.0, 121.0))  # TR = 122 - 100 = 22
    first = 2.0  # mean of the first 14 TRs
    assert atr_wilder(candles) == pytest.approx((first * 13 + 22.0) / 14)


def test_atr_needs_fifteen_closed_candles() -> None:
    with pytest.raises(PlanUnavailable, match="15 closed candles"):
        atr_wilder([_candle(i, 2.0, 1.0, 1.5) for i in range(14)])


@pytest.mark.parametrize(
    ("atr_pct", "risk", "expected"),
    [
        (1.0, RiskMode.NORMAL, 2.0),  # 3.0 / 1 = 3, clamped to 2
        (2.0, RiskMode.NORMAL, 1.5),
        (20.0, RiskMode.NORMAL, 0.25),  # 0.15 clamped up to 0.25
        (2.0, RiskMode.AGGRESSIVE, 2.25),  # the multiplier scales after the clamp
        (2.0, RiskMode.REDUCED, 0.75),
        (1.0, RiskMode.AVOID, 0.0),  # AVOID is size 0, never 2x (defect 7)
    ],
)
def test_size_multiplier(atr_pct: float, risk: RiskMode, expected: float) -> None:
    assert size_multiplier(atr_pct, risk) == pytest.approx(expected)


def test_round_to_tick_prints_the_ticks_decimals() -> None:
    assert round_to_tick(96513.734, 0.1) == 96513.7
    assert round_to_tick(1.23456, 0.25) == 1.25
    assert round_to_tick(0.30000000000000004, 0.1) == 0.3
    assert round_to_tick(123.456, None) == 123.456


def test_round_to_tick_in_a_direction_is_exact_on_the_grid() -> None:
    assert round_to_tick(117427.731, 0.01, "up") == 117427.74
    assert round_to_tick(117427.739, 0.01, "down") == 117427.73
    # float noise is not a tick: 117427.73 / 0.01 is 11742772.999999998 in binary
    assert round_to_tick(117427.73, 0.01, "down") == 117427.73
    assert round_to_tick(117427.73, 0.01, "up") == 117427.73
    assert round_to_tick(0.1 + 0.2, 0.1, "up") == 0.3


@pytest.mark.parametrize("side", [Recommendation.LONG, Recommendation.SHORT])
def test_stops_round_away_from_entry_and_targets_toward_it(side: Recommendation) -> None:
    """ATR 10.15 (ranges of 10.15), entry 105, tick 1, NORMAL (2 ATR, 2.5 R:R): the rule's stop is 20.3 away;
    on the 1.0 grid the stop goes to 21 away (the nearest tick, 20, would be tighter than the rule) and the
    target, 2.5 x 21 = 52.5 away, to 52 (never promising more than the rule's reward:risk)."""
    candles = [_candle(i, 110.15, 100.0, 105.0) for i in range(30)]
    plan = build_plan(side, 105.0, candles, RiskMode.NORMAL, tick_size=1.0)
    assert plan.atr == pytest.approx(10.15)
    if side is Recommendation.LONG:
        assert (plan.stop, plan.take_profit) == (84.0, 157.0)  # 105 - 21, 105 + 52
    else:
        assert (plan.stop, plan.take_profit) == (126.0, 53.0)  # 105 + 21, 105 - 52
    risk = abs(plan.entry - plan.stop)
    assert risk >= plan.atr * STOP_RULES[RiskMode.NORMAL].atr_multiple
    assert abs(plan.take_profit - plan.entry) <= risk * STOP_RULES[RiskMode.NORMAL].reward_risk


def test_no_plan_without_a_range() -> None:
    """Flat candles (ATR 0) and no tick: the stop and target would sit on the entry; no plan is honest."""
    candles = [_candle(i, 105.0, 105.0, 105.0) for i in range(30)]
    with pytest.raises(PlanUnavailable, match=r"ATR 0\.0 "):
        build_plan(Recommendation.LONG, 105.0, candles, RiskMode.NORMAL)


def test_no_plan_for_neutral() -> None:
    candles = [_candle(i, 110.0, 100.0, 105.0) for i in range(30)]
    with pytest.raises(PlanUnavailable, match="NEUTRAL"):
        build_plan(Recommendation.NEUTRAL, 105.0, candles, RiskMode.NORMAL)


# ---------------------------------------------------------------- plans on the real cassettes


@pytest.mark.parametrize("name", CASSETTE_NAMES)
@pytest.mark.parametrize("side", [Recommendation.LONG, Recommendation.SHORT])
@pytest.mark.parametrize("risk", list(RiskMode))
def test_plan_on_cassette(name: str, side: Recommendation, risk: RiskMode) -> None:
    candles, price = cassette_candles(name)
    plan = build_plan(side, price, candles, risk, tick_size=0.1)
    atr = reference_atr(candles)
    assert plan.atr == pytest.approx(atr, rel=1e-12)
    assert plan.atr_pct == pytest.approx(atr / candles[-1].close * 100, abs=1e-4)
    rule = STOP_RULES[risk]
    risk_distance = abs(plan.entry - plan.stop)
    assert risk_distance == pytest.approx(atr * rule.atr_multiple, abs=0.1)  # within a tick
    assert risk_distance >= atr * rule.atr_multiple - 1e-9  # the stop is never tighter than the rule
    reward = abs(plan.take_profit - plan.entry)
    assert reward == pytest.approx(risk_distance * rule.reward_risk, abs=0.1)
    assert reward <= risk_distance * rule.reward_risk + 1e-9  # the target never promises more
    if side is Recommendation.LONG:
        assert plan.stop < plan.entry < plan.take_profit
    else:  # a SHORT's stop is above entry, its target below
        assert plan.take_profit < plan.entry < plan.stop
    for value in (plan.entry, plan.stop, plan.take_profit):
        assert round(value * 10) == pytest.approx(value * 10, abs=1e-6)  # on the 0.1 tick grid
    expected_size = min(2.0, max(0.25, 3.0 / (atr / candles[-1].close * 100))) * RISK_MULTIPLIER[risk]
    assert plan.size_multiplier == pytest.approx(expected_size, abs=1e-4)


def test_cassette_plans_as_served() -> None:
    """The numbers the README quotes: NORMAL plans on each cassette's last price (tick 0.1)."""
    observed: dict[str, tuple[float, float, float]] = {}
    for name in CASSETTE_NAMES:
        candles, price = cassette_candles(name)
        plan = build_plan(Recommendation.SHORT, price, candles, RiskMode.NORMAL, 0.1)
        observed[name] = (plan.entry, round(plan.atr_pct, 2), plan.size_multiplier)
    assert observed["btc-2025-11-14-latest.json"][0] == 96513.7
    assert observed["btc-2025-11-14-latest.json"][1] == pytest.approx(1.97, abs=0.01)
    assert observed["btc-2025-07-11-rising.json"][2] == 2.0  # ATR 1.15 %: 3 / 1.15 > 2, clamped


# ---------------------------------------------------------------- the rules judge, direction-aware


def inputs(side: Recommendation, **overrides: Any) -> JudgeInputs:
    thresholds = Mode.AGGRESSIVE.thresholds
    base: dict[str, Any] = {
        "side": side,
        "score": 70.0 if side is Recommendation.LONG else 30.0,
        "confidence": 65.0,
        "thresholds": thresholds,
        "factor_scores": [("momentum", 80.0 if side is Recommendation.LONG else 20.0), ("funding", 50.0)],
        "rsi": 55.0 if side is Recommendation.LONG else 45.0,
        "funding_pct_8h": 0.01,
        "quote_volume_24h": 2e9,
        "structure": StructureView(Bias.BULLISH if side is Recommendation.LONG else Bias.BEARISH, "test"),
        "missing": {},
    }
    base.update(overrides)
    return JudgeInputs(**base)


@pytest.mark.parametrize("side", [Recommendation.LONG, Recommendation.SHORT])
def test_a_clean_call_is_confirmed_in_either_direction(side: Recommendation) -> None:
    """Defect 6: the predecessor never confirmed a SHORT."""
    verdict = judge_rules(inputs(side))
    assert (verdict.verdict, verdict.risk_mode) == (VerdictKind.CONFIRM, RiskMode.AGGRESSIVE)
    assert all(c.passed for c in verdict.checks)


@pytest.mark.parametrize(
    ("side", "field", "value", "check"),
    [
        (Recommendation.LONG, "rsi", 70.5, "rsi"),
        (Recommendation.SHORT, "rsi", 29.5, "rsi"),
        (Recommendation.LONG, "funding_pct_8h", 0.11, "funding"),
        (Recommendation.SHORT, "funding_pct_8h", -0.11, "funding"),
        (Recommendation.LONG, "quote_volume_24h", 9_999_999.0, "volume_24h"),
        (Recommendation.SHORT, "quote_volume_24h", 9_999_999.0, "volume_24h"),
    ],
)
def test_a_failed_hard_check_skips(side: Recommendation, field: str, value: float, check: str) -> None:
    verdict = judge_rules(inputs(side, **{field: value}))
    assert (verdict.verdict, verdict.risk_mode) == (VerdictKind.SKIP, RiskMode.AVOID)
    failed = verdict.check(check)
    assert failed is not None and failed.passed is False and failed.value == value


@pytest.mark.parametrize(
    ("side", "field", "value"),
    [
        (Recommendation.LONG, "rsi", 75.0),  # overbought does not hurt a SHORT...
        (Recommendation.SHORT, "rsi", 25.0),  # ... and oversold does not hurt a LONG
        (Recommendation.LONG, "funding_pct_8h", 0.3),  # crowded longs hurt a LONG, not a SHORT
        (Recommendation.SHORT, "funding_pct_8h", -0.3),
    ],
)
def test_checks_read_the_calls_own_direction(side: Recommendation, field: str, value: float) -> None:
    other = Recommendation.SHORT if side is Recommendation.LONG else Recommendation.LONG
    assert judge_rules(inputs(side, **{field: value})).verdict is VerdictKind.SKIP
    assert judge_rules(inputs(other, **{field: value})).verdict is VerdictKind.CONFIRM


def test_three_conflicting_factors_skip() -> None:
    against = [("a", 40.0), ("b", 30.0), ("c", 45.0), ("d", 50.0), ("e", 80.0)]  # 50 abstains
    verdict = judge_rules(inputs(Recommendation.LONG, factor_scores=against))
    check = verdict.check("conflicting_factors")
    assert check is not None and check.value == 3 and check.passed is False
    assert verdict.verdict is VerdictKind.SKIP
    two = judge_rules(inputs(Recommendation.LONG, factor_scores=against[1:]))
    assert two.verdict is VerdictKind.CONFIRM


def test_structure_against_the_call_downsizes() -> None:
    verdict = judge_rules(inputs(Recommendation.SHORT, structure=StructureView(Bias.BULLISH, "BOS up")))
    assert (verdict.verdict, verdict.risk_mode) == (VerdictKind.DOWNSIZE, RiskMode.REDUCED)


def test_unknown_structure_is_never_passed() -> None:
    verdict = judge_rules(inputs(Recommendation.LONG, structure=None, missing={"smc_structure": "too few"}))
    check = verdict.check("smc_structure")
    assert check is not None and check.passed is None and check.value is None and "too few" in check.detail
    # all else is clean, but without structure the call is not AGGRESSIVE
    assert (verdict.verdict, verdict.risk_mode) == (VerdictKind.CONFIRM, RiskMode.NORMAL)


def test_a_missing_hard_input_waits() -> None:
    verdict = judge_rules(inputs(Recommendation.LONG, quote_volume_24h=None, missing={"volume_24h": "no ticker"}))
    assert (verdict.verdict, verdict.risk_mode) == (VerdictKind.WAIT, RiskMode.AVOID)


def test_thin_margin_downsizes() -> None:
    verdict = judge_rules(inputs(Recommendation.SHORT, score=44.0))  # 1 point under short_max 45
    margin = verdict.check("threshold_margin")
    assert margin is not None and margin.value == 1.0 and margin.passed is False
    assert verdict.verdict is VerdictKind.DOWNSIZE


def test_neutral_is_not_judged() -> None:
    with pytest.raises(ValueError, match="LONG and SHORT"):
        judge_rules(inputs(Recommendation.NEUTRAL))


def test_cassette_timeframe_is_4h() -> None:
    candles, _ = cassette_candles(CASSETTE_NAMES[0])
    assert candles[1].open_time - candles[0].open_time == Timeframe.H4.duration


def test_missing_inputs_are_named_and_the_call_waits() -> None:
    """Ten closed candles and no ticker: RSI, volume and structure are missing with their reasons, so the
    rules WAIT (AVOID) rather than guess, and the plan cannot be built (ATR14 needs 15 candles)."""
    from resolvers.judge import judge_inputs
    from tests.history_helpers import make_signal

    made = make_signal(recommendation=Recommendation.LONG)
    funding = [dataclasses.replace(f, raw_value=0.01) if f.name.value == "funding" else f for f in made.factors]
    signal = dataclasses.replace(made, factors=tuple(funding))  # a calm 0.01 % per 8 h: passes
    candles = tuple(_candle(i, 110.0, 100.0, 105.0) for i in range(10))
    facts = judge_inputs(signal, candles, None, "binance.ticker24hr: HTTP 451")
    assert facts.rsi is None and "needs 15 closed candles, got 10" in facts.missing["rsi"]
    assert facts.missing["volume_24h"] == "binance.ticker24hr: HTTP 451"
    verdict = judge_rules(facts)
    assert [c.name for c in verdict.checks if c.passed is False] == []
    assert (verdict.verdict, verdict.risk_mode) == (VerdictKind.WAIT, RiskMode.AVOID)
    volume = verdict.check("volume_24h")
    assert volume is not None and volume.passed is None and "HTTP 451" in volume.detail
    with pytest.raises(PlanUnavailable, match="15 closed candles"):
        build_plan(Recommendation.LONG, 105.0, candles, verdict.risk_mode)
