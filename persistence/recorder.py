"""``HistoryRecorder``: the :class:`resolvers.context.SignalRecorder` that stores LONG/SHORT signals.

The request path calls :meth:`HistoryRecorder.persist`, which returns only once the row is durable, so
an answered LONG/SHORT survives a SIGKILL of the process. Group commit keeps that fast under load: the
rows of concurrent requests wait together for one committer, which writes them in one transaction
(``commit_timeout_seconds`` at most); while one commit runs, the next batch gathers. When the database
does not take a batch (down, slow, refusing) the batch is appended to the fsync'd spool instead, off the
event loop. ``persist`` never raises for storage: if even the spool refuses (its size cap, a disk
error) the rows are counted as not durable (:attr:`RecorderStats.not_durable`, by reason), logged, and
the answer still goes out.

``record`` (fire and forget, kept for callers that need no durability guarantee) never waits and never
raises: it builds the row (with its UUID, made here) and puts it on a
bounded queue; when the queue is full the row goes straight to the durable spool. A writer task drains
the queue in batches into the database; a batch the database does not take goes to the spool, and the
recorder keeps spooling (without hammering the database) until a replay task, which probes every
``replay_interval_seconds``, has put every spooled row back. On shutdown the queue is drained to the
database, or to the spool: no recorded row is lost, and because inserts are idempotent by id no row is
ever stored twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from persistence.db import DATABASE_ERRORS, is_unavailable
from persistence.rows import STORED_RECOMMENDATIONS, SignalRow
from persistence.spool import SpoolFull

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine import Signal
    from engine.judge import Judgement
    from persistence.repository import SignalRepository
    from persistence.spool import Spool

log = structlog.get_logger(__name__)


class Durability(enum.Enum):
    """Where :meth:`HistoryRecorder.persist` left a signal when it returned."""

    NOT_STORED = "not_stored"  # a NEUTRAL: never stored
    DATABASE = "database"  # committed (or a repeat of a stored signal, see the dedup rule)
    SPOOL = "spool"  # appended and fsync'd to the spool; replayed into the database later
    LOST = "lost"  # neither took it: counted in ``not_durable``


@dataclass(frozen=True, slots=True)
class RecorderStats:
    spooling: bool  # the database is considered down: rows go to the spool
    committed_rows: int  # rows the group commit wrote to the database
    spooled_rows: int  # rows the request path appended to the spool
    commits: int  # group-commit transactions (committed_rows / commits = the mean batch)
    not_durable: dict[str, int]  # rows neither the database nor the spool took, by reason


class HistoryRecorder:
    def __init__(
        self,
        signals: SignalRepository,
        spool: Spool,
        *,
        queue_size: int = 10_000,
        batch_size: int = 200,
        replay_interval_seconds: float = 10.0,
        write_timeout_seconds: float = 5.0,
        commit_timeout_seconds: float = 2.0,
        id_factory: Callable[[], uuid.UUID] = uuid.uuid4,
        on_unavailable: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._signals = signals
        self._spool = spool
        self._commit_timeout = commit_timeout_seconds
        self._on_unavailable = on_unavailable
        self._pending: list[tuple[SignalRow, asyncio.Future[Durability]]] = []
        self._committer: asyncio.Task[None] | None = None
        self._abandoned: set[asyncio.Future[list[uuid.UUID]]] = set()  # timed-out commits still cleaning up
        self._committed = 0
        self._spooled = 0
        self._commits = 0
        self._not_durable: dict[str, int] = {}
        self._queue: asyncio.Queue[SignalRow] = asyncio.Queue(maxsize=queue_size)
        self._batch_size = batch_size
        self._replay_interval = replay_interval_seconds
        self._write_timeout = write_timeout_seconds
        self._new_id = id_factory
        self._spooling = spool.has_pending()  # rows left by an earlier run: replay before writing through
        self._closed = False
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()

    @property
    def spooling(self) -> bool:
        """True while the database is considered down (new rows go to the spool)."""
        return self._spooling

    @property
    def spool(self) -> Spool:
        return self._spool

    def stats(self) -> RecorderStats:
        return RecorderStats(self._spooling, self._committed, self._spooled, self._commits, dict(self._not_durable))

    def wake(self) -> None:
        """Try the replay now (the database came back, e.g. after a supervised restart)."""
        self._wake.set()

    # -- the request path: durable before it returns, never raises for storage ------------------------

    async def persist(self, signal: Signal, judgement: Judgement | None = None) -> Durability:
        """Store ``signal`` (LONG/SHORT) durably before returning: in the database by group commit, else
        in the fsync'd spool. Never raises because of storage (a failure is counted and logged).
        ``judgement`` (plan and verdicts) is stored with it."""
        try:
            if signal.recommendation not in STORED_RECOMMENDATIONS:
                return Durability.NOT_STORED
            row = SignalRow.from_signal(signal, self._new_id(), judgement)
        except Exception:
            log.exception("signal not recorded", symbol=getattr(signal, "symbol", "?"))
            self._count_not_durable("invalid", 1)
            return Durability.LOST
        if self._closed:
            return await self._spool_rows([row])
        done: asyncio.Future[Durability] = asyncio.get_running_loop().create_future()
        self._pending.append((row, done))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_pending(), name="history-group-commit")
        # shielded: a request cancelled while waiting does not cancel the commit of its batch
        return await asyncio.shield(done)

    async def _commit_pending(self) -> None:
        """Commit what has gathered, batch after batch, until nothing waits."""
        batch: list[tuple[SignalRow, asyncio.Future[Durability]]] = []
        try:
            await asyncio.sleep(0)  # the requests resolved in this loop iteration join the first batch
            while self._pending:
                batch = self._pending[: self._batch_size]
                del self._pending[: len(batch)]
                outcome = await self._store([row for row, _ in batch])
                for _, done in batch:
                    if not done.done():
                        done.set_result(outcome)
                batch = []
        finally:
            leftover = batch + self._pending  # cancelled (shutdown): spooled here, synchronously
            self._pending = []
            if leftover:
                outcome = self._spool_now([row for row, _ in leftover])
                for _, done in leftover:
                    if not done.done():
                        done.set_result(outcome)

    async def _store(self, rows: list[SignalRow]) -> Durability:
        if not self._spooling and not self._closed:
            # the commit runs as its own task: past the timeout it is cancelled and left to clean up
            # (a rollback on a hung server could wait as long again) while the batch goes to the spool
            commit = asyncio.ensure_future(self._signals.insert_batch(rows))
            try:
                done, _ = await asyncio.wait({commit}, timeout=self._commit_timeout)
            except asyncio.CancelledError:
                commit.cancel()
                raise  # the caller spools the batch (maybe committed too: the replay is idempotent by id)
            if not done:
                commit.cancel()
                self._abandoned.add(commit)
                commit.add_done_callback(self._forget)
                self._database_failed(TimeoutError(), len(rows))
            elif (exc := commit.exception()) is not None:
                self._database_failed(exc, len(rows))
            else:
                self._committed += len(rows)
                self._commits += 1
                return Durability.DATABASE
        return await self._spool_rows(rows)

    def _forget(self, task: asyncio.Future[list[uuid.UUID]]) -> None:
        self._abandoned.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: an abandoned commit's failure is already accounted for

    async def _spool_rows(self, rows: list[SignalRow]) -> Durability:
        """Append to the spool in a worker thread (the fsync stays off the event loop)."""
        return self._spool_outcome(rows, await asyncio.to_thread(self._append_to_spool, rows))

    def _spool_now(self, rows: list[SignalRow]) -> Durability:
        return self._spool_outcome(rows, self._append_to_spool(rows))

    def _append_to_spool(self, rows: list[SignalRow]) -> str | None:
        """Append and fsync; the reason the rows are not durable, or None when they are."""
        try:
            self._spool.append(rows)
        except SpoolFull:
            return "spool_full"
        except OSError as exc:
            log.error("spool append failed: rows not durable", rows=len(rows), error=repr(exc))
            return "spool_error"
        return None

    def _spool_outcome(self, rows: list[SignalRow], failure: str | None) -> Durability:
        if failure is not None:
            self._count_not_durable(failure, len(rows))
            return Durability.LOST
        self._spooled += len(rows)
        return Durability.SPOOL

    def _count_not_durable(self, reason: str, rows: int) -> None:
        self._not_durable[reason] = self._not_durable.get(reason, 0) + rows

    def _database_failed(self, exc: BaseException, rows: int) -> None:
        if isinstance(exc, TimeoutError):
            log.warning("history commit timed out; spooling", rows=rows, timeout=self._commit_timeout)
        elif not isinstance(exc, DATABASE_ERRORS) or not is_unavailable(exc):
            log.error("history write failed; spooling", rows=rows, error=repr(exc))
        else:
            log.warning("database unavailable; spooling", rows=rows, error=repr(exc))
        self._spooling = True
        self._wake.set()
        if self._on_unavailable is not None:
            self._on_unavailable(exc)

    # -- fire and forget: synchronous, never raises -----------------------------------------------------

    def record(self, signal: Signal) -> None:
        self.submit(signal)

    def submit(self, signal: Signal) -> uuid.UUID | None:
        """:meth:`record`, returning the id given to the row (``None`` for a NEUTRAL or on failure)."""
        try:
            if signal.recommendation not in STORED_RECOMMENDATIONS:
                return None
            row = SignalRow.from_signal(signal, self._new_id())
            self._enqueue(row)
            return row.id
        except Exception:
            log.exception("signal not recorded", symbol=getattr(signal, "symbol", "?"))
            return None

    def _enqueue(self, row: SignalRow) -> None:
        if self._closed:
            self._spool_now([row])
            return
        try:
            self._queue.put_nowait(row)
        except asyncio.QueueFull:
            log.warning("history queue full; spooling", queue_size=self._queue.maxsize)
            self._spool_now([row])
            self._spooling = True
            self._wake.set()

    # -- background tasks ------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._spooling:
            self._wake.set()  # rows left by an earlier run: replay them now, not after the first interval
        self._tasks = [
            asyncio.create_task(self._write_loop(), name="history-writer"),
            asyncio.create_task(self._replay_loop(), name="history-replay"),
        ]

    async def flush(self) -> None:
        """Wait until every queued row has been written (to the database or the spool)."""
        await self._queue.join()

    async def aclose(self) -> None:
        """Stop the tasks and drain the queue: to the database if it answers, else to the spool."""
        committer = self._committer
        if committer is not None and not committer.done():
            with contextlib.suppress(asyncio.CancelledError):
                await committer  # the waiting requests get their answer (bounded by the commit timeout)
        self._closed = True
        for task in reversed(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        rows: list[SignalRow] = []
        while not self._queue.empty():
            rows.append(self._queue.get_nowait())
            self._queue.task_done()
        if rows:
            await self._write(rows)

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[SignalRow]) -> None:
        if self._spooling:
            self._spool_now(batch)
            return
        try:
            async with asyncio.timeout(self._write_timeout):
                await self._signals.insert_many(batch)
        except asyncio.CancelledError:
            self._spool_now(batch)  # maybe committed too: the replay is idempotent by id
            raise
        except Exception as exc:
            self._database_failed(exc, len(batch))
            self._spool_now(batch)

    async def _replay_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._replay_interval):
                    await self._wake.wait()
            self._wake.clear()
            await self.replay()

    async def replay(self) -> int:
        """Put every spooled row into the database; stop spooling once none is left. Never raises."""
        if not self._spooling and not self._spool.has_pending():
            return 0
        try:
            async with asyncio.timeout(self._write_timeout):
                await self._signals.ping()
        except Exception as exc:
            log.debug("database still unavailable", error=repr(exc))
            return 0
        total = 0
        try:
            while True:
                replayed = await self._spool.replay(self._insert_or_reject)
                total += replayed
                # no await between the last (empty) rotation and this: nothing can be appended unseen
                if not self._spool.has_pending():
                    self._spooling = False
                    break
        except Exception as exc:
            log.warning("spool replay interrupted; will retry", replayed=total, error=repr(exc))
        if total:
            log.info("spooled signals replayed", rows=total)
        return total

    async def _insert_or_reject(self, rows: list[SignalRow]) -> None:
        """Insert a batch; when the database refuses it as invalid, insert row by row and set aside the
        rows it refuses (a poison row must not block every later replay)."""
        try:
            await self._signals.insert_many(rows)
        except DATABASE_ERRORS as exc:
            if is_unavailable(exc):
                raise
            for row in rows:
                try:
                    await self._signals.insert(row)
                except DATABASE_ERRORS as row_exc:
                    if is_unavailable(row_exc):
                        raise
                    log.error("database refused a spooled signal; kept in rejected.jsonl", id=str(row.id))
                    self._spool.reject([row])


class SpoolRecorder:
    """The recorder of a run whose database could not be opened at start-up: every LONG/SHORT is
    appended and fsync'd to the spool before ``persist`` returns, and the next start that reaches the
    database replays it. The same cap and counting as :class:`HistoryRecorder`."""

    def __init__(self, spool: Spool, *, id_factory: Callable[[], uuid.UUID] = uuid.uuid4) -> None:
        self._spool = spool
        self._new_id = id_factory
        self._spooled = 0
        self._not_durable: dict[str, int] = {}

    @property
    def spool(self) -> Spool:
        return self._spool

    def stats(self) -> RecorderStats:
        return RecorderStats(True, 0, self._spooled, 0, dict(self._not_durable))

    async def persist(self, signal: Signal, judgement: Judgement | None = None) -> Durability:
        try:
            if signal.recommendation not in STORED_RECOMMENDATIONS:
                return Durability.NOT_STORED
            rows = [SignalRow.from_signal(signal, self._new_id(), judgement)]
            await asyncio.to_thread(self._spool.append, rows)
        except SpoolFull:
            reason = "spool_full"
        except OSError as exc:
            log.error("spool append failed: row not durable", error=repr(exc))
            reason = "spool_error"
        except Exception:
            log.exception("signal not recorded", symbol=getattr(signal, "symbol", "?"))
            reason = "invalid"
        else:
            self._spooled += 1
            return Durability.SPOOL
        self._not_durable[reason] = self._not_durable.get(reason, 0) + 1
        return Durability.LOST
