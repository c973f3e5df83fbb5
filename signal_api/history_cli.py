"""``signal-api migrate`` and ``signal-api export``: the signal history from the command line.

Part of the composition root: reads :class:`Settings` and builds the history configuration
(:func:`history_config`, also used by the app's lifespan). A database that cannot be opened is one line
on stderr saying what to check (:func:`database_problem`, also used by ``keys``) and exit code 1, never
a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from persistence.config import HistoryConfig
from persistence.db import DATABASE_ERRORS, open_database
from persistence.migrate import MigrationError, apply_migrations
from persistence.repository import SignalRepository
from providers.symbols import InvalidSymbolFormat, parse_symbol

if TYPE_CHECKING:
    from signal_api.settings import Settings

PROGRESS_EVERY = 10_000
EXIT_DATABASE = 1
# every way opening the database fails: unreachable or refused (OSError, asyncpg), the embedded server not
# starting (SubprocessError), a malformed DATABASE_URL (ValueError), a migration that cannot apply
OPEN_ERRORS: tuple[type[BaseException], ...] = (
    *DATABASE_ERRORS,
    subprocess.SubprocessError,
    ValueError,
    MigrationError,
)


def history_config(settings: Settings) -> HistoryConfig:
    url = settings.database_url.get_secret_value() if settings.database_url is not None else None
    return HistoryConfig(
        database_url=url,
        data_dir=settings.data_dir,
        pool_min=settings.db_pool_min,
        pool_max=settings.db_pool_max,
        dedup_window_seconds=settings.signal_dedup_window_seconds,
        dedup_score_tolerance=settings.signal_dedup_score_tolerance,
        outcome_interval_seconds=settings.outcome_job_interval_seconds,
        spool_max_bytes=settings.history_spool_max_bytes,
        commit_timeout_seconds=settings.history_commit_timeout_seconds,
        supervisor_interval_seconds=settings.db_supervisor_interval_seconds,
    )


def describe_error(exc: BaseException) -> str:
    """The exception's type and the first line of its message: enough to act on, short enough for a line."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def database_problem(config: HistoryConfig, exc: BaseException, *, what: str = "the database") -> str:
    """One line: which database could not be opened, why, and what to do (the URL itself is never shown:
    it holds the password)."""
    if config.database_url is not None:
        where = "DATABASE_URL"
        todo = (
            "check that the server is running and DATABASE_URL's host, port, user, password and database name, "
            "or unset DATABASE_URL to use the embedded database under DATA_DIR"
        )
    else:
        where = f"the embedded PostgreSQL in DATA_DIR={config.data_dir}"
        todo = "check that DATA_DIR is writable and no other server uses it, or set DATABASE_URL"
    return f"cannot reach {what} ({where}): {describe_error(exc)}; {todo}"


def _settings() -> Settings:
    """The settings, with logs sent to stderr: stdout may be the export itself."""
    import structlog

    from signal_api.logging import configure_logging, secret_values
    from signal_api.settings import Settings

    settings = Settings()
    configure_logging(settings.log_level, settings.log_json, secrets=secret_values(settings))
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))
    return settings


async def run_migrate(config: HistoryConfig, out: IO[str]) -> int:
    async with (
        open_database(config.database_url, config.data_dir, min_size=1, max_size=1, migrate=False) as db,
        db.connection() as conn,
    ):
        applied = await apply_migrations(conn)
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}", file=out)
    if not applied:
        print("database schema is up to date", file=out)
    return 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError


async def run_export(
    config: HistoryConfig,
    out: IO[bytes],
    progress: IO[str],
    *,
    symbol: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> int:
    """Write one JSON object per stored signal (with its outcomes), oldest first; return the count."""
    count = 0
    async with open_database(config.database_url, config.data_dir, min_size=1, max_size=2) as db:
        repository = SignalRepository(db)
        async for record in repository.export(symbol=symbol, start=start, end=end):
            record["id"] = str(record["id"])
            out.write(orjson.dumps(record, default=_jsonable) + b"\n")
            count += 1
            if count % PROGRESS_EVERY == 0:
                print(f"exported {count} signals", file=progress, flush=True)
    out.flush()
    print(f"exported {count} signals", file=progress, flush=True)
    return count


def _aware(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _symbol(text: str) -> str:
    try:
        return parse_symbol(text).canonical
    except InvalidSymbolFormat as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _migrate(args: argparse.Namespace) -> int:
    config = history_config(_settings())
    try:
        return asyncio.run(run_migrate(config, sys.stdout))
    except OPEN_ERRORS as exc:
        print(f"signal-api migrate: {database_problem(config, exc)}", file=sys.stderr)
        return EXIT_DATABASE


def _export(args: argparse.Namespace) -> int:
    config = history_config(_settings())
    try:
        with contextlib.ExitStack() as stack:
            out: IO[bytes] = (
                stack.enter_context(Path(args.output).open("wb")) if args.output is not None else sys.stdout.buffer
            )
            asyncio.run(run_export(config, out, sys.stderr, symbol=args.symbol, start=args.start, end=args.end))
    except OPEN_ERRORS as exc:
        if isinstance(exc, OSError) and exc.filename is not None and args.output is not None:
            print(f"signal-api export: cannot write {args.output}: {describe_error(exc)}", file=sys.stderr)
        else:
            print(f"signal-api export: {database_problem(config, exc)}", file=sys.stderr)
        return EXIT_DATABASE
    return 0


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``migrate`` and ``export`` on the ``signal-api`` parser."""
    migrate = subparsers.add_parser(
        "migrate",
        help="apply the signal-history database migrations",
        description="Apply the numbered SQL migrations (persistence/migrations) that the database lacks, and "
        "print each one applied. The database is DATABASE_URL, or the embedded PostgreSQL under DATA_DIR "
        "when it is unset. `serve` migrates at start-up too: run this to migrate ahead of a deploy.",
    )
    migrate.set_defaults(func=_migrate)

    export = subparsers.add_parser(
        "export",
        help="write the stored signal history (JSON lines)",
        description="Write every stored signal, with its evaluated outcomes, oldest first, one JSON object "
        "per line; progress goes to stderr. Reads DATABASE_URL, or the embedded database under DATA_DIR.",
    )
    export.add_argument("--format", choices=["jsonl"], default="jsonl", help="output format (jsonl)")
    export.add_argument("--output", "-o", type=Path, metavar="FILE", help="write here instead of stdout")
    export.add_argument("--symbol", type=_symbol, help="only this symbol (BTC, BTCUSDT, ...)")
    export.add_argument("--from", dest="start", type=_aware, metavar="ISO", help="generated at or after (UTC if naive)")
    export.add_argument("--to", dest="end", type=_aware, metavar="ISO", help="generated before (UTC if naive)")
    export.set_defaults(func=_export)
