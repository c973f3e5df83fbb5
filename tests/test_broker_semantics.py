"""InProcessBroker: drop-oldest with counts, wildcard topics, isolation of slow subscribers."""

from __future__ import annotations

import asyncio
import time

from resolvers.broker import InProcessBroker, wildcard_of


async def drain(subscription: object, count: int) -> list[object]:
    events = []
    async with asyncio.timeout(2):
        async for event in subscription:  # type: ignore[attr-defined]
            events.append(event)
            if len(events) == count:
                break
    return events


def test_wildcard_of() -> None:
    assert wildcard_of("liquidations:binance:BTCUSDT") == "liquidations:binance:*"
    assert wildcard_of("candles:binance:BTCUSDT:1m") == "candles:binance:*:1m"
    assert wildcard_of("liquidations:binance:*") is None
    assert wildcard_of("bad") is None


async def test_drop_oldest_counts_per_subscriber_and_total() -> None:
    broker = InProcessBroker()
    small = broker.subscribe("trades:binance:BTCUSDT", maxsize=3)
    large = broker.subscribe("trades:binance:BTCUSDT", maxsize=100)
    for i in range(10):
        broker.publish("trades:binance:BTCUSDT", i)
    assert len(small) == 3 and small.dropped == 7
    assert large.dropped == 0
    assert await drain(small, 3) == [7, 8, 9]  # the newest survive
    assert await drain(large, 10) == list(range(10))
    stats = broker.stats()
    assert (stats.published, stats.delivered, stats.dropped, stats.subscribers) == (10, 20, 7, 2)


async def test_topics_exact_and_wildcard() -> None:
    broker = InProcessBroker()
    exact = broker.subscribe("liquidations:binance:BTCUSDT")
    every = broker.subscribe("liquidations:binance:*")
    both = broker.subscribe(["liquidations:binance:BTCUSDT", "liquidations:binance:*"])
    other = broker.subscribe("liquidations:bybit:*")
    broker.publish("liquidations:binance:BTCUSDT", "btc")
    broker.publish("liquidations:binance:ETHUSDT", "eth")
    broker.publish("liquidations:binance:*", "all-symbol stream")
    assert [len(s) for s in (exact, every, both, other)] == [1, 3, 3, 0]  # no duplicate for `both`
    assert await drain(every, 3) == ["btc", "eth", "all-symbol stream"]


async def test_close_ends_iteration_and_unregisters() -> None:
    broker = InProcessBroker()
    subscription = broker.subscribe("trades:binance:*")
    reader = asyncio.ensure_future(drain(subscription, 99))
    await asyncio.sleep(0)
    subscription.close()
    assert await asyncio.wait_for(reader, 1) == []
    assert broker.stats().subscribers == 0 and broker.stats().topics == 0
    broker.publish("trades:binance:BTCUSDT", 1)  # nobody listening: no error
    assert len(subscription) == 0


async def test_slow_subscriber_does_not_delay_fast_one() -> None:
    """A stalled reader costs the publisher nothing and the fast reader sees every event at once."""
    broker = InProcessBroker()
    fast = broker.subscribe("trades:binance:*", maxsize=1000)
    slow = broker.subscribe("trades:binance:*", maxsize=10)
    latencies: list[float] = []

    async def fast_reader() -> None:
        async for event in fast:
            assert isinstance(event, float)
            latencies.append(time.perf_counter() - event)
            if len(latencies) == 200:
                return

    async def slow_reader() -> None:
        async for _ in slow:
            await asyncio.sleep(0.05)  # a client on a bad link

    tasks = [asyncio.ensure_future(fast_reader()), asyncio.ensure_future(slow_reader())]
    publish_costs = []
    for _ in range(200):
        started = time.perf_counter()
        broker.publish("trades:binance:BTCUSDT", started)
        publish_costs.append(time.perf_counter() - started)
        await asyncio.sleep(0.001)
    async with asyncio.timeout(2):
        await tasks[0]
    tasks[1].cancel()
    latencies.sort()
    assert latencies[-1] < 0.05, latencies[-1]  # never waited for the slow reader's 50 ms
    assert max(publish_costs) < 0.005
    assert len(slow) <= 10 and slow.dropped > 150  # bounded, and the loss is counted
    assert broker.stats().dropped == slow.dropped
    slow.close()
    fast.close()
