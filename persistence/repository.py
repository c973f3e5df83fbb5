"""Repositories: one class per aggregate (signals, outcomes), typed async methods over named queries.

Every method takes an optional ``conn``: pass one to make the call part of your transaction; without it
a connection is taken from the pool for the call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.outcomes import Verdict
from persistence.analytics import (
    EvaluatedRow,
    Insights,
    PerformanceReport,
    factor_agreement,
    performance_report,
)
from persistence.config import DEDUP_SCORE_TOLERANCE, DEDUP_WINDOW_SECONDS
from persistence.rows import StoredSignal
from persistence.sql import load_queries

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping, Sequence
    from datetime import datetime
    from uuid import UUID

    from engine.outcomes import ExitFirst, Outcome
    from persistence.db import Connection, Database
    from persistence.rows import SignalRow

SIGNALS = load_queries("signals")
OUTCOMES = load_queries("outcomes")


@dataclass(frozen=True, slots=True)
class Keyset:
    """A position in the history: the (generated_at, id) of the last row already seen."""

    generated_at: datetime
    id: UUID


@dataclass(frozen=True, slots=True)
class Page:
    items: tuple[StoredSignal, ...]
    has_next_page: bool

    @property
    def end(self) -> Keyset | None:
        if not self.items:
            return None
        last = self.items[-1].row
        return Keyset(last.generated_at, last.id)


class SignalRepository:
    """The ``signals`` aggregate: writes (deduplicated, idempotent by id) and the analytics reads.

    Dedup rule: a signal is not stored when a stored one has the same symbol, recommendation, mode and
    timeframe, a ``generated_at`` less than ``dedup_window_seconds`` away (either side), and a score
    less than ``dedup_score_tolerance`` apart (both passed to the SQL as parameters). Window 0 disables
    it. The check and insert run under a transaction-scoped advisory lock on that key, so concurrent
    writers cannot both insert a repeat.
    """

    def __init__(
        self,
        database: Database,
        *,
        dedup_window_seconds: float = DEDUP_WINDOW_SECONDS,
        dedup_score_tolerance: float = DEDUP_SCORE_TOLERANCE,
    ) -> None:
        self._db = database
        self.dedup_window_seconds = dedup_window_seconds
        self.dedup_score_tolerance = dedup_score_tolerance

    async def ping(self, conn: Connection | None = None) -> None:
        async with self._db.connection(conn) as c:
            await c.fetchval("SELECT 1")

    async def insert(self, row: SignalRow, conn: Connection | None = None) -> bool:
        """Store ``row``; False when it repeats a stored signal or its id is already stored."""
        return bool(await self.insert_many([row], conn))

    async def insert_many(self, rows: Sequence[SignalRow], conn: Connection | None = None) -> list[UUID]:
        """Store ``rows`` in one transaction; return the ids actually inserted (in input order)."""
        if not rows:
            return []
        inserted: list[UUID] = []
        async with self._db.connection(conn) as c, c.transaction():
            # locks in a stable order, so two writers never wait on each other in a cycle
            await c.fetchval(SIGNALS["lock_signal_keys"], sorted({r.dedup_key for r in rows}))
            for row in rows:  # one at a time: each row is checked against the ones stored before it
                inserted.extend(r["id"] for r in await self._insert(c, [row]))
        return inserted

    async def insert_batch(self, rows: Sequence[SignalRow], conn: Connection | None = None) -> list[UUID]:
        """:meth:`insert_many` in two statements whatever the batch size (group commit): the batch's
        dedup locks, then one INSERT. Repeats within the batch are removed here first, by the same rule
        and in the same order as :meth:`insert_many` would store them."""
        batch = self.without_repeats(rows)
        if not batch:
            return []
        async with self._db.connection(conn) as c, c.transaction():
            await c.fetchval(SIGNALS["lock_signal_keys"], sorted({r.dedup_key for r in batch}))
            records = await self._insert(c, batch)
        inserted = {r["id"] for r in records}
        return [r.id for r in batch if r.id in inserted]

    async def _insert(self, conn: Connection, rows: Sequence[SignalRow]) -> list[Mapping[str, Any]]:
        """``insert_signals`` with this repository's dedup rule; the caller holds the rows' locks."""
        return await conn.fetch(
            SIGNALS["insert_signals"],
            [r.to_json() for r in rows],
            float(self.dedup_window_seconds),
            float(self.dedup_score_tolerance),
        )

    def without_repeats(self, rows: Sequence[SignalRow]) -> list[SignalRow]:
        """``rows`` less every row that repeats an earlier one of them (or shares its id)."""
        window = self.dedup_window_seconds
        seen_ids: set[UUID] = set()
        kept: dict[str, list[SignalRow]] = {}
        out: list[SignalRow] = []
        for row in rows:
            if row.id in seen_ids:
                continue
            earlier = kept.setdefault(row.dedup_key, [])
            if window > 0 and any(
                abs((row.generated_at - e.generated_at).total_seconds()) < window
                and abs(row.score - e.score) < self.dedup_score_tolerance
                for e in earlier
            ):
                continue
            seen_ids.add(row.id)
            earlier.append(row)
            out.append(row)
        return out

    async def page(
        self,
        *,
        first: int,
        after: Keyset | None = None,
        symbol: str | None = None,
        recommendation: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        conn: Connection | None = None,
    ) -> Page:
        """Newest first, ``first`` rows after the keyset ``after``; stable while rows are inserted."""
        async with self._db.connection(conn) as c:
            records = await c.fetch(
                SIGNALS["signals_page"],
                symbol,
                recommendation,
                start,
                end,
                after.generated_at if after else None,
                after.id if after else None,
                first + 1,
            )
        items = tuple(StoredSignal.from_record(r) for r in records[:first])
        return Page(items=items, has_next_page=len(records) > first)

    async def performance(
        self,
        *,
        horizon_hours: int,
        symbol: str | None = None,
        mode: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        conn: Connection | None = None,
    ) -> PerformanceReport:
        args = (horizon_hours, symbol, mode, start, end)
        async with self._db.connection(conn) as c:
            records = await c.fetch(SIGNALS["performance_rows"], *args)
            pending = await c.fetchval(SIGNALS["count_pending"], *args)
        rows = [EvaluatedRow.from_record(r) for r in records]
        return performance_report(rows, horizon_hours, int(pending))

    async def insights(
        self, symbol: str, *, horizon_hours: int, recent: int = 10, conn: Connection | None = None
    ) -> Insights:
        async with self._db.connection(conn) as c:
            latest = await self.page(first=recent, symbol=symbol, conn=c)
            performance = await self.performance(horizon_hours=horizon_hours, symbol=symbol, conn=c)
            records = await c.fetch(SIGNALS["factor_rows"], horizon_hours, symbol)
        factors = factor_agreement((r["recommendation"], r["factors"], Verdict(r["verdict"])) for r in records)
        return Insights(
            symbol=symbol,
            horizon_hours=horizon_hours,
            recent=latest.items,
            performance=performance,
            factors=factors,
        )

    async def export(
        self,
        *,
        symbol: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        conn: Connection | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every stored signal with its outcomes, oldest first, streamed (a server-side cursor)."""
        async with self._db.connection(conn) as c, c.transaction():
            async for record in c.cursor(SIGNALS["export_signals"], symbol, start, end, prefetch=500):
                yield dict(record)


@dataclass(frozen=True, slots=True)
class DueOutcome:
    signal_id: UUID
    symbol: str
    recommendation: str
    price: float
    generated_at: datetime
    horizon_hours: int
    stop: float | None = None  # the stored plan's legs (migration 0006); None: stored without a plan
    take_profit: float | None = None


class OutcomeRepository:
    """The ``signal_outcomes`` aggregate: which outcomes are due, and storing them (once)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def due(
        self,
        *,
        now: datetime,
        horizons_hours: Sequence[int],
        oldest: datetime,
        limit: int,
        conn: Connection | None = None,
    ) -> list[DueOutcome]:
        async with self._db.connection(conn) as c:
            records = await c.fetch(OUTCOMES["due_outcomes"], list(horizons_hours), now, oldest, limit)
        return [
            DueOutcome(
                signal_id=r["id"],
                symbol=r["symbol"],
                recommendation=r["recommendation"],
                price=r["price"],
                generated_at=r["generated_at"],
                horizon_hours=r["horizon_hours"],
                stop=r["stop"],
                take_profit=r["take_profit"],
            )
            for r in records
        ]

    async def insert(
        self,
        due: DueOutcome,
        outcome: Outcome,
        *,
        window_start: datetime,
        price_source: str,
        exit_first: ExitFirst | None = None,
        conn: Connection | None = None,
    ) -> bool:
        """Store one outcome (with which plan leg was hit first, when there is a plan); False when that
        (signal, horizon) already has one."""
        async with self._db.connection(conn) as c:
            got = await c.fetchval(
                OUTCOMES["insert_outcome"],
                due.signal_id,
                due.horizon_hours,
                window_start,
                due.price,
                outcome.exit_price,
                outcome.return_pct,
                outcome.max_favourable_pct,
                outcome.max_adverse_pct,
                outcome.verdict.value,
                price_source,
                exit_first.value if exit_first is not None else None,
            )
        return got is not None
