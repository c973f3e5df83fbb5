"""The backtest runs in a worker process under a wall-clock budget: a typed timeout, bounded concurrency,
an event loop that keeps ticking meanwhile, and no server path in any answer."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
import strawberry
from strawberry.tools import merge_types

from engine import Mode
from engine.backtest import BacktestReport
from resolvers.backtest import BacktestService, BacktestTimedOut, HistoryMissing
from schema.backtest import BacktestQuery
from tests.test_backtest_support import real_history_dir

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

SCHEMA = strawberry.Schema(query=merge_types("Query", (BacktestQuery,)))


@pytest.fixture
async def slow_service() -> AsyncIterator[BacktestService]:
    """The real history (a run is ~1 s of CPU, plus a worker's start) with a 50 ms budget, one worker."""
    service = BacktestService(real_history_dir(), timeout_seconds=0.05, workers=1)
    yield service
    service.close()


async def _ticker(gaps: list[float], stop: asyncio.Event) -> None:
    last = time.perf_counter()
    for _ in range(6_000):  # bounded: at most ~60 s of 10 ms ticks
        if stop.is_set():
            return
        await asyncio.sleep(0.01)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now


async def test_timeout_is_typed_the_loop_ticks_and_the_late_report_is_kept(slow_service: BacktestService) -> None:
    gaps: list[float] = []
    stop = asyncio.Event()
    ticking = asyncio.create_task(_ticker(gaps, stop))
    first = await slow_service.run("BTC", Mode.AGGRESSIVE, (4, 24), None, None, walk_forward=False)
    assert isinstance(first, BacktestTimedOut) and first.timeout_seconds == 0.05
    # the run goes on in its worker and keeps the only slot: another run waits, then times out as busy
    other = await slow_service.run("BTC", Mode.ULTRA, (4, 24), None, None, walk_forward=False)
    assert isinstance(other, BacktestTimedOut) and "busy" in other.message
    for _ in range(600):  # bounded wait (60 s) for the timed-out run to finish in its worker
        again = await slow_service.run("BTC", Mode.AGGRESSIVE, (4, 24), None, None, walk_forward=False)
        if isinstance(again, BacktestReport):
            break
        await asyncio.sleep(0.1)
    stop.set()
    await ticking
    assert isinstance(again, BacktestReport)  # the late report was cached: the retry is answered at once
    assert again.mode is Mode.AGGRESSIVE
    assert gaps and max(gaps) < 0.5, f"event loop stalled for {max(gaps):.3f} s"


async def test_graphql_answers_backtest_timeout(slow_service: BacktestService) -> None:
    context = SimpleNamespace(services=SimpleNamespace(backtest=slow_service))
    query = "{ backtest(walkForward: false) { __typename ... on BacktestTimeout { code message timeoutSeconds } } }"
    result = await SCHEMA.execute(query, context_value=context)
    assert result.errors is None and result.data is not None
    answer: dict[str, Any] = result.data["backtest"]
    assert answer["__typename"] == "BacktestTimeout" and answer["code"] == "BACKTEST_TIMEOUT"
    assert answer["timeoutSeconds"] == 0.05 and "BACKTEST_TIMEOUT_SECONDS" in answer["message"]


async def test_missing_history_names_files_not_paths(tmp_path: Path) -> None:
    from tests.test_backtest_support import write_synthetic_history

    write_synthetic_history(tmp_path, bars=80)
    (tmp_path / "coinglass" / "btc_funding_binance_btcusdt.csv").unlink()
    service = BacktestService(tmp_path, timeout_seconds=60)
    try:
        missing = await service.run("BTC", Mode.AGGRESSIVE, (4,), None, None, walk_forward=False)
        nowhere = BacktestService(tmp_path / "absent", timeout_seconds=60)
        try:
            absent = await nowhere.run("BTC", Mode.AGGRESSIVE, (4,), None, None, walk_forward=False)
        finally:
            nowhere.close()
    finally:
        service.close()
    assert isinstance(missing, HistoryMissing) and missing.missing == ("btc_funding_binance_btcusdt.csv",)
    assert isinstance(absent, HistoryMissing) and absent.missing == ()
    for answer in (missing, absent):
        assert str(tmp_path) not in answer.message and "/" not in answer.message


async def test_a_dead_worker_is_replaced_for_the_next_run() -> None:
    import os
    import signal
    from concurrent.futures.process import BrokenProcessPool

    service = BacktestService(real_history_dir(), timeout_seconds=60, workers=1)
    try:
        running = asyncio.create_task(service.run("BTC", Mode.AGGRESSIVE, (4,), None, None, walk_forward=False))
        pids: list[int] = []
        for _ in range(300):  # bounded: 30 s for the worker process to exist
            executor = service._executor
            pids = list(executor._processes) if executor is not None and executor._processes else []
            if pids:
                break
            await asyncio.sleep(0.1)
        assert pids, "no worker process started"
        for pid in pids:  # the workers this test's service started
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(BrokenProcessPool):
            await running
        after = await service.run("BTC", Mode.AGGRESSIVE, (4,), None, None, walk_forward=False)
        assert isinstance(after, BacktestReport)
    finally:
        service.close()
