"""persistence.alerts on a real PostgreSQL: ownership in SQL, the per-owner cap, one delivery per alert and
channel, leases that exclude a second holder until they expire, and ``signals.replayed`` set by the
connection setting of a replaying process."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

import pytest

from persistence.alerts import MAX_RULES_PER_OWNER, AlertRuleRepository, LeaseRepository, NewRule, TooManyRules
from persistence.db import create_pool
from persistence.repository import SignalRepository
from persistence.rows import SignalRow
from tests.history_helpers import fresh_database, make_signal

if TYPE_CHECKING:
    from pathlib import Path


def rule(owner: str | None, name: str = "r", secret: str | None = None) -> NewRule:
    return NewRule(
        owner=owner,
        name=name,
        conditions={"symbols": ["BTCUSDT"], "min_score": 70},
        expression="confidence > 50",
        channels=("TELEGRAM", "WEBHOOK") if secret else ("TELEGRAM",),
        webhook_url="http://127.0.0.1:1/hook" if secret else None,
        webhook_secret=secret,
    )


async def test_owners_see_and_change_only_their_rules(tmp_path: Path) -> None:
    async with fresh_database(tmp_path) as (db, _):
        repo = AlertRuleRepository(db)
        mine = await repo.create(rule("7", "mine", secret="s3cret"))
        theirs = await repo.create(rule("8", "theirs"))
        anonymous = await repo.create(rule(None, "anon"))
        assert mine.webhook_secret is None or mine.webhook_secret == "s3cret"
        assert [r.name for r in await repo.list_rules(admin=False, owner="7")] == ["mine"]
        assert [r.name for r in await repo.list_rules(admin=False, owner=None)] == ["anon"]
        assert {r.name for r in await repo.list_rules(admin=True, owner="7")} == {"mine", "theirs", "anon"}
        # another owner's id behaves like an unknown one
        assert await repo.set_paused(theirs.id, True, admin=False, owner="7") is None
        assert await repo.delete(anonymous.id, admin=False, owner="7") is False
        paused = await repo.set_paused(mine.id, True, admin=False, owner="7")
        assert paused is not None and paused.paused
        assert [r.name for r in await repo.active()] == ["theirs", "anon"]
        assert await repo.delete(theirs.id, admin=True, owner=None) is True
        # only the dispatcher's read carries the secret
        await repo.set_paused(mine.id, False, admin=False, owner="7")
        active = {r.name: r for r in await repo.active()}
        assert active["mine"].webhook_secret == "s3cret"
        listed = (await repo.list_rules(admin=False, owner="7"))[0]
        assert listed.public().webhook_secret is None


async def test_the_cap_per_owner_holds_under_concurrency(tmp_path: Path) -> None:
    async with fresh_database(tmp_path) as (db, _):
        repo = AlertRuleRepository(db)
        results = await asyncio.gather(
            *(repo.create(rule("7", f"r{i}")) for i in range(MAX_RULES_PER_OWNER + 5)), return_exceptions=True
        )
        assert sum(isinstance(r, TooManyRules) for r in results) == 5
        assert len(await repo.list_rules(admin=False, owner="7")) == MAX_RULES_PER_OWNER


async def test_a_delivery_is_claimed_once(tmp_path: Path) -> None:
    async with fresh_database(tmp_path) as (db, _):
        repo = AlertRuleRepository(db)
        stored = await repo.create(rule("7"))
        claims = await asyncio.gather(*(repo.claim("key-1", "TELEGRAM", stored.id) for _ in range(8)))
        assert claims.count(True) == 1
        assert await repo.claim("key-1", "WEBHOOK", stored.id) is True
        assert await repo.claim("key-2", "TELEGRAM", stored.id) is True


async def test_a_lease_has_one_holder_until_it_expires(tmp_path: Path) -> None:
    async with fresh_database(tmp_path) as (db, _):
        leases = LeaseRepository(db)
        assert await leases.acquire("scanner", "a", 0.5)
        assert not await leases.acquire("scanner", "b", 0.5)
        assert await leases.acquire("scanner", "a", 0.5)  # renewal
        await asyncio.sleep(0.6)
        assert await leases.acquire("scanner", "b", 60)  # expired: taken over
        assert not await leases.acquire("scanner", "a", 60)
        await leases.release("scanner", "b")
        assert await leases.acquire("scanner", "a", 60)


@pytest.mark.parametrize("replayed", [False, True])
async def test_rows_of_a_replaying_process_are_tagged(tmp_path: Path, replayed: bool) -> None:
    async with fresh_database(tmp_path) as (db, url):
        settings = {"signal_api.replayed": "on"} if replayed else None
        pool = await create_pool(url, min_size=1, max_size=1, server_settings=settings)
        original, db.pool = db.pool, pool  # what open_history(config.replayed=True) builds
        try:
            row = SignalRow.from_signal(make_signal(), uuid.uuid4())
            assert await SignalRepository(db).insert(row)
            async with db.connection() as conn:
                assert await conn.fetchval("SELECT replayed FROM signals WHERE id = $1", row.id) is replayed
        finally:
            db.pool = original
            await pool.close()
