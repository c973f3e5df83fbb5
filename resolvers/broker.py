"""The fan-out broker between stream ingestion (:mod:`providers.streams`) and GraphQL subscriptions.

Ingestion calls :meth:`Broker.publish` (it satisfies :class:`providers.streams.Publisher`); each
subscription owns a :class:`Subscription`, an async iterator over a bounded buffer of its own.

Guarantees of :class:`InProcessBroker`:

- ``publish`` is synchronous: it never awaits and never blocks. It appends to each matching
  subscriber's buffer and wakes its reader; that is all.
- A buffer holds at most ``maxsize`` events. When full, the *oldest* event is dropped and counted (on
  the subscription and in :meth:`InProcessBroker.stats`), so a slow subscriber loses old data, never
  slows the others and never holds more than ``maxsize`` events.
- Topics follow :attr:`providers.streams.StreamKey.topic` (``kind:venue:symbol[:interval]``). A
  subscription to an exact topic receives that topic; a subscription whose symbol segment is ``*``
  (``liquidations:binance:*``) receives every symbol of that kind and venue, including events published
  on the all-symbol topic itself.
- Single event loop: ``publish`` must be called from the loop that runs the subscribers (ingestion
  runs in the same loop; from a thread use ``loop.call_soon_threadsafe(broker.publish, ...)``).

The Redis seam: the :class:`Broker` protocol is all that resolvers see. A ``RedisBroker`` would keep
an :class:`InProcessBroker` for the local subscribers and change only where events enter: ``publish``
becomes a non-blocking enqueue to one writer task (``PUBLISH topic payload``), and one reader task per
process (``PSUBSCRIBE kind:venue:*``) decodes messages and calls the local broker's ``publish``. Each
process then holds one Redis subscription per pattern, not one per GraphQL subscriber, and the
drop-oldest policy stays local to each subscriber.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable

DEFAULT_MAXSIZE = 256
WILDCARD = "*"


def wildcard_of(topic: str) -> str | None:
    """The symbol-wildcard topic that also matches ``topic`` (``None`` when it is already a wildcard)."""
    parts = topic.split(":")
    if len(parts) < 3 or parts[2] == WILDCARD:
        return None
    parts[2] = WILDCARD
    return ":".join(parts)


@dataclass(frozen=True, slots=True)
class BrokerStats:
    subscribers: int
    topics: int
    published: int  # publish() calls
    delivered: int  # events appended to subscriber buffers
    dropped: int  # oldest events discarded from full buffers, over all subscribers (closed ones too)


class Subscription(Protocol):
    """One subscriber's view of the broker: ``async for event in subscription``; close() when done."""

    @property
    def dropped(self) -> int: ...

    def close(self) -> None: ...

    def __aiter__(self) -> Subscription: ...

    async def __anext__(self) -> object: ...


class Broker(Protocol):
    def publish(self, topic: str, event: object) -> None: ...

    def subscribe(self, topics: str | Iterable[str], maxsize: int = DEFAULT_MAXSIZE) -> Subscription: ...

    def stats(self) -> BrokerStats: ...


class BufferedSubscription:
    """A bounded drop-oldest buffer with a single reader. Iteration ends after :meth:`close`."""

    __slots__ = ("_broker", "_buffer", "_closed", "_waiter", "dropped", "maxsize", "topics")

    def __init__(self, broker: InProcessBroker, topics: tuple[str, ...], maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._broker = broker
        self.topics = topics
        self.maxsize = maxsize
        self._buffer: deque[object] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._buffer)

    @property
    def closed(self) -> bool:
        return self._closed

    def _push(self, event: object) -> bool:
        """Append; drop the oldest when full. Returns whether an event was dropped."""
        dropped = False
        if len(self._buffer) >= self.maxsize:
            self._buffer.popleft()
            self.dropped += 1
            dropped = True
        self._buffer.append(event)
        self._wake()
        return dropped

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._buffer.clear()
        self._broker._remove(self)
        self._wake()

    def __aiter__(self) -> BufferedSubscription:
        return self

    async def __anext__(self) -> object:
        while not self._buffer:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._buffer.popleft()


class InProcessBroker:
    """Topic → subscribers in one process; see the module docstring for the guarantees."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[BufferedSubscription]] = {}
        self._published = 0
        self._delivered = 0
        self._dropped = 0

    def publish(self, topic: str, event: object) -> None:
        self._published += 1
        exact = self._subscribers.get(topic)
        wildcard = wildcard_of(topic)
        pattern = self._subscribers.get(wildcard) if wildcard is not None else None
        if exact and pattern:
            targets: Iterable[BufferedSubscription] = exact | pattern  # one copy to a subscriber of both
        else:
            targets = exact or pattern or ()
        for subscription in tuple(targets):  # a reader may close (and unregister) while we iterate
            self._delivered += 1
            if subscription._push(event):
                self._dropped += 1

    def subscribe(self, topics: str | Iterable[str], maxsize: int = DEFAULT_MAXSIZE) -> BufferedSubscription:
        names = (topics,) if isinstance(topics, str) else tuple(dict.fromkeys(topics))
        subscription = BufferedSubscription(self, names, maxsize)
        for name in names:
            self._subscribers.setdefault(name, set()).add(subscription)
        return subscription

    def _remove(self, subscription: BufferedSubscription) -> None:
        for name in subscription.topics:
            members = self._subscribers.get(name)
            if members is not None:
                members.discard(subscription)
                if not members:
                    del self._subscribers[name]

    def stats(self) -> BrokerStats:
        unique = {id(s) for members in self._subscribers.values() for s in members}
        return BrokerStats(
            subscribers=len(unique),
            topics=len(self._subscribers),
            published=self._published,
            delivered=self._delivered,
            dropped=self._dropped,
        )
