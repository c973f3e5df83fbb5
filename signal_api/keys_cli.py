"""``signal-api keys create | list | revoke``: the service's API keys, managed from the command line.

The keys live in the signal history's database (``DATABASE_URL``, or the embedded PostgreSQL under
``DATA_DIR``), which is opened and migrated like ``signal-api migrate`` does. ``create`` prints the
key once, alone on stdout (scripts can capture it); everything else goes to stderr. Failures are one
line on stderr and a non-zero exit, never a traceback: 1 for a database that cannot be reached, 2 for
an unknown key id.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from typing import IO, TYPE_CHECKING, TypeVar

from persistence.api_keys import ApiKeyRepository
from persistence.db import DATABASE_ERRORS, open_database
from persistence.migrate import MigrationError
from signal_api.history_cli import database_problem, history_config
from signal_api.security.principal import Scope

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from datetime import datetime

    from persistence.api_keys import ApiKeyRecord
    from persistence.runtime import HistoryConfig
    from signal_api.settings import Settings

T = TypeVar("T")
EXIT_UNREACHABLE = 1
EXIT_UNKNOWN_KEY = 2
# the embedded server failing to start raises SubprocessError; a malformed URL ValueError
_OPEN_ERRORS: tuple[type[BaseException], ...] = (
    *DATABASE_ERRORS,
    subprocess.SubprocessError,
    ValueError,
    MigrationError,
)


class KeysCommandError(Exception):
    """A failure to report in one line, with the process exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def parse_scopes(text: str) -> tuple[Scope, ...]:
    """``read,stream`` → the scopes; unknown names and an empty list are refused."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    known = {scope.value: scope for scope in Scope}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown scope {', '.join(unknown)} (known: {', '.join(known)})")
    if not names:
        raise argparse.ArgumentTypeError(f"at least one scope is needed (known: {', '.join(known)})")
    return tuple(dict.fromkeys(known[name] for name in names))


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment is not None else "-"


def format_table(records: list[ApiKeyRecord]) -> str:
    header = ("id", "name", "prefix", "scopes", "rate/min", "cost/min", "created", "last used", "revoked")
    rows = [
        (
            str(r.id),
            r.name,
            r.prefix + "…",
            ",".join(r.scopes),
            str(r.rate_per_minute or "default"),
            str(r.cost_per_minute or "default"),
            _when(r.created_at),
            _when(r.last_used_at),
            _when(r.revoked_at),
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]
    )


async def _with_repository(config: HistoryConfig, work: Callable[[ApiKeyRepository], Awaitable[T]]) -> T:
    """Run ``work`` on the key store; any failure to reach it becomes one :class:`KeysCommandError` line."""
    try:
        async with open_database(config.database_url, config.data_dir, min_size=1, max_size=1) as db:
            return await work(ApiKeyRepository(db))
    except _OPEN_ERRORS as exc:
        raise KeysCommandError(database_problem(config, exc, what="the key store"), EXIT_UNREACHABLE) from None


async def run_create(
    config: HistoryConfig,
    out: IO[str],
    err: IO[str],
    *,
    name: str,
    scopes: tuple[Scope, ...],
    rate_per_minute: int | None = None,
    cost_per_minute: int | None = None,
) -> int:
    async def create(repo: ApiKeyRepository) -> int:
        new = await repo.create(
            name, [s.value for s in scopes], rate_per_minute=rate_per_minute, cost_per_minute=cost_per_minute
        )
        print(new.key, file=out, flush=True)
        record = new.record
        print(
            f"created API key {record.id} {record.name!r} ({record.prefix}…) with scopes {','.join(record.scopes)}; "
            "it is shown only this once: store it now",
            file=err,
        )
        return 0

    return await _with_repository(config, create)


async def run_list(config: HistoryConfig, out: IO[str]) -> int:
    async def listing(repo: ApiKeyRepository) -> int:
        records = await repo.list()
        print(
            format_table(records) if records else "no API keys yet (signal-api keys create --name N --scopes read)",
            file=out,
        )
        return 0

    return await _with_repository(config, listing)


async def run_revoke(config: HistoryConfig, out: IO[str], key_id: int) -> int:
    async def revoke(repo: ApiKeyRepository) -> int:
        before = await repo.get(key_id)
        record = await repo.revoke(key_id)
        if record is None:
            raise KeysCommandError(f"no API key with id {key_id} (see signal-api keys list)", EXIT_UNKNOWN_KEY)
        if before is not None and before.revoked_at is not None:
            print(f"API key {key_id} {record.name!r} was already revoked at {_when(record.revoked_at)}", file=out)
        else:
            print(f"revoked API key {key_id} {record.name!r}: refused from the next request on", file=out)
        return 0

    return await _with_repository(config, revoke)


def _settings() -> Settings:
    from signal_api.history_cli import _settings as history_settings

    return history_settings()


def _run(args: argparse.Namespace) -> int:
    settings = _settings()
    config = history_config(settings)
    if not settings.history_enabled:
        print("note: HISTORY_ENABLED=false: the service opens no database and cannot check these keys", file=sys.stderr)
    try:
        if args.keys_command == "create":
            return asyncio.run(
                run_create(
                    config,
                    sys.stdout,
                    sys.stderr,
                    name=args.name,
                    scopes=args.scopes,
                    rate_per_minute=args.rate,
                    cost_per_minute=args.cost,
                )
            )
        if args.keys_command == "list":
            return asyncio.run(run_list(config, sys.stdout))
        return asyncio.run(run_revoke(config, sys.stdout, args.id))
    except KeysCommandError as exc:
        print(f"signal-api keys: {exc}", file=sys.stderr)
        return exc.exit_code


def _name(text: str) -> str:
    name = text.strip()
    if not name:
        raise argparse.ArgumentTypeError("the name must not be empty")
    return name


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``keys create|list|revoke`` on the ``signal-api`` parser."""
    keys = subparsers.add_parser(
        "keys",
        help="create, list and revoke the API keys of the service",
        description="Manage the API keys, stored in the history's database (DATABASE_URL, or the embedded "
        "PostgreSQL under DATA_DIR). See the README's 'API keys and access'.",
    )
    sub = keys.add_subparsers(dest="keys_command", required=True)
    known = ",".join(scope.value for scope in Scope)

    create = sub.add_parser(
        "create",
        help="create a key and print it (once)",
        description="Create an API key and print it alone on stdout, once (only its SHA-256 is stored). "
        "Send it as `Authorization: Bearer KEY` or `X-API-Key: KEY`, or over WebSocket in the "
        'connection_init payload {"apiKey": KEY}.',
    )
    create.add_argument("--name", type=_name, required=True, help="who or what the key is for")
    create.add_argument("--scopes", type=parse_scopes, required=True, help=f"comma-separated: {known}")
    create.add_argument("--rate", type=_positive, metavar="REQUESTS_PER_MIN", help="the key's own request budget")
    create.add_argument("--cost", type=_positive, metavar="COST_PER_MIN", help="the key's own query-cost budget")
    create.set_defaults(func=_run)

    listing = sub.add_parser(
        "list",
        help="every key: id, name, prefix, scopes, created, last used, revoked",
        description="List every key (revoked ones too): id, name, the first characters of the key, scopes, "
        "budgets, and when it was created, last used and revoked.",
    )
    listing.set_defaults(func=_run)

    revoke = sub.add_parser(
        "revoke",
        help="revoke a key at once",
        description="Revoke a key: refused from its next request on, and its WebSocket connections are closed.",
    )
    revoke.add_argument("id", type=_positive, metavar="ID", help="the key's id (see keys list)")
    revoke.set_defaults(func=_run)


def serve_access_problem(settings: Settings) -> str | None:
    """Why ``signal-api serve`` must not start with these settings (see ``Authenticator.startup_problem``),
    checked before the server binds. Free when anonymous access is allowed (loopback, by default); else
    the key store is opened once to count the active keys."""
    from signal_api.security.auth import Authenticator, anonymous_allowed

    authenticator = Authenticator(allow_anonymous=anonymous_allowed(settings.allow_anonymous, settings.host))
    if authenticator.allow_anonymous:
        return None
    if not settings.history_enabled:
        return asyncio.run(authenticator.startup_problem(settings.host))
    if settings.replay_cassette is not None or settings.replay_url is not None:
        authenticator.store_problem = "replay mode opens no database"
        return asyncio.run(authenticator.startup_problem(settings.host))
    config = history_config(settings)

    async def check(repo: ApiKeyRepository) -> str | None:
        authenticator.store = repo
        return await authenticator.startup_problem(settings.host)

    try:
        return asyncio.run(_with_repository(config, check))
    except KeysCommandError as exc:
        return f"refusing to start: API keys are required on {settings.host} but {exc}"
