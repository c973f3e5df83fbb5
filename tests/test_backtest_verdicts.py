"""The backtest reports the rules judge's verdicts (issue 14, item 4): the engine's in-sample trades split
by verdict, on the real year of BTC 4h history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.backtest import ANY, ENGINE, BacktestReport, run_backtest, verdict_strategy
from engine.judge import VerdictKind, candle_quote_volume_24h, judge_rules
from engine.market import Candle
from engine.modes import Mode, Recommendation
from tests.test_backtest_support import real_history
from tests.test_trade_plan import T0

BAR = timedelta(hours=4)


def test_quote_volume_24h_from_candles() -> None:
    candles = [Candle(T0 + i * BAR, 1, 1, 1, 1, 1, quote_volume=float(i)) for i in range(10)]
    assert candle_quote_volume_24h(candles, BAR) == sum(range(4, 10))  # the last six 4h bars
    assert candle_quote_volume_24h(candles[:5], BAR) is None  # less than 24 h
    gap = [*candles[:-1], Candle(T0 + 9 * BAR, 1, 1, 1, 1, 1)]
    assert candle_quote_volume_24h(gap, BAR) is None  # a bar without quote volume


@pytest.fixture(scope="module")
def report() -> BacktestReport:
    return run_backtest(real_history(), Mode.AGGRESSIVE, with_walk_forward=False)


def test_verdict_rows_partition_the_engines_trades(report: BacktestReport) -> None:
    rows = {(r.strategy, r.recommendation, r.horizon_hours): r for r in report.rows}
    for rec in ("LONG", "SHORT", ANY):
        for hours in report.horizon_hours:
            engine = rows[ENGINE, rec, hours]
            parts = [rows[verdict_strategy(kind), rec, hours] for kind in VerdictKind]
            assert sum(p.signals for p in parts) == engine.signals
            assert sum(p.summary.count for p in parts) == engine.summary.count
            assert sum(p.summary.wins for p in parts) == engine.summary.wins


def test_each_bar_is_judged_like_the_live_rules(report: BacktestReport) -> None:
    thresholds = report.thresholds
    counts = dict.fromkeys(VerdictKind, 0)
    for d in report.decisions:
        rec = d.recommendation(thresholds)
        if d.score is None or rec is Recommendation.NEUTRAL:
            continue
        assert d.judge is not None
        verdict = judge_rules(d.judge.inputs(rec, d.score, thresholds))
        structure = verdict.check("smc_structure")
        assert structure is not None and structure.passed is None  # not computed in the backtest: never passed
        rsi = verdict.check("rsi")
        assert rsi is not None and rsi.value is not None
        if verdict.verdict is VerdictKind.CONFIRM:
            assert rsi.passed and (rsi.value <= 70 if rec is Recommendation.LONG else rsi.value >= 30)
        counts[verdict.verdict] += 1
    signals = {(r.strategy, r.recommendation): r.signals for r in report.rows if r.horizon_hours == 24}
    assert {k: signals[verdict_strategy(k), ANY] for k in VerdictKind} == counts
    # the real year: the rules skip a share of the engine's calls and confirm most of the rest
    assert counts[VerdictKind.SKIP] > 0 and counts[VerdictKind.CONFIRM] > counts[VerdictKind.SKIP]
