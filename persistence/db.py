"""The database handle: an asyncpg pool on PostgreSQL >= 14, or on an embedded PostgreSQL 16.

``open_database(None, data_dir)`` starts the embedded server (the ``pgserver`` package) in
``data_dir/postgres`` so the service runs with no setup; with a URL it connects to that server. Either
way the migrations are applied before the handle is yielded, and on exit the pool is closed and an
embedded server this process started is stopped (``pgserver`` keeps it running while another process,
e.g. ``signal-api export``, still uses it).

This is the only module that imports asyncpg (it ships no type information); everything else sees the
small :class:`Connection` protocol below.

Errors: :data:`DATABASE_ERRORS` is every exception a database call may raise; :func:`is_unavailable`
tells "the database is down or unreachable" (retry later, spool) from "this statement is wrong" (a bug
or bad data).

Supervision: :class:`DatabaseSupervisor` probes the database every few seconds (and at once when a
writer reports a failure). An embedded server found dead is started again (``pgserver``) and the pool
reopened on it; an external server (``DATABASE_URL``) is only reported, never restarted. Its
:meth:`~DatabaseSupervisor.health` is what ``/health`` shows, read without touching the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import asyncpg  # type: ignore[import-untyped]
import orjson
import structlog

from persistence.background import BackgroundLoop
from persistence.migrate import apply_migrations

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
    from contextlib import AbstractAsyncContextManager
    from pathlib import Path

    from pgserver.postgres_server import PostgresServer

log = structlog.get_logger(__name__)

CLOSE_TIMEOUT_SECONDS = 10.0

DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # connection refused, socket file gone
    TimeoutError,
    asyncpg.InterfaceError,  # connection closed under us, pool closing
    asyncpg.exceptions.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.OperatorInterventionError,  # class 57: admin shutdown, cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,  # class 53: too many connections, disk full
)


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot be reached now (as opposed to a bad statement or row)."""
    return isinstance(exc, _UNAVAILABLE)


class Connection(Protocol):
    """The part of ``asyncpg.Connection`` this package uses. Rows are read by column name."""

    async def execute(self, query: str, *args: Any) -> str: ...

    async def fetch(self, query: str, *args: Any) -> list[Mapping[str, Any]]: ...

    async def fetchrow(self, query: str, *args: Any) -> Mapping[str, Any] | None: ...

    async def fetchval(self, query: str, *args: Any) -> Any: ...

    def transaction(self) -> AbstractAsyncContextManager[Any]: ...

    def cursor(self, query: str, *args: Any, prefetch: int | None = None) -> AsyncIterable[Mapping[str, Any]]: ...


class Pool(Protocol):
    def acquire(self, *, timeout: float | None = None) -> AbstractAsyncContextManager[Connection]: ...

    async def close(self) -> None: ...

    def terminate(self) -> None: ...

    def get_size(self) -> int: ...

    def get_idle_size(self) -> int: ...

    def get_max_size(self) -> int: ...


@dataclass(slots=True)
class Database:
    """The pool every repository draws from. Not frozen: the supervisor swaps in a new pool after it
    restarts the embedded server, and every holder of this handle sees it."""

    pool: Pool
    embedded: bool
    acquire_timeout_seconds: float = 5.0
    server: PostgresServer | None = None  # the embedded server this process started (or attached to)
    url: str | None = None
    server_settings: Mapping[str, str] | None = None  # kept for the supervisor's reopened pools

    @contextlib.asynccontextmanager
    async def connection(self, conn: Connection | None = None) -> AsyncIterator[Connection]:
        """``conn`` itself when given (the caller composes a transaction), else one from the pool."""
        if conn is not None:
            yield conn
            return
        async with self.pool.acquire(timeout=self.acquire_timeout_seconds) as acquired:
            yield acquired


def _json_dumps(value: object) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: Any) -> None:
    """JSONB parameters and results are Python values (orjson both ways)."""
    await conn.set_type_codec("jsonb", encoder=_json_dumps, decoder=orjson.loads, schema="pg_catalog")


async def create_pool(
    url: str, *, min_size: int = 2, max_size: int = 10, server_settings: Mapping[str, str] | None = None
) -> Pool:
    """``server_settings`` are set on every connection (``signal_api.replayed``: migration 0007)."""
    pool: Pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max(min_size, max_size),
        init=_init_connection,
        command_timeout=60,
        server_settings=dict(server_settings or {}),
    )
    return pool


def start_embedded(pgdata: Path) -> PostgresServer:
    """Start (or attach to) the embedded PostgreSQL in ``pgdata``; blocking, about a second (initdb: more)."""
    with warnings.catch_warnings():
        # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (containers, CI)
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    return get_server(pgdata, cleanup_mode="stop")


def restart_embedded(server: PostgresServer) -> bool:
    """Start the embedded server again if its postmaster is gone; blocking. True when it was restarted
    (a new postmaster), False when it was running all along."""
    from pgserver.postgres_server import PostgresServer

    before = server.get_pid()
    with PostgresServer._lock:  # pgserver's inter-process lock, as its own start-up takes it
        server.ensure_pgdata_inited()  # no initdb here (PG_VERSION exists); as root, re-grants the path
        server.ensure_postgres_running()
    return server.get_pid() != before


@contextlib.asynccontextmanager
async def open_database(
    url: str | None,
    data_dir: Path,
    *,
    min_size: int = 2,
    max_size: int = 10,
    migrate: bool = True,
    server_settings: Mapping[str, str] | None = None,
) -> AsyncIterator[Database]:
    """A migrated database: ``url``, or the embedded server under ``data_dir/postgres`` when ``url`` is None."""
    server: PostgresServer | None = None
    if url is None:
        server = await asyncio.to_thread(start_embedded, data_dir / "postgres")
        url = server.get_uri()
        log.info("embedded PostgreSQL running", pgdata=str(data_dir / "postgres"))
    try:
        database = Database(
            pool=await create_pool(url, min_size=min_size, max_size=max_size, server_settings=server_settings),
            embedded=server is not None,
            server=server,
            url=url,
            server_settings=server_settings,
        )
        try:
            if migrate:
                async with database.connection() as conn:
                    await apply_migrations(conn)
            yield database
        finally:
            pool = database.pool  # the supervisor may have reopened it
            try:
                await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT_SECONDS)
            except TimeoutError:
                log.warning("database pool did not close in time; terminating its connections")
                pool.terminate()
    finally:
        if server is not None:
            await asyncio.to_thread(server.cleanup)


@dataclass(frozen=True, slots=True)
class PoolUse:
    size: int  # open connections
    idle: int
    in_use: int
    max: int


@dataclass(frozen=True, slots=True)
class DatabaseHealth:
    up: bool
    embedded: bool
    restarts: int  # embedded server restarts by the supervisor since start
    last_error: str | None
    checked_seconds_ago: float | None
    pool: PoolUse | None


class DatabaseSupervisor(BackgroundLoop):
    """Watches one :class:`Database`: a ``SELECT 1`` every ``interval_seconds`` (sooner after
    :meth:`notify`). An embedded server that does not answer is restarted when its postmaster is gone
    (with a capped backoff between failed attempts) and the pool is reopened on it; ``on_restart`` is
    called per restart (the composition root counts it) and ``on_recovered`` when the database answers
    again after being down (the recorder replays its spool)."""

    task_name = "database-supervisor"

    def __init__(
        self,
        database: Database,
        *,
        min_size: int = 2,
        max_size: int = 10,
        interval_seconds: float = 5.0,
        probe_timeout_seconds: float = 2.0,
        max_backoff_seconds: float = 30.0,
        on_restart: Callable[[], None] | None = None,
        on_recovered: Callable[[], None] | None = None,
    ) -> None:
        self.database = database
        self._min_size = min_size
        self._max_size = max_size
        self._interval = interval_seconds
        self._probe_timeout = probe_timeout_seconds
        self._max_backoff = max_backoff_seconds
        self._on_restart = on_restart
        self._on_recovered = on_recovered
        self._up = True  # it was just opened and migrated
        self._last_error: str | None = None
        self._checked_at: float | None = None
        self._restarts = 0
        self._failed_restarts = 0
        self._wake = asyncio.Event()

    @property
    def up(self) -> bool:
        return self._up

    @property
    def restarts(self) -> int:
        return self._restarts

    def health(self) -> DatabaseHealth:
        pool = self.database.pool
        size, idle = pool.get_size(), pool.get_idle_size()
        ago = time.monotonic() - self._checked_at if self._checked_at is not None else None
        return DatabaseHealth(
            up=self._up,
            embedded=self.database.embedded,
            restarts=self._restarts,
            last_error=self._last_error,
            checked_seconds_ago=round(ago, 3) if ago is not None else None,
            pool=PoolUse(size=size, idle=idle, in_use=size - idle, max=pool.get_max_size()),
        )

    def notify(self, exc: BaseException | None = None) -> None:
        """A caller saw the database fail: check now rather than at the next interval."""
        if exc is not None:
            self._last_error = repr(exc)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            delay = self._interval
            if not self._up and self._failed_restarts:
                delay = min(self._max_backoff, self._interval * 2 ** min(self._failed_restarts, 6))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            self._wake.clear()
            await self.check()

    async def check(self) -> bool:
        """Probe once; restart an embedded server that is gone. Returns whether the database is up."""
        was_up = self._up
        error = await self._probe()
        if error is not None and self.database.server is not None:
            error = await self._restart(error)
        self._checked_at = time.monotonic()
        self._up = error is None
        if error is not None:
            self._last_error = error
            if was_up:
                log.error("database down", embedded=self.database.embedded, error=error)
        elif not was_up:
            log.info("database answering again", embedded=self.database.embedded)
            if self._on_recovered is not None:
                self._on_recovered()
        return self._up

    async def _probe(self) -> str | None:
        try:
            async with asyncio.timeout(self._probe_timeout), self.database.connection() as conn:
                await conn.fetchval("SELECT 1")
        except Exception as exc:
            return repr(exc)
        return None

    async def _restart(self, error: str) -> str | None:
        server = self.database.server
        assert server is not None
        try:
            restarted = await asyncio.to_thread(restart_embedded, server)
        except Exception as exc:
            self._failed_restarts += 1
            log.error("embedded PostgreSQL restart failed", attempt=self._failed_restarts, error=repr(exc))
            return f"restart failed: {exc!r}"
        if restarted:
            self._restarts += 1
            self._failed_restarts = 0
            log.warning("embedded PostgreSQL restarted", restarts=self._restarts, after=error)
            if self._on_restart is not None:
                self._on_restart()
            await self._reopen_pool(server.get_uri())
        return await self._probe()

    async def _reopen_pool(self, url: str) -> None:
        try:
            pool = await create_pool(
                url, min_size=self._min_size, max_size=self._max_size, server_settings=self.database.server_settings
            )
        except Exception as exc:
            log.error("database pool could not be reopened", error=repr(exc))
            return
        old, self.database.pool, self.database.url = self.database.pool, pool, url
        old.terminate()  # its connections went with the old server
