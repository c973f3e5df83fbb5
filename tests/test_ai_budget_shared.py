"""The AI judge's daily budget across replicas (``REDIS_URL``): two judges standing for two replicas, each
with its own process-local cache, against one real redis-server and a local OpenAI-shaped server, spend
one budget between them, however many concurrent judgements each makes; with Redis gone no call is made."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import TYPE_CHECKING

import pytest
from redis.asyncio import Redis

from engine.judge import DecidedBy
from providers.openai.client import OpenAiJudgeClient
from resolvers.ai_judge import AiJudge, SharedDailyBudget
from tests.process_helpers import free_port
from tests.redis_helpers import running_redis
from tests.test_ai_judge import CLIENTS, KEY, LATER, NOW, PAYLOAD, RULES, FakeOpenAi, close_clients, fake

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["close_clients", "fake"]  # the fixtures, shared with test_ai_judge


def replica(base_url: str, redis: Redis, budget: int) -> AiJudge:
    client = OpenAiJudgeClient(api_key=KEY, base_url=base_url, model="gpt-4o-mini", timeout_seconds=2.0)
    CLIENTS.append(client)
    return AiJudge(client, SharedDailyBudget(budget, lambda: NOW, redis), lambda: NOW, model="gpt-4o-mini")


async def test_two_replicas_spend_one_budget(fake: tuple[FakeOpenAi, str], tmp_path: Path) -> None:
    server, url = fake
    server.mode = "gather"  # concurrent callers overlap
    with running_redis(tmp_path) as redis_url:
        clients = Redis.from_url(redis_url), Redis.from_url(redis_url)
        try:
            one, two = replica(url, clients[0], 5), replica(url, clients[1], 5)
            verdicts = await asyncio.gather(
                *(judge.judge(f"state-{i}", LATER, PAYLOAD, RULES) for i in range(20) for judge in (one, two))
            )
            assert len(server.requests) == 5  # not 5 per replica
            by = Counter(v.decided_by for v in verdicts)
            assert by == {DecidedBy.AI: 5, DecidedBy.RULES: 35}
            reasons = {v.fallback_reason for v in verdicts if v.decided_by is DecidedBy.RULES}
            assert reasons == {"daily AI budget of 5 calls is spent (shared by every replica)"}
            assert one.budget.used() == two.budget.used() == 5
        finally:
            for client in clients:
                await client.aclose()


async def test_without_redis_no_call_is_made(fake: tuple[FakeOpenAi, str]) -> None:
    server, url = fake
    gone = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    try:
        verdict = await replica(url, gone, 5).judge("state", LATER, PAYLOAD, RULES)
    finally:
        await gone.aclose()
    assert verdict.decided_by is DecidedBy.RULES
    assert verdict.fallback_reason == "AI budget store (Redis) unavailable: no call made"
    assert server.requests == []


def test_a_negative_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        SharedDailyBudget(-1, lambda: NOW, Redis())
