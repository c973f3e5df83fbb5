"""Per-provider protection: an outgoing rate limiter and a circuit breaker.

The limiter (aiolimiter's leaky bucket) keeps us inside each provider's documented limits; a caller
never waits longer than ``max_wait`` for a slot, it fails over instead (``RateLimited``, named as ours).

The breaker stops hammering a provider that is down: after ``failure_threshold`` consecutive
provider-level failures (timeouts, 5xx, connection errors, geo-blocks, bad keys; not a bad symbol or
one malformed answer) it opens for ``cooldown`` seconds and calls fail fast with
``UpstreamUnavailable``; then one trial call is let through (half-open) and its outcome decides.
The libraries on the index are decorator-bound or unmaintained, and the state must be visible to
operators, so it is written here in a few lines.
"""

from __future__ import annotations

import asyncio
import enum
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiolimiter import AsyncLimiter

from providers.errors import FatalError, GeoBlocked, RateLimited, RetryableError, UpstreamError, UpstreamUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class OwnRateLimit(RateLimited):
    """Our outgoing budget is spent: not retried (``retry_after`` is infinite), not held against the venue."""

    code = "OUTGOING_RATE_LIMITED"


def counts_against_provider(error: UpstreamError) -> bool:
    """Failures that say the provider (not this one request) is unusable right now."""
    return isinstance(error, RetryableError | GeoBlocked | FatalError) and not isinstance(error, OwnRateLimit)


class CircuitBreaker:
    def __init__(
        self,
        provider: str,
        failure_threshold: int = 5,
        cooldown_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.cooldown_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def before_call(self, endpoint: str) -> None:
        """Raise at once while open; in half-open let exactly one trial call through."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return
        assert self._opened_at is not None
        remaining = max(0.0, self.cooldown_seconds - (self._clock() - self._opened_at))
        raise UpstreamUnavailable(
            self.provider,
            endpoint,
            f"circuit open after {self._failures} consecutive failures; retry in {remaining:.0f}s",
            retry_after=remaining,
        )

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_in_flight = False

    def record_failure(self, error: UpstreamError) -> None:
        self._trial_in_flight = False
        if not counts_against_provider(error):
            return
        self._failures += 1
        if self._failures >= self.failure_threshold or self._opened_at is not None:
            self._opened_at = self._clock()


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``per_second`` sustained calls with bursts of up to ``burst``; wait at most ``max_wait`` seconds.

    The default burst is one minute's budget: providers publish per-minute limits (CoinGlass 30/min,
    Binance 2,400 weight/min), and one signal needs several calls at once.
    """

    per_second: float
    burst: float | None = None
    max_wait: float = 0.25


class OutgoingLimiter:
    def __init__(self, provider: str, limit: RateLimit) -> None:
        self.provider = provider
        self.limit = limit
        burst = limit.burst if limit.burst is not None else max(1.0, limit.per_second * 60.0)
        self._limiter = AsyncLimiter(max_rate=burst, time_period=burst / limit.per_second)

    async def acquire(self, endpoint: str) -> None:
        """A slot now, or within ``max_wait``; refused at once when the bucket cannot free one in time."""
        limiter = self._limiter
        if limiter.has_capacity():
            await limiter.acquire()  # taken without suspending: callers in the same tick see the new level
            return
        if self._seconds_until_a_slot() > self.limit.max_wait:
            raise self._refusal(endpoint)  # e.g. CoinGecko's 6th call in a minute: waiting would only delay the no
        try:
            await asyncio.wait_for(limiter.acquire(), timeout=self.limit.max_wait)
        except TimeoutError:
            raise self._refusal(endpoint) from None

    def _seconds_until_a_slot(self) -> float:
        """How long until the bucket has room for one more call behind those already queued (0: unknown, so
        wait as before). Reads aiolimiter's level and queue, which ``has_capacity`` has just brought up to date."""
        level = getattr(self._limiter, "_level", None)
        waiters = getattr(self._limiter, "_waiters", None)
        if not isinstance(level, float | int) or not isinstance(waiters, list):
            return 0.0
        queued = sum(1 for *_, future in waiters if not future.done())  # a cancelled waiter stays in the heap
        excess = level + 1 + queued - self._limiter.max_rate
        return max(excess, 0.0) / self.limit.per_second

    def _refusal(self, endpoint: str) -> OwnRateLimit:
        return OwnRateLimit(
            self.provider,
            endpoint,
            f"outgoing rate limit of {self.limit.per_second:g}/s reached (our own budget, not the venue's)",
            retry_after=math.inf,
        )
