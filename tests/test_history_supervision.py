"""Durability underneath the API: group commit, the spool's size cap, and the database supervisor (an
embedded PostgreSQL killed with SIGKILL is restarted and the pool reopened; an external one is only
reported)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from engine import Recommendation
from persistence.db import DatabaseSupervisor
from persistence.recorder import Durability, HistoryRecorder
from persistence.repository import SignalRepository
from persistence.rows import SignalRow
from persistence.spool import Spool, SpoolFull
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

    from engine import Signal
    from persistence.db import Database

S = timedelta(seconds=1)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database(tmp_path) as (database, _url):
        yield database


async def _eventually(condition: Callable[[], bool], *, seconds: float) -> None:
    """Wait for ``condition``, polling; bounded in count and time."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not true within {seconds}s")


def _signals(n: int) -> list[Signal]:
    """``n`` distinct LONG/SHORT signals (distinct times: none is a repeat of another)."""
    return [
        make_signal(recommendation=(Recommendation.LONG, Recommendation.SHORT)[i % 2], at=T0 + i * S) for i in range(n)
    ]


async def test_concurrent_requests_share_group_commits_and_every_row_is_in_before_persist_returns(
    db: Database, tmp_path: Path
) -> None:
    recorder = HistoryRecorder(SignalRepository(db, dedup_window_seconds=0), Spool(tmp_path / "spool"))
    signals = _signals(60)
    outcomes = await asyncio.gather(*(recorder.persist(s) for s in signals))
    assert set(outcomes) == {Durability.DATABASE}
    stats = recorder.stats()
    assert stats.committed_rows == 60 and stats.commits < 60  # batched: fewer transactions than rows
    assert len(await table_ids(db)) == 60  # in the table when persist returned, not later
    neutral = make_signal(recommendation=Recommendation.NEUTRAL)
    assert await recorder.persist(neutral) is Durability.NOT_STORED
    await recorder.aclose()


async def test_database_down_spools_within_the_commit_timeout_and_replays_on_recovery(tmp_path: Path) -> None:
    server = session_server()
    async with fresh_database(tmp_path) as (database, _url):
        spool = Spool(tmp_path / "spool")
        recorder = HistoryRecorder(
            SignalRepository(database, dedup_window_seconds=0),
            spool,
            commit_timeout_seconds=1.0,
            replay_interval_seconds=0.1,
        )
        await recorder.start()
        supervisor = DatabaseSupervisor(database, min_size=1, max_size=2, interval_seconds=0.1)
        await asyncio.to_thread(stop_server, server)
        try:
            async with asyncio.timeout(5):
                outcomes = await asyncio.gather(*(recorder.persist(s) for s in _signals(10)))
            assert set(outcomes) == {Durability.SPOOL} and recorder.spooling
            assert spool.stats().records == 10
            assert not await supervisor.check()  # an external server: reported, never restarted
            health = supervisor.health()
            assert not health.up and health.restarts == 0 and health.last_error
        finally:
            await asyncio.to_thread(restart_server, server)
        assert await supervisor.check()
        await _eventually(lambda: not recorder.spooling and not spool.stats().records, seconds=10)
        assert len(await table_ids(database)) == 10
        await recorder.aclose()


def _row(i: int) -> SignalRow:
    import uuid

    return SignalRow.from_signal(make_signal(at=T0 + i * S), uuid.uuid4())


def test_spool_cap_refuses_counts_and_says_so_and_room_comes_back_after_replay(tmp_path: Path) -> None:
    one = len(__import__("orjson").dumps(_row(0).to_json())) + 1
    spool = Spool(tmp_path, max_bytes=3 * one + one // 2)  # room for three rows
    spool.append([_row(0), _row(1)])
    spool.append([_row(2)])
    with pytest.raises(SpoolFull):
        spool.append([_row(3), _row(4)])  # would pass the cap: nothing of the batch is written
    stats = spool.stats()
    assert (stats.records, stats.refused_rows, stats.over_cap) == (3, 2, True)
    assert stats.bytes == 3 * one and len(spool.pending_rows()) == 3

    reopened = Spool(tmp_path, max_bytes=spool.max_bytes)  # sizes survive a restart (scanned once)
    assert (reopened.stats().records, reopened.stats().bytes) == (3, 3 * one)

    async def insert(rows: list[SignalRow]) -> None:
        return None

    assert asyncio.run(spool.replay(insert)) == 3
    stats = spool.stats()
    assert (stats.records, stats.bytes, stats.over_cap, stats.refused_rows) == (0, 0, False, 2)
    spool.append([_row(5)])  # room again
    assert spool.stats().records == 1


async def test_past_the_cap_with_the_database_down_the_answer_goes_out_and_the_rows_are_counted(
    tmp_path: Path,
) -> None:
    server = session_server()
    async with fresh_database(tmp_path) as (database, _url):
        one = len(__import__("orjson").dumps(_row(0).to_json())) + 1
        spool = Spool(tmp_path / "spool", max_bytes=2 * one + 10)
        recorder = HistoryRecorder(
            SignalRepository(database, dedup_window_seconds=0), spool, commit_timeout_seconds=1.0
        )
        await asyncio.to_thread(stop_server, server)
        try:
            outcomes = [await recorder.persist(s) for s in _signals(5)]
        finally:
            await asyncio.to_thread(restart_server, server)
        assert outcomes.count(Durability.SPOOL) == 2 and outcomes.count(Durability.LOST) == 3
        assert recorder.stats().not_durable == {"spool_full": 3}
        assert spool.stats().over_cap and spool.stats().refused_rows == 3
        await recorder.aclose()


async def test_supervisor_restarts_a_killed_embedded_postgres_and_reopens_the_pool(tmp_path: Path) -> None:
    from persistence.outcomes import RegistryCandleSource
    from persistence.runtime import HistoryConfig, open_history
    from providers.registry import Registry

    restarts: list[int] = []
    # not under pytest's base temp: a concurrent pytest session re-restricts it to its owner, and the
    # embedded server runs as another user when the tests run as root
    data_dir = Path(tempfile.mkdtemp(prefix="supervised-pg-"))
    config = HistoryConfig(
        database_url=None,  # the embedded server, in data_dir/postgres
        data_dir=data_dir,
        pool_min=1,
        pool_max=2,
        dedup_window_seconds=0,
        replay_interval_seconds=0.1,
        run_outcome_job=False,
        commit_timeout_seconds=1.0,
        supervisor_interval_seconds=0.2,
    )
    registry = Registry(providers={}, status={})
    hook = lambda: restarts.append(1)  # noqa: E731
    async with open_history(config, RegistryCandleSource(registry), on_embedded_restart=hook) as runtime:
        assert runtime.database is not None and runtime.supervisor is not None and runtime.recorder is not None
        assert runtime.database.server is not None
        first = _signals(3)
        assert [await runtime.recorder.persist(s) for s in first] == [Durability.DATABASE] * 3
        old_pool, old_pid = runtime.database.pool, runtime.database.server.get_pid()
        assert old_pid is not None
        os.kill(old_pid, signal.SIGKILL)  # the postmaster dies without a word

        during = _signals(6)[3:]
        got = [await runtime.recorder.persist(s) for s in during]
        assert Durability.LOST not in got  # to the database (after the restart) or to the spool

        supervisor, recorder, spool = runtime.supervisor, runtime.recorder, runtime.spool
        assert spool is not None
        await _eventually(lambda: bool(supervisor.restarts) and supervisor.up, seconds=60)
        await _eventually(lambda: not recorder.spooling and not spool.stats().records, seconds=10)
        assert restarts == [1] and runtime.supervisor.health().restarts == 1
        assert runtime.database.server.get_pid() != old_pid and runtime.database.pool is not old_pool
        after = make_signal(recommendation=Recommendation.SHORT, at=T0 + 100 * S)
        assert await runtime.recorder.persist(after) is Durability.DATABASE
        assert len(await table_ids(runtime.database)) == 7
    shutil.rmtree(data_dir, ignore_errors=True)


async def test_a_batch_in_one_statement_stores_what_row_by_row_inserts_store(tmp_path: Path) -> None:
    """Group commit's ``insert_batch`` applies the dedup rule exactly as ``insert_many`` does: repeats
    within the batch, repeats of stored rows, and an id given twice."""
    import uuid

    def batch() -> list[SignalRow]:
        rows = [
            SignalRow.from_signal(make_signal(score=70.0, at=T0), uuid.uuid4()),
            SignalRow.from_signal(make_signal(score=70.3, at=T0 + 60 * S), uuid.uuid4()),  # repeat of the first
            SignalRow.from_signal(make_signal(score=71.0, at=T0 + 60 * S), uuid.uuid4()),  # score 1 apart: kept
            SignalRow.from_signal(make_signal(score=70.0, at=T0 + 2000 * S), uuid.uuid4()),  # outside the window
            SignalRow.from_signal(make_signal(symbol="ETHUSDT", score=70.0, at=T0), uuid.uuid4()),
            SignalRow.from_signal(
                make_signal(recommendation=Recommendation.SHORT, score=30.0, at=T0 + 10 * S), uuid.uuid4()
            ),
        ]
        return [*rows, rows[4]]  # the same id twice

    stored = SignalRow.from_signal(make_signal(symbol="ETHUSDT", score=70.2, at=T0 - 30 * S), uuid.uuid4())
    results = []
    for method in ("insert_many", "insert_batch"):
        async with fresh_database(tmp_path / method) as (database, _url):
            repo = SignalRepository(database, dedup_window_seconds=900)
            await repo.insert(stored)
            rows = batch()
            inserted = await getattr(repo, method)(rows)
            position = {row.id: i for i, row in enumerate(rows)}
            results.append(sorted(position[i] for i in inserted))
            assert sorted(map(str, await table_ids(database))) == sorted(map(str, [stored.id, *inserted]))
    assert results[0] == results[1] == [0, 2, 3, 5]


async def test_without_a_database_at_start_up_rows_are_spooled_and_the_next_start_replays_them(
    tmp_path: Path,
) -> None:
    from persistence.outcomes import RegistryCandleSource
    from persistence.runtime import HistoryConfig, open_history
    from providers.registry import Registry

    registry = RegistryCandleSource(Registry(providers={}, status={}))
    nowhere = HistoryConfig(
        database_url=f"postgresql://postgres@/x?host={tmp_path / 'no-server'}", data_dir=tmp_path / "data"
    )
    async with open_history(nowhere, registry) as runtime:
        assert not runtime.available and runtime.fallback is not None and runtime.spool is not None
        got = [await runtime.fallback.persist(s) for s in _signals(3)]
        assert got == [Durability.SPOOL] * 3 and runtime.spool.stats().records == 3
        assert runtime.fallback.stats().spooled_rows == 3
    async with fresh_database(tmp_path / "db") as (database, url):
        config = HistoryConfig(
            database_url=url,
            data_dir=tmp_path / "data",
            dedup_window_seconds=0,
            replay_interval_seconds=0.05,
            run_outcome_job=False,
        )
        async with open_history(config, registry) as runtime:
            assert runtime.recorder is not None and runtime.spool is not None
            spool, recorder = runtime.spool, runtime.recorder
            await _eventually(lambda: not spool.stats().records and not recorder.spooling, seconds=10)
        assert len(await table_ids(database)) == 3


async def test_a_hung_database_costs_a_request_the_commit_timeout_not_more(tmp_path: Path) -> None:
    """A commit that neither answers nor lets go (its rollback waits too) is abandoned at the timeout:
    the batch is spooled and the request answered; the commit cleans up in the background."""

    class Hung:
        dedup_window_seconds = 0.0
        cleaned = 0

        async def insert_batch(self, rows: list[SignalRow]) -> list[object]:
            try:
                await asyncio.sleep(3600)
            finally:
                await asyncio.sleep(0.5)  # a rollback on a hung server: slow too
                Hung.cleaned += 1
            return []

    spool = Spool(tmp_path / "spool")
    recorder = HistoryRecorder(Hung(), spool, commit_timeout_seconds=0.2)  # type: ignore[arg-type]
    started = asyncio.get_running_loop().time()
    outcomes = await asyncio.gather(*(recorder.persist(s) for s in _signals(5)))
    waited = asyncio.get_running_loop().time() - started
    assert set(outcomes) == {Durability.SPOOL} and waited < 0.45  # not 0.2 + 0.5
    assert spool.stats().records == 5 and recorder.spooling
    await _eventually(lambda: Hung.cleaned == 1, seconds=3)
