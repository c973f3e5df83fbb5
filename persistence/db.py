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
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import asyncpg  # type: ignore[import-untyped]
import orjson
import structlog

from persistence.migrate import apply_migrations

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Mapping
    from contextlib import AbstractAsyncContextManager

    from pgserver.postgres_server import PostgresServer

log = structlog.get_logger(__name__)

APP_DIR_NAME = "futures-signal-api"
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


@dataclass(frozen=True, slots=True)
class Database:
    pool: Pool
    embedded: bool
    acquire_timeout_seconds: float = 5.0

    @contextlib.asynccontextmanager
    async def connection(self, conn: Connection | None = None) -> AsyncIterator[Connection]:
        """``conn`` itself when given (the caller composes a transaction), else one from the pool."""
        if conn is not None:
            yield conn
            return
        async with self.pool.acquire(timeout=self.acquire_timeout_seconds) as acquired:
            yield acquired


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/futures-signal-api``, or ``~/.local/share/futures-signal-api``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / APP_DIR_NAME


def _json_dumps(value: object) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: Any) -> None:
    """JSONB parameters and results are Python values (orjson both ways)."""
    await conn.set_type_codec("jsonb", encoder=_json_dumps, decoder=orjson.loads, schema="pg_catalog")


async def create_pool(url: str, *, min_size: int = 2, max_size: int = 10) -> Pool:
    pool: Pool = await asyncpg.create_pool(
        url, min_size=min_size, max_size=max(min_size, max_size), init=_init_connection, command_timeout=60
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


@contextlib.asynccontextmanager
async def open_database(
    url: str | None,
    data_dir: Path,
    *,
    min_size: int = 2,
    max_size: int = 10,
    migrate: bool = True,
) -> AsyncIterator[Database]:
    """A migrated database: ``url``, or the embedded server under ``data_dir/postgres`` when ``url`` is None."""
    server: PostgresServer | None = None
    if url is None:
        server = await asyncio.to_thread(start_embedded, data_dir / "postgres")
        url = server.get_uri()
        log.info("embedded PostgreSQL running", pgdata=str(data_dir / "postgres"))
    try:
        pool = await create_pool(url, min_size=min_size, max_size=max_size)
        try:
            database = Database(pool=pool, embedded=server is not None)
            if migrate:
                async with database.connection() as conn:
                    await apply_migrations(conn)
            yield database
        finally:
            try:
                await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT_SECONDS)
            except TimeoutError:
                log.warning("database pool did not close in time; terminating its connections")
                pool.terminate()
    finally:
        if server is not None:
            await asyncio.to_thread(server.cleanup)
