"""The ``alert_rules`` aggregate, the delivery claims and the job leases (migration 0007).

Ownership is enforced in SQL: every statement that reads or changes a rule takes ``(admin, owner)`` and
matches ``admin OR owner IS NOT DISTINCT FROM $owner``, so a caller cannot reach another caller's rule
by id. The webhook secret is written once and read only by :meth:`AlertRuleRepository.active` (the
dispatcher signs with it); :class:`StoredRule` carries it, :meth:`StoredRule.public` drops it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from persistence.sql import load_queries

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from persistence.db import Connection, Database

ALERTS = load_queries("alerts")
MAX_RULES_PER_OWNER = 100
MAX_RULES_LISTED = 500


@dataclass(frozen=True, slots=True)
class NewRule:
    owner: str | None
    name: str
    conditions: dict[str, Any]
    expression: str | None
    channels: tuple[str, ...]
    webhook_url: str | None = None
    webhook_secret: str | None = None


@dataclass(frozen=True, slots=True)
class StoredRule:
    id: uuid.UUID
    owner: str | None
    name: str
    conditions: dict[str, Any]
    expression: str | None
    channels: tuple[str, ...]
    webhook_url: str | None
    paused: bool
    created_at: datetime
    fired_count: int
    last_fired_at: datetime | None
    webhook_secret: str | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> StoredRule:
        return cls(
            id=record["id"],
            owner=record["owner"],
            name=record["name"],
            conditions=dict(record["conditions"]),
            expression=record["expression"],
            channels=tuple(record["channels"]),
            webhook_url=record["webhook_url"],
            paused=bool(record["paused"]),
            created_at=record["created_at"],
            fired_count=int(record["fired_count"]),
            last_fired_at=record["last_fired_at"],
            webhook_secret=record.get("webhook_secret") if "webhook_secret" in record else None,
        )

    def public(self) -> StoredRule:
        """The rule without its secret (what any answer carries)."""
        return replace(self, webhook_secret=None)


class TooManyRules(Exception):
    """The owner already has :data:`MAX_RULES_PER_OWNER` rules."""


class AlertRuleRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(self, rule: NewRule, conn: Connection | None = None) -> StoredRule:
        async with self._db.connection(conn) as c, c.transaction():
            # serialize creations per owner, so the cap holds under concurrency
            await c.execute("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7))", rule.owner or "")
            owned = await c.fetchval(ALERTS["count_owned"], rule.owner)
            if int(owned) >= MAX_RULES_PER_OWNER:
                raise TooManyRules(f"at most {MAX_RULES_PER_OWNER} alert rules per owner")
            record = await c.fetchrow(
                ALERTS["insert_rule"],
                uuid.uuid4(),
                rule.owner,
                rule.name,
                rule.conditions,
                rule.expression,
                list(rule.channels),
                rule.webhook_url,
                rule.webhook_secret,
            )
        assert record is not None
        return StoredRule.from_record(record)

    async def list_rules(self, *, admin: bool, owner: str | None, conn: Connection | None = None) -> list[StoredRule]:
        async with self._db.connection(conn) as c:
            records = await c.fetch(ALERTS["list_rules"], admin, owner, MAX_RULES_LISTED)
        return [StoredRule.from_record(r) for r in records]

    async def set_paused(
        self, rule_id: uuid.UUID, paused: bool, *, admin: bool, owner: str | None, conn: Connection | None = None
    ) -> StoredRule | None:
        """The rule after the change; None when no rule with that id is the caller's."""
        async with self._db.connection(conn) as c:
            record = await c.fetchrow(ALERTS["set_paused"], admin, owner, paused, rule_id)
        return None if record is None else StoredRule.from_record(record)

    async def delete(
        self, rule_id: uuid.UUID, *, admin: bool, owner: str | None, conn: Connection | None = None
    ) -> bool:
        async with self._db.connection(conn) as c:
            return await c.fetchval(ALERTS["delete_rule"], admin, owner, rule_id) is not None

    async def active(self, conn: Connection | None = None) -> list[StoredRule]:
        """Every rule not paused, with its webhook secret (for the dispatcher only)."""
        async with self._db.connection(conn) as c:
            records = await c.fetch(ALERTS["active_rules"])
        return [StoredRule.from_record(r) for r in records]

    async def claim(self, dedup_key: str, channel: str, rule_id: uuid.UUID, conn: Connection | None = None) -> bool:
        """True exactly once per (alert, channel) across every process sharing the database."""
        async with self._db.connection(conn) as c:
            return bool(await c.fetchval(ALERTS["claim_delivery"], dedup_key, channel, rule_id))

    async def count_fired(self, rule_id: uuid.UUID, conn: Connection | None = None) -> None:
        async with self._db.connection(conn) as c:
            await c.execute(ALERTS["count_fired"], rule_id)


class LeaseRepository:
    """Named leases with an expiry, so one replica at a time runs a job (renewed each round)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def acquire(self, name: str, holder: str, ttl_seconds: float, conn: Connection | None = None) -> bool:
        """Take or renew ``name`` for ``ttl_seconds``; False while another holder's lease is unexpired."""
        async with self._db.connection(conn) as c:
            return bool(await c.fetchval(ALERTS["acquire_lease"], name, holder, ttl_seconds) == holder)

    async def release(self, name: str, holder: str, conn: Connection | None = None) -> None:
        async with self._db.connection(conn) as c:
            await c.execute(ALERTS["release_lease"], name, holder)
