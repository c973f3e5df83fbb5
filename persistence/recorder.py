"""``HistoryRecorder``: the :class:`resolvers.context.SignalRecorder` that stores LONG/SHORT signals.

``record`` never waits and never raises: it builds the row (with its UUID, made here) and puts it on a
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
import uuid
from typing import TYPE_CHECKING

import structlog

from persistence.db import DATABASE_ERRORS, is_unavailable
from persistence.rows import STORED_RECOMMENDATIONS, SignalRow

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine import Signal
    from persistence.repository import SignalRepository
    from persistence.spool import Spool

log = structlog.get_logger(__name__)


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
        id_factory: Callable[[], uuid.UUID] = uuid.uuid4,
    ) -> None:
        self._signals = signals
        self._spool = spool
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

    # -- the request path: synchronous, never raises -------------------------------------------------

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
            self._spool.append([row])
            return
        try:
            self._queue.put_nowait(row)
        except asyncio.QueueFull:
            log.warning("history queue full; spooling", queue_size=self._queue.maxsize)
            self._spool.append([row])
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
            self._spool.append(batch)
            return
        try:
            async with asyncio.timeout(self._write_timeout):
                await self._signals.insert_many(batch)
        except asyncio.CancelledError:
            self._spool.append(batch)  # maybe committed too: the replay is idempotent by id
            raise
        except Exception as exc:
            if not isinstance(exc, DATABASE_ERRORS) or not is_unavailable(exc):
                log.exception("history write failed; spooling", rows=len(batch))
            else:
                log.warning("database unavailable; spooling", rows=len(batch), error=repr(exc))
            self._spool.append(batch)
            self._spooling = True
            self._wake.set()

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
