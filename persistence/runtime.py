"""Everything the signal history runs on, opened and closed as one unit by the composition root.

``open_history(config, candles)`` opens the database (embedded PostgreSQL when ``config.database_url``
is None), applies the migrations, and starts the recorder, the database supervisor (which restarts a
dead embedded server and reopens the pool) and the outcome job; on exit it drains the recorder (to the
database or the spool), stops the job and the supervisor, closes the pool and stops the embedded server.

When the database cannot be opened at start-up the service still starts: the runtime is *degraded*,
``database`` is None, the history fields answer ``HISTORY_UNAVAILABLE``, and ``fallback`` (a
:class:`~persistence.recorder.SpoolRecorder`) keeps every LONG/SHORT durable in the spool; rows spooled
by this or an earlier run stay on disk and are replayed by the next start that reaches the database.
"""

from __future__ import annotations

import contextlib
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from persistence.config import HistoryConfig
from persistence.db import DATABASE_ERRORS, Database, DatabaseSupervisor, open_database
from persistence.outcomes import OutcomeJob
from persistence.recorder import HistoryRecorder, SpoolRecorder
from persistence.repository import OutcomeRepository, SignalRepository
from persistence.spool import Spool

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from persistence.outcomes import CandleSource

__all__ = ["HistoryConfig", "HistoryRuntime", "open_history"]  # HistoryConfig lives in persistence.config

log = structlog.get_logger(__name__)


# the embedded server failing to start raises SubprocessError; a malformed URL ValueError
_OPEN_ERRORS: tuple[type[BaseException], ...] = (*DATABASE_ERRORS, subprocess.SubprocessError, ValueError)


@dataclass(frozen=True, slots=True)
class HistoryRuntime:
    database: Database | None
    signals: SignalRepository | None
    outcomes: OutcomeRepository | None
    recorder: HistoryRecorder | None
    job: OutcomeJob | None
    supervisor: DatabaseSupervisor | None = None
    spool: Spool | None = None
    open_error: str | None = None  # why the database could not be opened at start-up
    fallback: SpoolRecorder | None = None  # without a database: the spool-only recorder

    @property
    def available(self) -> bool:
        return self.database is not None


@contextlib.asynccontextmanager
async def open_history(
    config: HistoryConfig,
    candles: CandleSource,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_embedded_restart: Callable[[], None] | None = None,
) -> AsyncIterator[HistoryRuntime]:
    """``on_embedded_restart`` is called once per supervised restart of the embedded server (the
    composition root counts it; this package exports no metrics)."""
    data_dir = config.data_dir
    async with contextlib.AsyncExitStack() as stack:
        database: Database | None = None
        try:
            database = await stack.enter_async_context(
                open_database(
                    config.database_url,
                    data_dir,
                    min_size=config.pool_min,
                    max_size=config.pool_max,
                    # the signals.replayed column's default reads it (migration 0007)
                    server_settings={"signal_api.replayed": "on"} if config.replayed else None,
                )
            )
        except _OPEN_ERRORS as exc:
            log.error("signal history unavailable: the database could not be opened", error=repr(exc))
            fallback: SpoolRecorder | None = None
            spooled: Spool | None = None
            try:  # still durable: LONG/SHORT rows go to the spool, replayed by the next start
                spooled = Spool(data_dir / "spool", max_bytes=config.spool_max_bytes)
                fallback = SpoolRecorder(spooled)
            except OSError as spool_exc:
                log.error("spool unavailable too: signals will not be stored", error=repr(spool_exc))
            yield HistoryRuntime(None, None, None, None, None, spool=spooled, open_error=repr(exc), fallback=fallback)
            return
        spool = Spool(data_dir / "spool", max_bytes=config.spool_max_bytes)
        signals = SignalRepository(
            database,
            dedup_window_seconds=config.dedup_window_seconds,
            dedup_score_tolerance=config.dedup_score_tolerance,
        )
        outcomes = OutcomeRepository(database)
        recorder: HistoryRecorder | None = None

        def recovered() -> None:
            if recorder is not None:
                recorder.wake()

        supervisor = DatabaseSupervisor(
            database,
            min_size=config.pool_min,
            max_size=config.pool_max,
            interval_seconds=config.supervisor_interval_seconds,
            on_restart=on_embedded_restart,
            on_recovered=recovered,
        )
        recorder = HistoryRecorder(
            signals,
            spool,
            replay_interval_seconds=config.replay_interval_seconds,
            commit_timeout_seconds=config.commit_timeout_seconds,
            on_unavailable=supervisor.notify,
        )
        await supervisor.start()
        stack.push_async_callback(supervisor.aclose)
        await recorder.start()
        stack.push_async_callback(recorder.aclose)
        job: OutcomeJob | None = None
        if config.run_outcome_job:
            job = OutcomeJob(outcomes, candles, interval_seconds=config.outcome_interval_seconds, clock=clock)
            await job.start()
            stack.push_async_callback(job.aclose)
        yield HistoryRuntime(database, signals, outcomes, recorder, job, supervisor, spool)
