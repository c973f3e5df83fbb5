"""The AI judge's policy: a daily call budget, a cache per symbol and signal state, and the fallback.

The provider (``providers.openai``) makes one call; this module decides whether it may be made and what
its answer is worth. Why each rule:

- **Budget.** ``DailyBudget.try_spend`` checks and counts in one synchronous step (no ``await`` between
  them), so on one event loop any number of concurrent judgements cannot spend past the limit. With
  ``REDIS_URL`` the budget is the cluster's (:class:`SharedDailyBudget`): one ``INCR`` of the day's counter
  on Redis, atomic across replicas, so N replicas spend one budget, not N; when Redis does not answer, no
  call is made (money is never spent on an unknown count). A call is counted when it starts: a timed-out
  call may still be billed.
- **Cache.** A verdict is kept per (symbol, timeframe, mode, side, last closed bar) until the next bar
  closes; concurrent requests for the same state share one call (single flight). Only AI answers are
  kept; a fallback is not, so the next request may try again (within the budget).
- **Fallback.** Any timeout, refusal, invalid or incoherent answer, or spent budget gives the rules'
  verdict with ``decided_by=RULES`` and ``fallback_reason`` saying why.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from prometheus_client import Counter, Gauge
from redis.exceptions import RedisError

from engine.judge import DecidedBy, Verdict, VerdictKind
from engine.plan import RiskMode
from providers.openai.errors import AiJudgeError

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Mapping
    from datetime import date, datetime

    from redis.asyncio import Redis

    from providers.openai.models import AiVerdictAnswer

log = structlog.get_logger(__name__)

AI_JUDGE_CALLS = Counter("ai_judge_calls_total", "AI judge calls by outcome", ["outcome"])
AI_JUDGE_BUDGET_USED = Gauge("ai_judge_budget_used_calls", "AI judge calls spent today (UTC) of the daily budget")
MAX_REASON_CHARS = 300
CACHE_ENTRIES = 2048


class AiClient(Protocol):
    async def verdict(self, payload: Mapping[str, Any]) -> AiVerdictAnswer: ...


class DailyBudget:
    """At most ``limit`` calls per UTC day (``limit`` 0 disables the AI without disabling the judge)."""

    def __init__(self, limit: int, clock: Callable[[], datetime]) -> None:
        if limit < 0:
            raise ValueError(f"daily budget must be >= 0, got {limit}")
        self._limit = limit
        self._clock = clock
        self._day: date | None = None
        self._used = 0

    @property
    def limit(self) -> int:
        return self._limit

    def used(self) -> int:
        self._roll()
        return self._used

    def _roll(self) -> None:
        today = self._clock().date()
        if today != self._day:
            self._day, self._used = today, 0
            AI_JUDGE_BUDGET_USED.set(0)

    def try_spend(self) -> bool:
        """Take one call from today's budget; False when it is spent. Never awaits: atomic on the loop."""
        self._roll()
        if self._used >= self._limit:
            return False
        self._used += 1
        AI_JUDGE_BUDGET_USED.set(self._used)
        return True

    async def spend(self) -> str | None:
        """:meth:`try_spend` as the judge asks it: None when spent, else why not."""
        return None if self.try_spend() else f"daily AI budget of {self._limit} calls is spent"


class Budget(Protocol):
    @property
    def limit(self) -> int: ...

    def used(self) -> int: ...

    async def spend(self) -> str | None: ...


SHARED_BUDGET_PREFIX = "fsa:ai-budget:"


class SharedDailyBudget:
    """The daily budget of every replica on one Redis: ``INCR fsa:ai-budget:<UTC date>`` counts a call
    and answers the day's total in one atomic step (kept two days, then it expires)."""

    def __init__(
        self, limit: int, clock: Callable[[], datetime], redis: Redis, *, prefix: str = SHARED_BUDGET_PREFIX
    ) -> None:
        if limit < 0:
            raise ValueError(f"daily budget must be >= 0, got {limit}")
        self._limit = limit
        self._clock = clock
        self._redis = redis
        self._prefix = prefix
        self._seen: tuple[date, int] | None = None  # the last total Redis answered, for used()

    @property
    def limit(self) -> int:
        return self._limit

    def used(self) -> int:
        """Today's spend by every replica as last seen (0 before this replica asked today)."""
        today = self._clock().date()
        return min(self._limit, self._seen[1]) if self._seen is not None and self._seen[0] == today else 0

    async def spend(self) -> str | None:
        if self._limit == 0:
            return "daily AI budget of 0 calls is spent"
        today = self._clock().date()
        key = f"{self._prefix}{today.isoformat()}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, 2 * 86_400)
                total, _ = await pipe.execute()
        except RedisError as exc:
            log.warning("ai judge budget store unavailable; no AI call made", error=type(exc).__name__)
            return "AI budget store (Redis) unavailable: no call made"
        # concurrent spends finish in any order: keep the highest total seen today, not the last to arrive
        earlier = self._seen[1] if self._seen is not None and self._seen[0] == today else 0
        self._seen = (today, max(earlier, int(total)))
        AI_JUDGE_BUDGET_USED.set(self.used())
        if int(total) > self._limit:
            return f"daily AI budget of {self._limit} calls is spent (shared by every replica)"
        return None


@dataclass(frozen=True, slots=True)
class _Cached:
    verdict: Verdict
    expires_at: datetime


def coherent(answer: AiVerdictAnswer) -> str | None:
    """Why an answer contradicts itself, else None: SKIP/WAIT must be AVOID, CONFIRM must not, and DOWNSIZE
    ("take it smaller") must be REDUCED: a DOWNSIZE at NORMAL or AGGRESSIVE size would size the trade up."""
    allowed = {"SKIP": ("AVOID",), "WAIT": ("AVOID",), "DOWNSIZE": ("REDUCED",)}.get(
        answer.verdict, ("REDUCED", "NORMAL", "AGGRESSIVE")
    )
    if answer.risk_mode not in allowed:
        return f"incoherent answer: {answer.verdict} with risk mode {answer.risk_mode}"
    return None


class AiJudge:
    """Budgeted, cached AI verdicts with the rules as the fallback."""

    def __init__(self, client: AiClient, budget: Budget, clock: Callable[[], datetime], *, model: str = "") -> None:
        self._client = client
        self._budget = budget
        self._clock = clock
        self.model = model
        self._cache: OrderedDict[Hashable, _Cached] = OrderedDict()
        self._inflight: dict[Hashable, asyncio.Task[Verdict]] = {}

    @property
    def budget(self) -> Budget:
        return self._budget

    async def judge(self, key: Hashable, expires_at: datetime, payload: Mapping[str, Any], rules: Verdict) -> Verdict:
        """The AI's verdict for this signal state, or ``rules`` with the reason it stood in."""
        cached = self._cache.get(key)
        if cached is not None and cached.expires_at > self._clock():
            self._cache.move_to_end(key)
            AI_JUDGE_CALLS.labels("cached").inc()
            return cached.verdict
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._call(key, expires_at, payload, rules))
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        # shielded: one caller giving up does not cancel the call the others wait for
        return await asyncio.shield(task)

    async def _call(self, key: Hashable, expires_at: datetime, payload: Mapping[str, Any], rules: Verdict) -> Verdict:
        if (refused := await self._budget.spend()) is not None:
            AI_JUDGE_CALLS.labels("budget_exhausted").inc()
            return replace(rules, fallback_reason=refused)
        try:
            answer = await self._client.verdict(payload)
        except AiJudgeError as exc:
            AI_JUDGE_CALLS.labels("failed").inc()
            log.warning("ai judge fell back to the rules", reason=exc.reason)
            return replace(rules, fallback_reason=f"AI {exc.reason}")
        if problem := coherent(answer):
            AI_JUDGE_CALLS.labels("failed").inc()
            log.warning("ai judge fell back to the rules", reason=problem)
            return replace(rules, fallback_reason=f"AI {problem}")
        AI_JUDGE_CALLS.labels("answered").inc()
        verdict = Verdict(
            verdict=VerdictKind(answer.verdict),
            risk_mode=RiskMode(answer.risk_mode),
            decided_by=DecidedBy.AI,
            fallback_reason=None,
            checks=rules.checks,
            reason=answer.reason.strip()[:MAX_REASON_CHARS] or "no reason given",
        )
        self._cache[key] = _Cached(verdict, expires_at)
        while len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return verdict
