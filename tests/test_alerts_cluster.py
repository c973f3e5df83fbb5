"""The ``alerts`` subscription across replicas (``REDIS_URL``): an alert fired by the replica that holds the
scanner lease reaches a subscriber connected to another replica. Two alert services stand for two
replicas; they share only the database (rules, delivery claims) and a real redis-server (the broker)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from engine import DataQuality, Mode, Recommendation, Signal
from engine.alert_rules import AlertEvent
from engine.market import Timeframe
from persistence.alerts import AlertRuleRepository
from resolvers.alerts import AlertService, Caller, Judged, RuleSpec
from resolvers.redis_broker import RedisBroker
from tests.history_helpers import fresh_database
from tests.redis_helpers import running_redis

if TYPE_CHECKING:
    from pathlib import Path


def short_signal() -> Signal:
    return Signal(
        symbol="BTCUSDT",
        recommendation=Recommendation.SHORT,
        score=33.9,
        confidence=48.0,
        mode=Mode.AGGRESSIVE,
        thresholds=Mode.AGGRESSIVE.thresholds,
        timeframe=Timeframe.H4,
        price=111126.7,
        factors=(),
        top_factors=(),
        data_quality=DataQuality(score=90.0, tiers=(), missing=(), sources=()),
        generated_at=datetime(2025, 10, 11, 19, 59, tzinfo=UTC),
    )


async def test_an_alert_fired_on_one_replica_reaches_a_subscriber_on_another(tmp_path: Path) -> None:
    with running_redis(tmp_path) as url:
        clients = Redis.from_url(url), Redis.from_url(url)
        brokers = RedisBroker(clients[0]), RedisBroker(clients[1])
        for broker in brokers:
            await broker.start()
        try:
            async with fresh_database(tmp_path) as (db, _):
                leader = AlertService(AlertRuleRepository(db), broker=brokers[0])
                other = AlertService(AlertRuleRepository(db), broker=brokers[1])
                owner = Caller(owner="7", admin=False)
                await leader.create(owner, RuleSpec(name="shorts", channels=("SUBSCRIPTION",), symbols=("BTC",)))

                received = asyncio.Queue[tuple[str | None, AlertEvent]]()

                async def listen(service: AlertService, caller: Caller) -> None:
                    async for event in service.subscribe(caller):
                        received.put_nowait((caller.owner, event))

                listeners = [
                    asyncio.ensure_future(listen(other, owner)),  # the owner, on the other replica
                    asyncio.ensure_future(listen(other, Caller(owner="8", admin=False))),  # someone else
                ]
                await asyncio.sleep(0.1)  # both subscriptions registered before the alert fires
                judged = Judged(verdict="DOWNSIZE", risk_mode="REDUCED", decided_by="AI")
                fired = await leader.fire(short_signal(), judged)
                assert len(fired) == 1
                who, event = await asyncio.wait_for(received.get(), 5)
                assert who == "7" and event == fired[0]  # equal after the round trip through Redis
                assert event.decided_by == "AI" and event.facts.verdict == "DOWNSIZE"
                await asyncio.sleep(0.3)
                assert received.empty()  # owner 8 gets nothing of owner 7's rule
                assert (brokers[0].remote_sent, brokers[1].remote_received) == (1, 1)
                for task in listeners:
                    task.cancel()
                await asyncio.gather(*listeners, return_exceptions=True)
        finally:
            for broker in brokers:
                await broker.aclose()
            for client in clients:
                await client.aclose()
