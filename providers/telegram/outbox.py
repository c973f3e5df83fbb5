"""The Telegram outbox: alerts are queued (bounded) and sent by one task, so no request ever waits on
Telegram; each (alert, chat) is sent at most once (a bounded memory of dedup keys; the alert dispatcher
also claims each alert in the database first, so replicas and restarts do not repeat it either).

A 429 is honoured: the task sleeps ``retry_after`` (capped) and sends the same message again, at most
``max_attempts`` times; other retryable failures back off exponentially (capped). A message that cannot be
sent is counted as failed with its reason (``/health``, metrics); it never raises into a caller.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from providers.errors import RateLimited, RetryableError, UpstreamError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from providers.telegram.raw import TelegramBotApi

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class OutboxStats:
    queued: int = 0
    sent: int = 0
    failed: int = 0
    duplicates: int = 0  # offers refused because the same alert was already queued or sent to that chat
    dropped: int = 0  # offers refused because the queue was full
    rate_limited: int = 0  # 429 answers honoured
    last_error: str | None = None
    failing: int = 0  # messages given up on since the last one sent (0: the last message went out)
    failures_by_reason: dict[str, int] = field(default_factory=dict)


class TelegramOutbox:
    def __init__(
        self,
        api: TelegramBotApi,
        chat_ids: Sequence[str],
        *,
        queue_size: int = 1_000,
        max_attempts: int = 5,
        max_retry_after_seconds: float = 60.0,
        remember: int = 10_000,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._api = api
        self.chat_ids = tuple(chat_ids)
        self._queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue(maxsize=queue_size)
        self._max_attempts = max_attempts
        self._max_retry_after = max_retry_after_seconds
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._remember = remember
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self.stats = OutboxStats()

    def offer(self, dedup_key: str, text: str) -> int:
        """Queue ``text`` for every chat that has not had ``dedup_key`` yet; never waits. Returns how many
        messages were queued."""
        queued = 0
        for chat in self.chat_ids:
            key = (dedup_key, chat)
            if key in self._seen:
                self.stats.duplicates += 1
                continue
            try:
                self._queue.put_nowait((dedup_key, chat, text))
            except asyncio.QueueFull:
                self.stats.dropped += 1
                self._fail("queue_full", "outbox queue full")
                continue
            self._remember_key(key)
            self.stats.queued += 1
            queued += 1
        return queued

    def _remember_key(self, key: tuple[str, str]) -> None:
        self._seen[key] = None
        while len(self._seen) > self._remember:
            self._seen.popitem(last=False)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="telegram-outbox")

    async def drain(self) -> None:
        """Wait until every queued message was sent or given up (tests, shutdown)."""
        await self._queue.join()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            _key, chat, text = await self._queue.get()
            try:
                await self._send(chat, text)
            except Exception as exc:  # a defect in one send must not stop every later alert, silently
                log.exception("telegram alert send crashed")
                self._fail("internal", f"telegram.sendMessage: {type(exc).__name__}")
            finally:
                self._queue.task_done()

    async def _send(self, chat: str, text: str) -> None:
        backoff = 1.0
        for attempt in range(1, self._max_attempts + 1):
            try:
                await self._api.send_message(chat, text)
            except RateLimited as exc:
                self.stats.rate_limited += 1
                wait = exc.retry_after if exc.retry_after is not None else backoff
                if wait > self._max_retry_after or attempt == self._max_attempts:
                    self._fail(exc.code, exc.describe())
                    return
                await self._sleep(wait)
            except RetryableError as exc:
                if attempt == self._max_attempts:
                    self._fail(exc.code, exc.describe())
                    return
                await self._sleep(backoff)
                backoff = min(backoff * 2, 30.0)
            except UpstreamError as exc:  # bad token, chat not found, bot blocked: repeating will not help
                self._fail(exc.code, exc.describe())
                return
            else:
                self.stats.sent += 1
                self.stats.failing = 0
                return

    def _fail(self, reason: str, detail: str) -> None:
        self.stats.failed += 1
        self.stats.failing += 1
        self.stats.failures_by_reason[reason] = self.stats.failures_by_reason.get(reason, 0) + 1
        self.stats.last_error = detail
        log.warning("telegram alert not sent", reason=reason, error=detail)
