"""The ``watchlist`` aggregate: the coins a user follows and each one's MSS history (migration 0005).

Rows are plain values here; what an MSS means is the engine's (:mod:`engine.mss`), and the resolvers
turn an ``MssReport`` into a :class:`MssPoint` before it is stored.
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
MAX_ENTRIES = 200


@dataclass(frozen=True, slots=True)
class WatchEntry:
    symbol: str
    note: str | None
    added_at: datetime


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


class WatchlistRepository:
    """Typed async methods over the named queries; each accepts an optional ``conn`` for a transaction."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(self, symbol: str, note: str | None = None, conn: Connection | None = None) -> WatchEntry:
        async with self._db.connection(conn) as c:
            r = await c.fetchrow(WATCHLIST["add_entry"], symbol, note)
        assert r is not None  # INSERT ... ON CONFLICT DO UPDATE always returns the row
        return WatchEntry(str(r["symbol"]), r["note"], r["added_at"])

    async def remove(self, symbol: str, conn: Connection | None = None) -> bool:
        """True when the coin was watched (its history goes with it)."""
        async with self._db.connection(conn) as c:
            return await c.fetchrow(WATCHLIST["remove_entry"], symbol) is not None

    async def entries(self, limit: int = MAX_ENTRIES, conn: Connection | None = None) -> tuple[WatchEntry, ...]:
        async with self._db.connection(conn) as c:
            rows = await c.fetch(WATCHLIST["list_entries"], limit)
        return tuple(WatchEntry(str(r["symbol"]), r["note"], r["added_at"]) for r in rows)

    async def is_watched(self, symbol: str, conn: Connection | None = None) -> bool:
        async with self._db.connection(conn) as c:
            return bool(await c.fetchval(WATCHLIST["is_watched"], symbol))

    async def record(self, point: MssPoint, conn: Connection | None = None) -> bool:
        """Store a measurement of a watched coin; False (nothing stored) when the coin is not watched."""
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
        self, symbols: Sequence[str], per_symbol: int, conn: Connection | None = None
    ) -> dict[str, tuple[MssPoint, ...]]:
        """The newest ``per_symbol`` measurements of each coin, newest first."""
        async with self._db.connection(conn) as c:
            rows = await c.fetch(WATCHLIST["mss_history"], list(symbols), per_symbol)
        found: dict[str, list[MssPoint]] = {s: [] for s in symbols}
        for r in rows:
            found.setdefault(str(r["symbol"]), []).append(MssPoint.from_record(r))
        return {s: tuple(points) for s, points in found.items()}
