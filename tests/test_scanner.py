"""The scanner's lease (one replica scans, the other skips until the lease expires) and what the alert
service asks it to compute (MSS tier, spike z-score only when an active rule reads them)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from engine import Mode
from engine.market import Timeframe
from persistence.alerts import AlertRuleRepository, LeaseRepository, NewRule, StoredRule
from resolvers.alerts import AlertService
from resolvers.scanner import Scanner
from signal_api.container import build_container
from signal_api.settings import Settings
from tests.history_helpers import fresh_database

if TYPE_CHECKING:
    from pathlib import Path

    from persistence.db import Connection


def rule(name: str, conditions: dict[str, object], expression: str | None = None) -> NewRule:
    return NewRule(owner=None, name=name, conditions=conditions, expression=expression, channels=("SUBSCRIPTION",))


async def test_one_replica_scans_while_it_holds_the_lease(tmp_path: Path) -> None:
    container = build_container(Settings(_env_file=None))  # type: ignore[call-arg]
    try:
        async with fresh_database(tmp_path) as (db, _):
            service = AlertService(AlertRuleRepository(db))

            def scanner() -> Scanner:
                return Scanner(
                    lambda: container.services,
                    service,
                    LeaseRepository(db),
                    symbols=[],  # nothing to compute: the lease is what is tested
                    modes=[Mode.AGGRESSIVE],
                    timeframe=Timeframe.H4,
                    interval_seconds=5,
                )

            a, b = scanner(), scanner()
            assert a.status.holder != b.status.holder
            ran = await asyncio.gather(a.run_once(), b.run_once())
            assert sorted(ran) == [False, True]
            leader, follower = (a, b) if ran[0] else (b, a)
            assert leader.status.leader and leader.status.rounds == 1 and leader.status.last_finished_at
            assert not follower.status.leader and follower.status.skipped_rounds == 1 and follower.status.rounds == 0
            assert await leader.run_once() and not await follower.run_once()  # renewed, still excluded
            async with db.connection() as conn:  # the leader dies: its lease runs out
                await conn.execute("UPDATE leases SET expires_at = now() - interval '1 second'")
            assert await follower.run_once() and not await leader.run_once()
            assert follower.status.to_json()["leader"] is True and follower.status.to_json()["progress"] == "0/0"
    finally:
        await container.aclose()


async def test_costly_facts_are_asked_for_only_when_a_rule_reads_them(tmp_path: Path) -> None:
    async with fresh_database(tmp_path) as (db, _):
        repo = AlertRuleRepository(db)
        service = AlertService(repo)
        await repo.create(rule("plain", {"min_score": 60}))
        assert await service.needs() == frozenset()
        await repo.create(rule("tier", {"mss_tiers": ["GOLD"]}))
        await repo.create(rule("spike", {}, expression="spike_z > 2"))
        service = AlertService(repo)  # a fresh cache of the active rules
        assert await service.needs() == {"mss_tier", "spike_z"}
        assert await AlertService(None).needs() == frozenset()


async def test_a_failed_round_does_not_stop_the_scanner(tmp_path: Path) -> None:
    """The rules' database fails while a round reads them (before any symbol): the round says so in its
    status and the next round runs; before, the loop's task died and the scanner stopped for good."""
    container = build_container(Settings(_env_file=None))  # type: ignore[call-arg]
    try:
        async with fresh_database(tmp_path) as (db, _):

            class Flaky(AlertRuleRepository):
                calls = 0

                async def active(self, conn: Connection | None = None) -> list[StoredRule]:
                    Flaky.calls += 1
                    if Flaky.calls == 1:
                        raise ConnectionResetError("the database went away")
                    return await super().active(conn)

            repo = Flaky(db)
            await repo.create(rule("any", {}))
            scanner = Scanner(
                lambda: container.services,
                AlertService(repo),
                LeaseRepository(db),
                symbols=[],
                modes=[Mode.AGGRESSIVE],
                timeframe=Timeframe.H4,
                interval_seconds=0.05,
            )
            await scanner.start()
            try:
                for _ in range(200):  # at most ~10 s
                    if scanner.status.rounds >= 3:
                        break
                    await asyncio.sleep(0.05)
            finally:
                await scanner.aclose()
            assert scanner.status.rounds >= 3 and Flaky.calls >= 2
    finally:
        await container.aclose()
