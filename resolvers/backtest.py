"""The backtest service (history directory, worker processes, cached reports) and the ``backtest`` resolver.

The composition root builds one :class:`BacktestService` as ``Services.backtest``; the
GraphQL resolver and the CLI both go through it. A run costs about 1.5 s of CPU, pure Python: in a
thread it would hold the GIL and starve the event loop, so the resolver runs it in a worker *process*
(:meth:`BacktestService.run`), under a wall-clock budget (``timeout_seconds``, answered with
:class:`BacktestTimedOut`) and at most ``workers`` runs at a time. A run past its budget is not killed:
it finishes in its worker (a run is bounded by the history's size), keeps its slot until then, and its
report is cached for the next identical request. The CLI runs in-process (:meth:`BacktestService.report`).

No answer names a server path: messages and ``missing`` come from :func:`resolvers.backtest_worker.unavailable`.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING

import structlog

from engine.backtest import BacktestConfig, BacktestReport, run_backtest
from engine.market import Timeframe
from providers.history_files import load_history
from providers.symbols import InvalidSymbolFormat, parse_symbol
from resolvers import backtest_worker
from resolvers.problems import InvalidArgument

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from concurrent.futures import Future
    from datetime import datetime
    from pathlib import Path

    from engine import Mode
    from engine.backtest import MarketHistory
    from resolvers.context import RequestContext

log = structlog.get_logger(__name__)

DEFAULT_HORIZONS_HOURS = (4, 24)
MAX_HORIZON_HOURS = 24 * 14
DEFAULT_TIMEOUT_SECONDS = 20.0
DEFAULT_WORKERS = 1

# symbol, mode, horizons, start, end, walk-forward, features
_ReportKey = tuple[str, str, tuple[int, ...], object, object, bool, bool]


@dataclass(frozen=True, slots=True)
class HistoryMissing:
    """The history files are not there (or unreadable); ``missing`` names the files looked for (no paths)."""

    message: str
    missing: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BacktestTimedOut:
    """The run (or the wait for a free worker) did not finish within the wall-clock budget."""

    message: str
    timeout_seconds: float


class BacktestService:
    """Knows where the history is, runs backtests in worker processes, and caches recent reports."""

    def __init__(
        self,
        directory: Path,
        *,
        max_reports: int = 16,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        self.directory = directory
        self.timeout_seconds = timeout_seconds
        self.workers = workers
        self._histories: dict[str, MarketHistory] = {}
        self._reports: OrderedDict[_ReportKey, BacktestReport] = OrderedDict()
        self._max_reports = max_reports
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._slots: asyncio.Semaphore | None = None

    def _pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: forking a process that runs an event loop and threads can copy held locks
        if self._executor is None:
            self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self._executor

    def start(self) -> Future[bool]:
        """Start the workers now (spawn plus imports take about a second), not on the first request."""
        return self._pool().submit(backtest_worker.ready)

    def _discard_pool(self) -> None:
        log.error("a backtest worker process died; starting a new pool on the next run")
        self.close()

    def close(self) -> None:
        """Stop taking work; a run in progress finishes in its worker, which then exits."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def _cached(self, key: _ReportKey) -> BacktestReport | None:
        with self._lock:
            cached = self._reports.get(key)
            if cached is not None:
                self._reports.move_to_end(key)
            return cached

    def _store(self, key: _ReportKey, report: BacktestReport) -> None:
        with self._lock:
            self._reports[key] = report
            while len(self._reports) > self._max_reports:
                self._reports.popitem(last=False)

    async def run(
        self,
        symbol: str,
        mode: Mode,
        horizons_hours: Sequence[int],
        start: datetime | None,
        end: datetime | None,
        *,
        walk_forward: bool = True,
    ) -> BacktestReport | HistoryMissing | BacktestTimedOut:
        """Run (or reuse) a backtest in a worker process within ``timeout_seconds`` of wall clock.

        Raises ``ValueError`` for bad inputs (symbol, horizons, a window too short to walk forward)."""
        base = parse_symbol(symbol).base
        horizon_bars = horizons_to_bars(horizons_hours)
        key: _ReportKey = (base, mode.value, horizon_bars, start, end, walk_forward, False)
        cached = self._cached(key)
        if cached is not None:
            return cached
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_seconds
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        slots = self._slots
        try:
            async with asyncio.timeout_at(deadline):
                await slots.acquire()
        except TimeoutError:
            return self._timed_out("every backtest worker stayed busy")
        try:
            future = loop.run_in_executor(
                self._pool(),
                backtest_worker.run,
                str(self.directory),
                base,
                mode,
                horizon_bars,
                start,
                end,
                walk_forward,
            )
        except BaseException as exc:
            slots.release()
            if isinstance(exc, BrokenProcessPool):
                self._discard_pool()
            raise
        future.add_done_callback(lambda done: self._finished(done, slots, key))
        try:
            async with asyncio.timeout_at(deadline):
                outcome = await asyncio.shield(future)
        except TimeoutError:
            return self._timed_out("the backtest did not finish")
        except BrokenProcessPool:  # a worker died (killed, out of memory): a fresh pool for the next run
            self._discard_pool()
            raise
        if isinstance(outcome, backtest_worker.Unavailable):
            log.warning("backtest history unavailable", symbol=base, detail=outcome.detail)
            return HistoryMissing(outcome.message, outcome.missing)
        return outcome

    def _finished(
        self,
        done: asyncio.Future[BacktestReport | backtest_worker.Unavailable],
        slots: asyncio.Semaphore,
        key: _ReportKey,
    ) -> None:
        """The worker is free again; a report (even one past its budget) is kept for the next request."""
        slots.release()
        if done.cancelled() or done.exception() is not None:
            return
        outcome = done.result()
        if isinstance(outcome, BacktestReport):
            self._store(key, outcome)

    def _timed_out(self, what: str) -> BacktestTimedOut:
        return BacktestTimedOut(
            f"{what} within {self.timeout_seconds:g} s (BACKTEST_TIMEOUT_SECONDS); try again shortly",
            self.timeout_seconds,
        )

    def history(self, symbol: str) -> MarketHistory:
        """Raises ``HistoryNotAvailable`` or ``HistoryFormatError`` (``providers.history_files``)."""
        base = parse_symbol(symbol).base
        with self._lock:
            cached = self._histories.get(base)
        if cached is not None:
            return cached
        loaded = load_history(self.directory, base)
        with self._lock:
            return self._histories.setdefault(base, loaded)

    def report(
        self,
        symbol: str,
        mode: Mode,
        horizons_hours: Sequence[int] = DEFAULT_HORIZONS_HOURS,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        walk_forward: bool = True,
        progress: Callable[[int, int], None] | None = None,
        features: bool = False,
    ) -> BacktestReport:
        """Run (or reuse) a backtest. Raises ``ValueError`` for bad inputs, and what :meth:`history` raises.
        ``features``: also compute the CALIBRATED mode's context features per bar (the CLI's evaluation)."""
        base = parse_symbol(symbol).base
        horizon_bars = horizons_to_bars(horizons_hours)
        key: _ReportKey = (base, mode.value, horizon_bars, start, end, walk_forward, features)
        cached = self._cached(key)
        if cached is not None:
            return cached
        history = self.history(base)
        config = BacktestConfig(horizon_bars=horizon_bars, start=start, end=end, features=features)
        report = run_backtest(history, mode, config, with_walk_forward=walk_forward, progress=progress)
        self._store(key, report)
        return report


def horizons_to_bars(horizons_hours: Sequence[int], bar: Timeframe = Timeframe.H4) -> tuple[int, ...]:
    """Whole multiples of the 4 h bar, distinct, at most two weeks; ``ValueError`` naming the bad one."""
    bar_hours = int(bar.duration.total_seconds() // 3600)
    if not horizons_hours:
        raise ValueError("give at least one horizon")
    bars: list[int] = []
    for hours in horizons_hours:
        if hours <= 0 or hours % bar_hours or hours > MAX_HORIZON_HOURS:
            raise ValueError(
                f"horizon {hours}h must be a positive multiple of the {bar_hours}h bar, at most {MAX_HORIZON_HOURS}h"
            )
        if hours // bar_hours in bars:
            raise ValueError(f"horizon {hours}h is given twice")
        bars.append(hours // bar_hours)
    return tuple(bars)


def as_utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is read as UTC (every time in the service is UTC)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


async def resolve_backtest(
    ctx: RequestContext,
    symbol: str,
    mode: Mode,
    horizons_hours: Sequence[int],
    start: datetime | None,
    end: datetime | None,
    walk_forward: bool = True,
) -> BacktestReport | HistoryMissing | BacktestTimedOut | InvalidArgument:
    """Validate, then run in a worker process under the service's wall-clock budget (see the module doc)."""
    if mode.is_calibrated:
        return InvalidArgument(
            "mode",
            "the backtest replays the score's threshold modes; CALIBRATED's out-of-sample evaluation is in the "
            "model query and `signal-api backtest --walk-forward`",
        )
    try:
        parse_symbol(symbol)
    except InvalidSymbolFormat as exc:
        return InvalidArgument("symbol", str(exc))
    try:
        horizons_to_bars(horizons_hours)
    except ValueError as exc:
        return InvalidArgument("horizonsHours", str(exc))
    start, end = as_utc(start), as_utc(end)
    if start is not None and end is not None and end < start:
        return InvalidArgument("to", "`to` must not be before `from`")
    service = ctx.services.backtest
    if service is None:
        return HistoryMissing("no backtest service is configured on this server", ())
    try:
        return await service.run(symbol, mode, horizons_hours, start, end, walk_forward=walk_forward)
    except ValueError as exc:  # e.g. a from/to window too short to walk forward
        return InvalidArgument("from", str(exc))
