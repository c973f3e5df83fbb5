"""The migration runner: numbered ``persistence/migrations/NNNN_name.sql`` files, applied in order.

Each file runs in its own transaction together with its row in ``schema_migrations`` (version, name,
applied_at, checksum), so a failed migration leaves nothing behind. An applied file whose checksum has
changed is refused (:class:`MigrationError`): migrations are append-only; fix forward with a new file.
A session advisory lock serializes concurrent runners (two processes starting at once).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from collections.abc import Sequence

    from persistence.db import Connection

log = structlog.get_logger(__name__)

_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
_LOCK_KEY = 7_316_502_281  # arbitrary, constant: "the migration runner"

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    checksum    text NOT NULL
)
"""
SELECT_APPLIED = "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
INSERT_APPLIED = "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"
LOCK = "SELECT pg_advisory_lock($1::bigint)"
UNLOCK = "SELECT pg_advisory_unlock($1::bigint)"


class MigrationError(Exception):
    """The database and the migration files disagree (changed checksum, unknown file name)."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def load_migrations() -> list[Migration]:
    """Every migration file shipped in the package, by version."""
    folder = resources.files("persistence").joinpath("migrations")
    migrations: list[Migration] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE.match(entry.name)
        if match is None:
            raise MigrationError(f"migration file {entry.name!r} is not named NNNN_name.sql")
        migrations.append(Migration(int(match["version"]), match["name"], entry.read_text(encoding="utf-8")))
    migrations.sort(key=lambda m: m.version)
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version: {versions}")
    return migrations


async def apply_migrations(conn: Connection, migrations: Sequence[Migration] | None = None) -> list[Migration]:
    """Apply every migration not yet recorded; return those applied now (empty when up to date)."""
    pending = load_migrations() if migrations is None else list(migrations)
    await conn.execute(LOCK, _LOCK_KEY)
    try:
        await conn.execute(CREATE_TABLE)
        applied = {row["version"]: row for row in await conn.fetch(SELECT_APPLIED)}
        known = {m.version for m in pending}
        for version in sorted(set(applied) - known):
            log.warning("database has a migration this code does not know", version=version)
        done: list[Migration] = []
        for migration in pending:
            row = applied.get(migration.version)
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name} was changed after it was applied "
                        f"(checksum {row['checksum'][:12]} in the database, {migration.checksum[:12]} on disk); "
                        "add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(INSERT_APPLIED, migration.version, migration.name, migration.checksum)
            log.info("migration applied", version=migration.version, name=migration.name)
            done.append(migration)
        return done
    finally:
        await conn.execute(UNLOCK, _LOCK_KEY)
