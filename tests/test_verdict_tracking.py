"""Verdict tracking (issue 14, item 4): plan, verdict and judge path stored with each LONG/SHORT (migration
0006), the outcome job's stop-or-take-profit-first from candles, and performance by verdict and by judge
with counts and Wilson intervals, checked by hand on a fresh embedded PostgreSQL."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from engine.judge import Check, DecidedBy, Judgement, Verdict, VerdictKind
from engine.market import Candle, CandleInterval
from engine.modes import Recommendation
from engine.outcomes import ExitFirst, first_exit
from engine.plan import RiskMode, TradePlan
from engine.stats import wilson_interval
from persistence.outcomes import OutcomeJob
from persistence.repository import OutcomeRepository, SignalRepository
from persistence.rows import SignalRow
from tests.history_helpers import T0, fresh_database, make_signal

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from pathlib import Path

    from persistence.db import Database

H = timedelta(hours=1)
M5 = timedelta(minutes=5)


def bars(path: Sequence[tuple[float, float]], start: datetime = T0, step: timedelta = M5) -> list[Candle]:
    """Candles from (low, high) pairs; open and close at the middle."""
    return [Candle(start + i * step, (lo + hi) / 2, hi, lo, (lo + hi) / 2, 1.0) for i, (lo, hi) in enumerate(path)]


# ---------------------------------------------------------------- first_exit, by hand


@pytest.mark.parametrize(
    ("side", "path", "expected"),
    [
        (Recommendation.LONG, [(99.5, 100.5), (99.0, 104.9), (102.0, 105.0)], ExitFirst.TAKE_PROFIT),
        (Recommendation.LONG, [(99.5, 100.5), (98.0, 101.0), (100.0, 106.0)], ExitFirst.STOP),
        (Recommendation.LONG, [(97.9, 105.1)], ExitFirst.SAME_BAR),
        (Recommendation.LONG, [(98.1, 104.9)] * 3, ExitFirst.NEITHER),
        # a SHORT at 100, stop 102, target 95: mirrored
        (Recommendation.SHORT, [(99.0, 101.0), (95.0, 100.0)], ExitFirst.TAKE_PROFIT),
        (Recommendation.SHORT, [(99.0, 102.0), (90.0, 100.0)], ExitFirst.STOP),
    ],
)
def test_first_exit(side: Recommendation, path: list[tuple[float, float]], expected: ExitFirst) -> None:
    stop, target = (98.0, 105.0) if side is Recommendation.LONG else (102.0, 95.0)
    horizon = M5 * len(path)
    assert first_exit(side, stop, target, T0, horizon, bars(path), M5) is expected


def test_first_exit_waits_for_the_whole_horizon() -> None:
    assert first_exit(Recommendation.LONG, 98.0, 105.0, T0, H, bars([(99.0, 101.0)] * 3), M5) is None


# ---------------------------------------------------------------- stored with the signal


def verdict(kind: VerdictKind, by: DecidedBy, reason: str | None = None) -> Verdict:
    risk = RiskMode.AVOID if kind in (VerdictKind.SKIP, VerdictKind.WAIT) else RiskMode.NORMAL
    return Verdict(kind, risk, by, reason, (Check("rsi", 55.0, True, "RSI14 55"),), "by hand")


def judged(side: Recommendation, final: Verdict, rules: Verdict, price: float = 100.0) -> Judgement:
    long = side is Recommendation.LONG
    plan = TradePlan(
        side,
        price,
        price - 2 if long else price + 2,
        price + 5 if long else price - 5,
        1.0,
        1.0,
        2.0,
        RiskMode.NORMAL,
        0.1,
    )
    return Judgement(plan=plan, verdict=final, rules=rules)


def stored(side: Recommendation, judgement: Judgement | None, at: datetime = T0, symbol: str = "BTCUSDT") -> SignalRow:
    return SignalRow.from_signal(make_signal(recommendation=side, at=at, symbol=symbol), uuid.uuid4(), judgement)


def test_the_judgement_survives_the_spool_line() -> None:
    confirm = verdict(VerdictKind.CONFIRM, DecidedBy.AI)
    skip = verdict(VerdictKind.SKIP, DecidedBy.RULES)
    row = stored(Recommendation.SHORT, judged(Recommendation.SHORT, confirm, skip))
    back = SignalRow.from_json(row.to_json())
    assert back == row
    assert (back.verdict, back.decided_by, back.rules_verdict, back.risk_mode) == ("CONFIRM", "AI", "SKIP", "NORMAL")
    assert back.plan is not None and (back.plan["stop"], back.plan["take_profit"]) == (102.0, 95.0)
    old = {k: v for k, v in row.to_json().items() if k not in ("verdict", "plan", "decided_by")}  # pre-0006 line
    assert SignalRow.from_json(old).verdict is None


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database(tmp_path) as (database, _url):
        yield database


class PathCandles:
    """5-minute candles per symbol: BTC climbs 0.05 per bar from 100 (a LONG reaches +5 after 100 bars, a
    SHORT's stop at +2 after 40); ETH falls 0.05 per bar from 100. Ranges of 0.1 around the path."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    async def candles(self, symbol: str, interval: CandleInterval, limit: int) -> tuple[str, Sequence[Candle]]:
        step = interval.duration
        last = datetime.fromtimestamp(
            math.floor(self.now.timestamp() / step.total_seconds()) * step.total_seconds(), tz=T0.tzinfo
        )
        slope = 0.05 if symbol == "BTCUSDT" else -0.05
        out = []
        for k in range(limit - 1, -1, -1):
            t = last - k * step
            n = (t - T0) / M5
            mid = 100 + slope * n
            out.append(Candle(t, mid, mid + 0.05, mid - 0.05, mid + slope, 1.0))
        return "test", out


async def test_stored_judgements_outcomes_and_performance_by_verdict_and_judge(db: Database) -> None:
    signals = SignalRepository(db, dedup_window_seconds=0)
    ai_confirm = verdict(VerdictKind.CONFIRM, DecidedBy.AI)
    rules_confirm = verdict(VerdictKind.CONFIRM, DecidedBy.RULES)
    rules_skip = verdict(VerdictKind.SKIP, DecidedBy.RULES, "AI timeout after 10s")
    # BTC rises: LONGs win (take-profit at +5 within 24 h), SHORTs lose (stop at +2 first)
    a = stored(Recommendation.LONG, judged(Recommendation.LONG, ai_confirm, rules_skip), T0)  # AI overrode a SKIP
    b = stored(Recommendation.LONG, judged(Recommendation.LONG, rules_confirm, rules_confirm), T0 + H)
    c = stored(Recommendation.SHORT, judged(Recommendation.SHORT, rules_skip, rules_skip), T0 + 2 * H)
    d = stored(Recommendation.SHORT, None, T0 + 3 * H)  # stored without a judgement (before 0006)
    await signals.insert_many([a, b, c, d])

    now = T0 + 30 * H
    job = OutcomeJob(OutcomeRepository(db), PathCandles(now), horizons_hours=(24,))
    assert await job.run_once(now) == 4
    async with db.connection() as conn:
        exits = {r["signal_id"]: r["exit_first"] for r in await conn.fetch("SELECT * FROM signal_outcomes")}
    # a LONG at ~100 with its target at 105 (100 bars of +0.05) and stop at 98; a SHORT's stop at 102 first
    assert exits == {a.id: "TAKE_PROFIT", b.id: "TAKE_PROFIT", c.id: "STOP", d.id: None}

    report = await signals.performance(horizon_hours=24)
    by_verdict = {g.key: g for g in report.by_verdict}
    assert [g.key for g in report.by_verdict] == ["CONFIRM", "DOWNSIZE", "SKIP", "WAIT"]
    confirm, skip = by_verdict["CONFIRM"], by_verdict["SKIP"]
    assert (confirm.summary.count, confirm.summary.wins, confirm.take_profit_first, confirm.stop_first) == (2, 2, 2, 0)
    assert confirm.summary.win_rate_ci95 == wilson_interval(2, 2)
    assert (skip.summary.count, skip.summary.wins, skip.losses, skip.stop_first) == (1, 0, 1, 1)
    assert by_verdict["DOWNSIZE"].summary.count == 0 and by_verdict["DOWNSIZE"].summary.win_rate is None
    by_judge = {g.key: g for g in report.by_judge}
    assert (by_judge["AI"].summary.count, by_judge["AI"].summary.wins) == (1, 1)
    assert (by_judge["RULES"].summary.count, by_judge["RULES"].summary.wins) == (2, 1)
    assert by_judge["RULES"].summary.win_rate_ci95 == wilson_interval(1, 2)
    # the rules' own verdicts on the same rows: they would have skipped a, which won
    by_rules = {g.key: g for g in report.by_rules_verdict}
    assert (by_rules["SKIP"].summary.count, by_rules["SKIP"].summary.wins) == (2, 1)
    assert (by_rules["CONFIRM"].summary.count, by_rules["CONFIRM"].summary.wins) == (1, 1)
    assert report.overall.summary.count == 4  # the unjudged row counts overall, in no verdict group

    page = await signals.page(first=10)
    latest = {s.row.id: s for s in page.items}
    assert latest[a.id].row.decided_by == "AI" and latest[a.id].row.plan == a.plan
    assert latest[a.id].outcomes[0].exit_first == "TAKE_PROFIT"
    assert latest[d.id].row.verdict is None and latest[d.id].outcomes[0].exit_first is None

    insights = await signals.insights("BTCUSDT", horizon_hours=24)
    assert {g.key: g.summary.count for g in insights.performance.by_judge} == {"AI": 1, "RULES": 2}


@pytest.mark.parametrize(
    ("name", "side", "first_month"),
    [
        ("btc-2025-07-11-rising.json", Recommendation.LONG, ExitFirst.STOP),  # stopped on 2025-08-01
        ("btc-2025-10-11-falling.json", Recommendation.SHORT, ExitFirst.TAKE_PROFIT),  # target on 2025-11-04
    ],
)
def test_first_exit_on_the_real_history(name: str, side: Recommendation, first_month: ExitFirst) -> None:
    """The NORMAL plan of each cassette moment, on the recorded BTC 4h candles that followed it."""
    from engine.market import utc_from_ms
    from engine.plan import build_plan
    from tests.conftest import load_cassette_json
    from tests.test_backtest_support import real_history

    bar = timedelta(hours=4)
    clock = utc_from_ms(load_cassette_json(name)["clock"])
    candles = real_history().candles
    closed = [c for c in candles if c.open_time + bar <= clock][-200:]
    later = [c for c in candles if c.open_time + bar > clock]
    plan = build_plan(side, closed[-1].close, closed, RiskMode.NORMAL, 0.1)
    start = closed[-1].open_time + bar
    assert first_exit(side, plan.stop, plan.take_profit, start, timedelta(days=7), later, bar) is ExitFirst.NEITHER
    month = first_exit(side, plan.stop, plan.take_profit, start, timedelta(days=30), later, bar)
    assert month is first_month
    # the same answer by a plain scan of the month's highs and lows
    long = side is Recommendation.LONG
    hit = next(
        (
            c
            for c in later[:180]
            if (
                c.low <= plan.stop or c.high >= plan.take_profit
                if long
                else c.high >= plan.stop or c.low <= plan.take_profit
            )
        ),
        None,
    )
    assert hit is not None
    stopped = hit.low <= plan.stop if long else hit.high >= plan.stop
    assert (ExitFirst.STOP if stopped else ExitFirst.TAKE_PROFIT) is first_month
