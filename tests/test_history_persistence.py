"""Signal history on a real PostgreSQL (one embedded server per session, a fresh database per test):
migrations, repository, spool under an outage, keyset pagination, outcomes and analytics."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest

import persistence
from engine import FactorName, Mode, Recommendation
from engine.market import Candle, CandleInterval
from engine.outcomes import Outcome, Verdict, evaluate_outcome
from engine.stats import wilson_interval
from persistence.migrate import Migration, MigrationError, apply_migrations, load_migrations
from persistence.outcomes import OutcomeJob, RegistryCandleSource, grid_start
from persistence.recorder import HistoryRecorder
from persistence.repository import DueOutcome, Keyset, OutcomeRepository, SignalRepository
from persistence.rows import SignalRow
from persistence.spool import Spool
from providers.registry import Registry
from providers.venue import Capability, MarketProvider
from tests.history_helpers import (
    T0,
    fresh_database,
    make_signal,
    restart_server,
    session_server,
    stop_server,
    table_ids,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from persistence.db import Database
    from providers.symbols import Instrument

H = timedelta(hours=1)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database(tmp_path) as (database, _url):
        yield database


def row(**kwargs: object) -> SignalRow:
    return SignalRow.from_signal(make_signal(**kwargs), uuid.uuid4())  # type: ignore[arg-type]


# -- migrations ------------------------------------------------------------------------------------------


def documented_schema() -> tuple[set[tuple[str, str, str, str]], dict[str, str]]:
    """The column (of tables and views) and index lines of persistence/__init__.py's docstring."""
    columns: set[tuple[str, str, str, str]] = set()
    indexes: dict[str, str] = {}
    for line in (persistence.__doc__ or "").splitlines():
        if m := re.fullmatch(r"\s+(\w+)\.(\w+)\s+(.+?)\s+(NOT NULL|NULL)", line):
            columns.add((m[1], m[2], m[3], m[4]))
        elif m := re.fullmatch(r"\s+index (\w+)\s+(.+)", line):
            indexes[m[1]] = m[2].strip()
    return columns, indexes


async def test_migrations_yield_the_documented_schema_and_rerun_is_a_no_op(tmp_path: Path) -> None:
    async with fresh_database(tmp_path, migrate=False) as (database, _), database.connection() as conn:
        applied = await apply_migrations(conn)
        assert [(m.version, m.name) for m in applied] == [
            (1, "signals"),
            (2, "outcomes"),
            (3, "api_keys"),
            (4, "signals_with_outcomes"),
            (5, "watchlist"),
            (6, "verdicts"),
            (7, "alerts"),
            (8, "watchlist_owners"),
        ]
        records = await conn.fetch(
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_schema = 'public'"
        )
        actual_columns = {
            (r["table_name"], r["column_name"], r["data_type"], "NULL" if r["is_nullable"] == "YES" else "NOT NULL")
            for r in records
        }
        actual_indexes = {}
        for r in await conn.fetch("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"):
            m = re.search(r"ON public\.(\w+) USING btree \((.+)\)$", r["indexdef"])
            assert m is not None, r["indexdef"]
            actual_indexes[r["indexname"]] = f"{m[1]} ({m[2]})"
        expected_columns, expected_indexes = documented_schema()
        # the docstring parsed (+20 columns, +4 indexes: migration 0007, alerts; +13 columns: 0006, verdicts;
        # +12 columns, +3 indexes: 0005, watchlist; +1 column, +1 index: 0008, watchlist owners)
        assert len(expected_columns) == 54 + 20 + 13 + 12 + 1 and len(expected_indexes) == 9 + 4 + 3 + 1
        assert actual_columns == expected_columns
        assert actual_indexes == expected_indexes

        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        assert [(r["version"], r["name"], r["checksum"]) for r in rows] == [
            (m.version, m.name, m.checksum) for m in load_migrations()
        ]
        assert await apply_migrations(conn) == []  # re-running changes nothing
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(load_migrations())


async def test_a_changed_migration_is_refused_and_a_failing_one_leaves_nothing(db: Database) -> None:
    first, *rest = shipped = load_migrations()
    async with db.connection() as conn:
        changed = dataclasses.replace(first, sql=first.sql + "\n-- edited after release\n")
        with pytest.raises(MigrationError, match="0001_signals was changed"):
            await apply_migrations(conn, [changed, *rest])
        broken = Migration(
            len(shipped) + 1, "broken", "CREATE TABLE half_done (x int); SELECT no_such_column FROM signals;"
        )
        with pytest.raises(Exception, match="no_such_column"):
            await apply_migrations(conn, [*shipped, broken])
        assert await conn.fetchval("SELECT to_regclass('half_done') IS NULL")
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == len(shipped)


async def test_open_database_without_url_starts_the_embedded_server(tmp_path: Path) -> None:
    from persistence.db import open_database

    async with open_database(None, tmp_path, min_size=1, max_size=2) as database, database.connection() as conn:
        assert database.embedded
        assert (tmp_path / "postgres" / "PG_VERSION").exists()
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(load_migrations())
        assert int(await conn.fetchval("SHOW server_version_num")) >= 140000


# -- repository ------------------------------------------------------------------------------------------


async def test_insert_dedups_repeats_in_the_window_and_is_idempotent_by_id(db: Database) -> None:
    repo = SignalRepository(db, dedup_window_seconds=900)
    first = row(score=70.0)
    assert await repo.insert(first)
    assert not await repo.insert(first)  # a replay of the same id
    assert not await repo.insert(row(score=70.4, at=T0 + timedelta(minutes=10)))  # repeat: |Δscore| < 0.5
    assert not await repo.insert(row(score=69.6, at=T0 - timedelta(minutes=14)))  # either side of the window
    kept = [
        row(score=70.5, at=T0 + timedelta(minutes=10)),  # score moved by 0.5
        row(score=70.0, at=T0 + timedelta(minutes=15)),  # window is 900 s, exclusive
        row(score=70.0, mode=Mode.ULTRA),
        row(score=70.0, symbol="ETHUSDT"),
        row(score=30.0, recommendation=Recommendation.SHORT),
    ]
    assert await repo.insert_many(kept) == [r.id for r in kept]
    assert sorted(map(str, await table_ids(db))) == sorted(str(r.id) for r in [first, *kept])

    no_dedup = SignalRepository(db, dedup_window_seconds=0)
    assert await no_dedup.insert(row(score=70.0))


async def test_the_score_tolerance_is_the_configured_value_on_every_write_path(db: Database) -> None:
    """The tolerance reaches the SQL as a parameter: a wider one makes a 1.5-point move a repeat on the
    single-row path, the batch path and the in-batch filter alike; the default (0.5) does not."""
    wide = SignalRepository(db, dedup_window_seconds=900, dedup_score_tolerance=2.0)
    assert await wide.insert(row(score=70.0))
    assert not await wide.insert(row(score=71.5, at=T0 + timedelta(minutes=5)))
    assert await wide.insert_batch([row(score=68.5, at=T0 + timedelta(minutes=5))]) == []
    later = [row(score=60.0, at=T0 + 2 * H), row(score=61.5, at=T0 + 2 * H + timedelta(minutes=1))]
    assert wide.without_repeats(later) == later[:1]
    assert await wide.insert_many(later) == [later[0].id]  # row by row, the second sees the first

    default = SignalRepository(db, dedup_window_seconds=900)
    moved = row(score=71.5, at=T0 + timedelta(minutes=5))
    assert default.dedup_score_tolerance == 0.5
    assert await default.insert_batch([moved]) == [moved.id]


async def test_rows_round_trip_with_jsonb_and_neutral_is_never_stored(db: Database, tmp_path: Path) -> None:
    repo = SignalRepository(db)
    stored = row(factor_scores={FactorName.FUNDING: 80.0, FactorName.SOCIAL: None})
    await repo.insert(stored)
    page = await repo.page(first=5)
    assert page.items[0].row == stored and page.items[0].outcomes == ()
    assert not page.has_next_page

    with pytest.raises(ValueError, match="NEUTRAL"):
        row(recommendation=Recommendation.NEUTRAL)
    recorder = HistoryRecorder(repo, Spool(tmp_path / "spool"))
    await recorder.start()
    assert recorder.submit(make_signal(recommendation=Recommendation.NEUTRAL)) is None
    recorder.record(make_signal(recommendation=Recommendation.NEUTRAL, at=T0 + H))
    long_id = recorder.submit(make_signal(at=T0 + 2 * H))
    await recorder.flush()
    await recorder.aclose()
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM signals WHERE recommendation NOT IN ('LONG', 'SHORT')") == 0
    assert set(await table_ids(db)) == {stored.id, long_id}
    async with db.connection() as conn:  # the table refuses it too
        with pytest.raises(Exception, match="check constraint"):
            await conn.execute(
                "UPDATE signals SET recommendation = $1 WHERE id = $2", Recommendation.NEUTRAL.value, long_id
            )


# -- spool and recorder ----------------------------------------------------------------------------------


async def test_spool_appends_durably_survives_a_torn_line_and_replays_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    a, b, c = row(score=70), row(score=71), row(score=72)
    spool.append([a])
    with spool.active.open("ab") as f:  # a crash mid-write
        f.write(b'{"id": "torn')
    spool.append([b, c])
    assert [r.id for r in spool.pending_rows()] == [a.id, b.id, c.id]

    seen: list[SignalRow] = []

    async def insert(rows: list[SignalRow]) -> None:
        seen.extend(rows)

    assert await spool.replay(insert) == 3
    assert [r.id for r in seen] == [a.id, b.id, c.id] and seen[0] == a
    assert not spool.has_pending()

    async def failing(rows: list[SignalRow]) -> None:
        raise OSError("database down")

    spool.append([a])
    with pytest.raises(OSError):
        await spool.replay(failing)
    assert spool.has_pending() and [r.id for r in spool.pending_rows()] == [a.id]  # kept for the next try


async def test_a_full_queue_spools_instead_of_blocking_and_close_drains(db: Database, tmp_path: Path) -> None:
    repo = SignalRepository(db, dedup_window_seconds=0)
    spool = Spool(tmp_path / "spool")
    recorder = HistoryRecorder(repo, spool, queue_size=2, replay_interval_seconds=0.05)
    ids = [recorder.submit(make_signal(score=60.0 + i, at=T0 + i * H)) for i in range(5)]  # not started yet
    assert len(spool.pending_rows()) == 3 and recorder.spooling
    await recorder.start()
    for _ in range(200):
        if not spool.has_pending() and not recorder.spooling:
            break
        await asyncio.sleep(0.02)
    await recorder.flush()
    await recorder.aclose()
    assert sorted(map(str, await table_ids(db))) == sorted(map(str, ids))


async def test_database_outage_mid_stream_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    server = session_server()
    async with fresh_database(tmp_path) as (database, _url):
        repo = SignalRepository(database, dedup_window_seconds=900)
        spool = Spool(tmp_path / "spool")
        recorder = HistoryRecorder(repo, spool, replay_interval_seconds=0.05, write_timeout_seconds=2.0)
        await recorder.start()
        recorded: list[uuid.UUID] = []
        neutral = 0
        stop = asyncio.Event()

        async def produce() -> None:
            nonlocal neutral
            i = 0
            while not stop.is_set():
                rec = (Recommendation.LONG, Recommendation.SHORT, Recommendation.NEUTRAL)[i % 3]
                score = {Recommendation.LONG: 60.0, Recommendation.SHORT: 40.0, Recommendation.NEUTRAL: 50.0}[rec]
                # distinct scores: no two are repeats of each other, so every LONG/SHORT must be stored
                signal = make_signal(
                    recommendation=rec,
                    score=score + (i % 40) * 0.5 * (1 if score > 50 else -1),
                    symbol=f"C{i // 40}USDT",
                    at=T0 + i * timedelta(seconds=1),
                )
                got = recorder.submit(signal)
                if got is None:
                    neutral += 1
                else:
                    recorded.append(got)
                i += 1
                await asyncio.sleep(0.002)

        producer = asyncio.create_task(produce())
        await asyncio.sleep(0.3)
        await recorder.flush()
        before = len(recorded)
        await asyncio.to_thread(stop_server, server)  # the database goes away mid-stream
        try:
            await asyncio.sleep(0.4)
            await recorder.flush()
            assert recorder.spooling and spool.has_pending()
            during = len(recorded) - before
        finally:
            await asyncio.to_thread(restart_server, server)
        await asyncio.sleep(0.3)
        stop.set()
        await producer
        for _ in range(250):
            await recorder.flush()
            if not recorder.spooling and not spool.has_pending():
                break
            await asyncio.sleep(0.02)
        await recorder.aclose()

        ids = await table_ids(database)
        assert before > 20 and during > 20 and neutral > 0
        assert len(ids) == len(set(ids))  # (the primary key, but said out loud)
        assert set(ids) == set(recorded)
        assert not spool.has_pending()


# -- keyset pagination -----------------------------------------------------------------------------------


async def test_keyset_pages_skip_and_repeat_nothing_while_rows_arrive(db: Database) -> None:
    repo = SignalRepository(db, dedup_window_seconds=0)
    initial = [row(score=55.0 + (i % 40) * 0.1, at=T0 + (i // 3) * timedelta(minutes=1)) for i in range(150)]
    await repo.insert_many(initial)  # ties: three rows per generated_at
    done = asyncio.Event()
    inserted_during: list[uuid.UUID] = []
    arrived = asyncio.Event()

    async def insert_concurrently() -> None:
        i = 0
        while not done.is_set():
            # before, inside and after the existing range, including exact ties
            at = T0 + ((i * 7) % 60 - 5) * timedelta(minutes=1)
            new = row(score=60.0, at=at)
            await repo.insert(new)
            inserted_during.append(new.id)
            arrived.set()
            i += 1
            await asyncio.sleep(0)

    inserter = asyncio.create_task(insert_concurrently())
    seen: list[tuple[datetime, uuid.UUID]] = []
    after: Keyset | None = None
    while True:
        page = await repo.page(first=7, after=after)
        seen.extend((s.row.generated_at, s.row.id) for s in page.items)
        arrived.clear()
        await arrived.wait()  # at least one row arrives between any two pages
        if not page.has_next_page:
            break
        after = page.end
    done.set()
    await inserter

    ids = [i for _, i in seen]
    assert len(ids) == len(set(ids))  # nothing repeated
    assert {r.id for r in initial} <= set(ids)  # nothing that existed at the start skipped
    assert seen == sorted(seen, reverse=True)  # newest first, ties by id
    assert len(inserted_during) >= len(initial) // 7  # rows really arrived while paging


# -- outcomes --------------------------------------------------------------------------------------------


def price_path(symbol: str, t: datetime) -> float:
    """BTC rises 0.01 per minute from 100 at T0; ETH falls 0.02 per minute from 200; SOL rises slowly."""
    minutes = (t - T0).total_seconds() / 60
    return {"BTCUSDT": 100 + 0.01 * minutes, "ETHUSDT": 200 - 0.02 * minutes, "SOLUSDT": 50 + 0.001 * minutes}[symbol]


class FakeVenue(MarketProvider):
    """Candles from :func:`price_path` (high/low 0.5 beyond open/close), ending at the job's ``now``."""

    capabilities = frozenset({Capability.CANDLES})

    def __init__(self, name: str, now: Callable[[], datetime], fail: bool = False) -> None:
        self.name = name
        self._now = now
        self._fail = fail
        self.calls: list[tuple[str, CandleInterval, int]] = []

    async def candles(self, instrument: Instrument, interval: CandleInterval, limit: int) -> tuple[Candle, ...]:
        self.calls.append((instrument.canonical, interval, limit))
        if self._fail:
            raise ConnectionError("venue down")
        step = interval.duration
        last = datetime.fromtimestamp(
            math.floor(self._now().timestamp() / step.total_seconds()) * step.total_seconds(), tz=T0.tzinfo
        )
        out = []
        for k in range(limit - 1, -1, -1):
            t = last - k * step
            o, c = price_path(instrument.canonical, t), price_path(instrument.canonical, t + step)
            out.append(Candle(t, o, max(o, c) + 0.5, min(o, c) - 0.5, c, 1.0))
        return tuple(out)


async def test_outcome_job_evaluates_due_signals_from_venue_candles(db: Database) -> None:
    now = T0 + 30 * H
    signals = SignalRepository(db, dedup_window_seconds=0)
    a = row(symbol="BTCUSDT", at=T0, price=100.0)  # on the 5-minute grid
    b = row(
        symbol="ETHUSDT", recommendation=Recommendation.SHORT, at=T0 + timedelta(minutes=2, seconds=30), price=200.0
    )
    c = row(symbol="BTCUSDT", at=now - 2 * H, price=price_path("BTCUSDT", now - 2 * H))  # only 1 h is due
    d = row(symbol="SOLUSDT", at=now - 100 * H + timedelta(minutes=10), price=46.0)  # too old for 5 m candles
    e = row(symbol="BTCUSDT", at=now - timedelta(minutes=30))  # nothing due
    await signals.insert_many([a, b, c, d, e])
    binance = FakeVenue("binance", lambda: now)
    registry = Registry(providers={"okx": FakeVenue("okx", lambda: now), "binance": binance}, status={})
    job = OutcomeJob(OutcomeRepository(db), RegistryCandleSource(registry))

    assert await job.run_once(now) == 3 + 3 + 1 + 3
    assert await job.run_once(now) == 0  # stored once
    assert {(s, i) for s, i, _ in binance.calls} == {
        ("BTCUSDT", CandleInterval.M5),
        ("ETHUSDT", CandleInterval.M5),
        ("SOLUSDT", CandleInterval.H1),
    }
    async with db.connection() as conn:
        records = await conn.fetch("SELECT * FROM signal_outcomes")
    by_key = {(r["signal_id"], r["horizon_hours"]): r for r in records}
    assert {k[1] for k in by_key if k[0] == c.id} == {1} and not any(k[0] == e.id for k in by_key)

    # by hand: A is a LONG at 100, BTC at 100.6 one hour later; highs/lows 0.5 beyond the path
    a1 = by_key[(a.id, 1)]
    assert a1["return_pct"] == pytest.approx(0.6) and a1["verdict"] == "WIN"
    assert a1["max_favourable_pct"] == pytest.approx(1.1) and a1["max_adverse_pct"] == pytest.approx(0.5)
    assert a1["exit_price"] == pytest.approx(100.6) and a1["price_source"] == "binance:5m"
    # B is a SHORT at 200 at 20:02:30, measured from 20:05: ETH at 198.7 at 21:05
    b1 = by_key[(b.id, 1)]
    assert b1["window_start"] == T0 + timedelta(minutes=5)
    assert b1["return_pct"] == pytest.approx(0.65) and b1["verdict"] == "WIN"
    assert b1["max_favourable_pct"] == pytest.approx(0.9) and b1["max_adverse_pct"] == pytest.approx(0.2)
    # every stored outcome is engine.outcomes' answer on the same candles
    for (signal_id, hours), record in by_key.items():
        src = next(s for s in (a, b, c, d) if s.id == signal_id)
        interval = CandleInterval.M5 if src.symbol != "SOLUSDT" else CandleInterval.H1
        start = grid_start(src.generated_at, interval)
        venue = FakeVenue("x", lambda: now)
        candles = await venue.candles(registry_instrument(src.symbol), interval, 1000)
        expected = evaluate_outcome(
            Recommendation(src.recommendation), src.price, start, hours * H, candles, interval.duration
        )
        assert expected is not None
        assert record["return_pct"] == pytest.approx(expected.return_pct)
        assert record["verdict"] == expected.verdict.value
        assert record["window_start"] == start


def registry_instrument(symbol: str) -> Instrument:
    from providers.symbols import parse_symbol

    return parse_symbol(symbol)


async def test_outcome_job_falls_back_to_the_next_venue_and_survives_failures(db: Database) -> None:
    now = T0 + 2 * H
    await SignalRepository(db).insert(row(at=T0))
    registry = Registry(
        providers={"binance": FakeVenue("binance", lambda: now, fail=True), "okx": FakeVenue("okx", lambda: now)},
        status={},
    )
    job = OutcomeJob(OutcomeRepository(db), RegistryCandleSource(registry))
    assert await job.run_once(now) == 1
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT price_source FROM signal_outcomes") == "okx:5m"

    await SignalRepository(db).insert(row(at=T0, symbol="ETHUSDT"))
    dead = Registry(providers={"binance": FakeVenue("binance", lambda: now, fail=True)}, status={})
    assert await OutcomeJob(OutcomeRepository(db), RegistryCandleSource(dead)).run_once(now) == 0  # logged, not raised


# -- analytics -------------------------------------------------------------------------------------------


async def store_outcome(db: Database, signal: SignalRow, hours: int, return_pct: float, verdict: Verdict) -> None:
    due = DueOutcome(signal.id, signal.symbol, signal.recommendation, signal.price, signal.generated_at, hours)
    outcome = Outcome(return_pct, max(return_pct, 0.0), max(-return_pct, 0.0), 101.0, verdict)
    assert await OutcomeRepository(db).insert(due, outcome, window_start=signal.generated_at, price_source="test:5m")


async def test_performance_and_factor_agreement_by_hand(db: Database) -> None:
    repo = SignalRepository(db, dedup_window_seconds=0)
    bull = {FactorName.FUNDING: 80.0, FactorName.SOCIAL: 50.0, FactorName.FEAR_GREED: None, FactorName.MOMENTUM: 30.0}
    s1 = row(at=T0, factor_scores=bull)  # LONG, aggressive
    s2 = row(at=T0 + H, factor_scores=bull)  # LONG, aggressive
    s3 = row(at=T0 + 2 * H, recommendation=Recommendation.SHORT, factor_scores=bull)  # SHORT, aggressive
    s4 = row(at=T0 + 3 * H, mode=Mode.ULTRA, factor_scores=bull)  # LONG, ultra
    s5 = row(at=T0 + 4 * H, symbol="ETHUSDT")  # another symbol
    s6 = row(at=T0 + 5 * H)  # not evaluated yet: pending
    await repo.insert_many([s1, s2, s3, s4, s5, s6])
    await store_outcome(db, s1, 24, 2.0, Verdict.WIN)
    await store_outcome(db, s2, 24, -1.0, Verdict.LOSS)
    await store_outcome(db, s3, 24, 3.0, Verdict.WIN)
    await store_outcome(db, s4, 24, 0.05, Verdict.FLAT)
    await store_outcome(db, s5, 24, 5.0, Verdict.WIN)
    await store_outcome(db, s1, 1, -0.5, Verdict.LOSS)

    report = await repo.performance(horizon_hours=24, symbol="BTCUSDT")
    overall = report.overall.summary
    assert (overall.count, overall.wins, report.overall.losses, report.overall.flats) == (4, 2, 1, 1)
    assert overall.win_rate == pytest.approx(0.5)
    assert overall.win_rate_ci95 == wilson_interval(2, 4)
    assert overall.win_rate_ci95 is not None and round(overall.win_rate_ci95.low, 4) == 0.1500
    assert overall.mean_return_pct == pytest.approx((2.0 - 1.0 + 3.0 + 0.05) / 4)
    assert overall.median_return_pct == pytest.approx((0.05 + 2.0) / 2)
    assert report.pending == 1
    long, short = report.by_recommendation
    assert (long.key, long.summary.count, long.summary.wins, short.key, short.summary.count) == (
        "LONG",
        3,
        1,
        "SHORT",
        1,
    )
    modes = {g.key: g.summary for g in report.by_mode}
    assert (modes["aggressive"].count, modes["ultra"].count, modes["conservative"].count) == (3, 1, 0)
    assert modes["conservative"].win_rate is None and modes["aggressive"].win_rate == pytest.approx(2 / 3)
    assert (await repo.performance(horizon_hours=24, mode="ultra")).overall.summary.count == 1
    assert (await repo.performance(horizon_hours=24, start=T0 + H, end=T0 + 3 * H)).overall.summary.count == 2
    assert (await repo.performance(horizon_hours=1)).overall.summary.count == 1

    insights = await repo.insights("BTCUSDT", horizon_hours=24, recent=3)
    assert [s.row.id for s in insights.recent] == [s6.id, s4.id, s3.id]
    factors = {f.factor: f for f in insights.factors}
    # FUNDING at 80 sides with a LONG (s1 WIN: agreed; s2 LOSS: disagreed; s4 FLAT) and opposes the SHORT
    # s3, which WON: disagreed. MOMENTUM at 30 is the mirror image. SOCIAL at 50 and FEAR_GREED abstain.
    funding = factors["funding"]
    assert (funding.agreed, funding.disagreed, funding.flat, funding.abstained) == (1, 2, 1, 0)
    assert funding.rate == pytest.approx(1 / 3) and funding.rate_ci95 == wilson_interval(1, 3)
    momentum = factors["momentum"]
    assert (momentum.agreed, momentum.disagreed, momentum.flat) == (2, 1, 1)
    assert (factors["social"].abstained, factors["social"].rate) == (4, None)
    assert factors["fear_greed"].abstained == 4
    assert len(insights.factors) == 8 and insights.recent[1].outcomes[0].verdict == "FLAT"


# -- runtime ---------------------------------------------------------------------------------------------


async def test_open_history_records_and_runs_the_job_and_degrades_without_a_database(tmp_path: Path) -> None:
    from persistence.runtime import HistoryConfig, open_history

    now = T0 + 2 * H
    registry = Registry(providers={"binance": FakeVenue("binance", lambda: now)}, status={})
    async with fresh_database(tmp_path, migrate=False) as (_db, url):
        config = HistoryConfig(
            database_url=url, data_dir=tmp_path, pool_min=1, pool_max=2, replay_interval_seconds=0.05
        )
        async with open_history(config, RegistryCandleSource(registry), clock=lambda: now) as runtime:
            assert runtime.available and runtime.recorder is not None and runtime.database is not None
            runtime.recorder.record(make_signal(at=T0))
            runtime.recorder.record(make_signal(recommendation=Recommendation.NEUTRAL, at=T0))
            await runtime.recorder.flush()
            assert runtime.job is not None
            await runtime.job.run_once(now)  # (its own loop may have been first: either way, stored once)
            async with runtime.database.connection() as conn:
                assert await conn.fetchval("SELECT count(*) FROM signals") == 1
                assert await conn.fetchval("SELECT count(*) FROM signal_outcomes") == 1

    nowhere = HistoryConfig(database_url=f"postgresql://postgres@/x?host={tmp_path / 'no-server'}", data_dir=tmp_path)
    async with open_history(nowhere, RegistryCandleSource(registry)) as runtime:
        assert not runtime.available and runtime.recorder is None
