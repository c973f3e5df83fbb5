"""The ``watchlist`` aggregate: the coins each owner follows and each coin's MSS history (migrations 0005, 0008).

Each API key has its own list (``owner``: the key id; None: the anonymous callers' shared list, stored as
``''``), at most :data:`MAX_PER_OWNER` coins. The MSS history is one series per coin, recorded while anyone
watches it; an owner reads it from when they added the coin (:meth:`WatchlistRepository.history`), and it is
deleted when the last owner removes the coin. Ownership is enforced in SQL: listing takes ``(admin, owner)``
and every change names its owner. Rows are plain values here; what an MSS means is the engine's
(:mod:`engine.mss`), and the resolvers turn an ``MssReport`` into a :class:`MssPoint` before it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from persistence.sql import load_queries

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from persistence.db import Connection, Database

WATCHLIST = load_queries("watchlist")
MAX_PER_OWNER = 100
MAX_LISTED = 500  # an admin's view of every owner's entries
ANONYMOUS = ""  # the stored owner of the anonymous callers' list (a primary key cannot hold NULL)


def stored_owner(owner: str | None) -> str:
    return ANONYMOUS if owner is None else owner


@dataclass(frozen=True, slots=True)
class WatchEntry:
    symbol: str
    note: str | None
    added_at: datetime
    owner: str | None = None  # the API key id; None: the anonymous callers' shared list

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> WatchEntry:
        owner = str(r["owner"])
        return cls(str(r["symbol"]), r["note"], r["added_at"], None if owner == ANONYMOUS else owner)


@dataclass(frozen=True, slots=True)
class MssPoint:
    """One stored MSS measurement; ``phases`` as stored (name, points, maxPoints, available, passes, missing)."""

    symbol: str
    measured_at: datetime
    total: float
    measurable_max: float
    total_low: float
    total_high: float
    tier: str | None
    phases: tuple[Mapping[str, Any], ...]

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> MssPoint:
        return cls(
            symbol=str(r["symbol"]),
            measured_at=r["measured_at"],
            total=float(r["total"]),
            measurable_max=float(r["measurable_max"]),
            total_low=float(r["total_low"]),
            total_high=float(r["total_high"]),
            tier=r["tier"],
            phases=tuple(r["phases"]),
        )


class WatchlistFull(Exception):
    """The owner already watches :data:`MAX_PER_OWNER` coins."""


class WatchlistRepository:
    """Typed async methods over the named queries; each accepts an optional ``conn`` for a transaction."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(
        self,
        owner: str | None,
        symbol: str,
        note: str | None = None,
        *,
        at: datetime,
        conn: Connection | None = None,
    ) -> WatchEntry:
        """Watch ``symbol`` for ``owner`` from ``at`` (the service clock, the one MSS measurements carry);
        adding a watched coin again keeps its first time. Raises :class:`WatchlistFull` past the cap."""
        key = stored_owner(owner)
        async with self._db.connection(conn) as c, c.transaction():
            # serialize additions per owner, so the cap holds under concurrency
            await c.execute("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 13))", key)
            is_new = not await c.fetchval(WATCHLIST["has_entry"], key, symbol)
            if is_new and int(await c.fetchval(WATCHLIST["count_owned"], key)) >= MAX_PER_OWNER:
                raise WatchlistFull(f"at most {MAX_PER_OWNER} coins per watchlist")
            r = await c.fetchrow(WATCHLIST["add_entry"], key, symbol, note, at)
        assert r is not None  # INSERT ... ON CONFLICT DO UPDATE always returns the row
        return WatchEntry.from_record(r)

    async def remove(self, owner: str | None, symbol: str, conn: Connection | None = None) -> bool:
        """True when the owner watched the coin (its history goes when nobody else watches it)."""
        async with self._db.connection(conn) as c:
            return await c.fetchrow(WATCHLIST["remove_entry"], stored_owner(owner), symbol) is not None

    async def entries(
        self, *, admin: bool, owner: str | None, limit: int = MAX_LISTED, conn: Connection | None = None
    ) -> tuple[WatchEntry, ...]:
        """The owner's coins oldest first (an admin: every owner's, by owner); at most ``limit``."""
        async with self._db.connection(conn) as c:
            rows = await c.fetch(WATCHLIST["list_entries"], admin, stored_owner(owner), limit)
        return tuple(WatchEntry.from_record(r) for r in rows)

    async def is_watched(self, symbol: str, conn: Connection | None = None) -> bool:
        """Whether any owner watches the coin."""
        async with self._db.connection(conn) as c:
            return bool(await c.fetchval(WATCHLIST["is_watched"], symbol))

    async def record(self, point: MssPoint, conn: Connection | None = None) -> bool:
        """Store a measurement of a watched coin; False (nothing stored) when nobody watches it."""
        async with self._db.connection(conn) as c:
            row = await c.fetchrow(
                WATCHLIST["record_mss"],
                point.symbol,
                point.measured_at,
                point.total,
                point.measurable_max,
                point.total_low,
                point.total_high,
                point.tier,
                list(point.phases),
            )
        return row is not None

    async def history(
        self, entries: Sequence[WatchEntry], per_entry: int, conn: Connection | None = None
    ) -> tuple[tuple[MssPoint, ...], ...]:
        """For each entry (same order), the newest ``per_entry`` measurements of its coin since it was added,
        newest first: an owner does not see measurements from before they watched the coin."""
        if not entries or per_entry <= 0:
            return tuple(() for _ in entries)
        async with self._db.connection(conn) as c:
            rows = await c.fetch(
                WATCHLIST["mss_history"], [e.symbol for e in entries], [e.added_at for e in entries], per_entry
            )
        found: list[list[MssPoint]] = [[] for _ in entries]
        for r in rows:
            found[int(r["entry_no"]) - 1].append(MssPoint.from_record(r))
        return tuple(tuple(points) for points in found)
