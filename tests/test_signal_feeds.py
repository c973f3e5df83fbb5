"""signalUpdates shared: one evaluation per (symbol, mode, timeframe) for every subscriber, one execution
and one serialization per identical operation, and a subscriber joining later still gets the signal first.

End to end as in test_fanout_shared: the real app over a replayed cassette on 127.0.0.1, a counting hub,
the real InProcessBroker (the test publishes the closed candle that triggers a re-evaluation)."""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

from engine.market import Candle, CandleInterval, CandleUpdate
from providers.streams import StreamKey, StreamKind
from resolvers.signal_feeds import FeedEnded, SignalListener, feeds_of
from resolvers.streams import StreamServices
from signal_api.fanout import _REGISTRIES, STATE_ALIAS, executed_document
from tests.test_fanout_shared import CountingHub, send, synced, until
from tests.test_subscriptions_ws import T, connection, receive, served

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from engine import Signal
    from resolvers.broker import InProcessBroker

UPDATES = 'subscription U($t: Float!) { signalUpdates(symbols: ["BTC"], timeframe: H4, scoreThreshold: $t) { %s } }'
BTC_H4 = StreamKey(StreamKind.CANDLES, "binance", "BTCUSDT", "4h")


@contextlib.asynccontextmanager
async def app() -> AsyncIterator[tuple[str, CountingHub, StreamServices]]:
    hub = CountingHub()
    holder: list[StreamServices] = []

    def streams(broker: InProcessBroker) -> StreamServices:
        # no timer during the test: only the start and a closed candle evaluate
        holder.append(StreamServices(broker=broker, hub=hub, signal_interval_seconds=3600))
        return holder[0]

    async with served(streams) as (url, _):
        yield url, hub, holder[0]


async def subscribe(ws: Any, op_id: str, threshold: float, fields: str) -> None:
    payload = {"query": UPDATES % fields, "variables": {"t": threshold}, "operationName": "U"}
    await send(ws, {"id": op_id, "type": "subscribe", "payload": payload})


async def test_n_subscribers_share_one_evaluation_and_identical_operations_one_execution() -> None:
    async with asyncio.timeout(90), app() as (url, hub, streams):
        feeds = feeds_of(streams)
        async with connection(url) as a, connection(url) as b, connection(url) as c:
            await subscribe(a, "1", 2.0, "symbol recommendation score")
            await subscribe(b, "7", 2.0, "symbol recommendation score")  # identical operation: one execution
            await subscribe(c, "1", 50.0, "score")  # another operation, same (symbol, mode, timeframe)
            (first_a,) = await receive(a, 1)
            (first_b,) = await receive(b, 1)
            (first_c,) = await receive(c, 1)
            assert first_a["type"] == first_b["type"] == first_c["type"] == "next", (first_a, first_c)
            signal = first_a["payload"]["data"]["signalUpdates"]
            assert signal["symbol"] == "BTCUSDT" and signal["recommendation"] in ("LONG", "SHORT", "NEUTRAL")
            assert first_b["payload"] == first_a["payload"] and first_b["id"] == "7"
            # the subscriber's selection only: the sharing key's helper field is removed
            assert first_c["payload"]["data"]["signalUpdates"] == {"score": signal["score"]}
            assert feeds.evaluations == 1 and feeds.started == 1
            assert hub.acquired == [BTC_H4]  # one candle stream for all three
            registry = next(r for r in _REGISTRIES.values() if r.groups)
            assert registry.executions == 2  # two distinct operations, three subscribers

            # a subscriber joining the running group gets the current signal at once, without an evaluation
            async with connection(url) as late:
                await subscribe(late, "9", 2.0, "symbol recommendation score")
                (first_late,) = await receive(late, 1)
                assert first_late["payload"] == first_a["payload"]
                assert feeds.evaluations == 1

                # a closed candle of BTC 4h: one more evaluation for all four subscribers
                bar = Candle(T, 100.0, 101.0, 99.0, 100.5, 12.0)
                streams.broker.publish(
                    BTC_H4.topic, CandleUpdate("binance", "BTCUSDT", CandleInterval.H4, bar, True, T)
                )
                await until(lambda: feeds.evaluations == 2)
                await asyncio.sleep(0.2)
                assert feeds.evaluations == 2
                for ws in (a, b, c, late):
                    await synced(ws)  # still connected and served
        await until(lambda: not feeds.feeds)  # every subscriber gone: the feed stopped
        await until(lambda: hub.released == [BTC_H4])


async def test_a_symbol_that_fails_to_evaluate_ends_every_subscriber_with_its_code() -> None:
    async with asyncio.timeout(90), app() as (url, _, streams):
        async with connection(url) as a, connection(url) as b:
            await subscribe(a, "1", 2.0, "symbol")
            await subscribe(b, "1", 9.0, "symbol")
            await receive(a, 1)
            await receive(b, 1)
            # the feed ends (as after an UnknownSymbol evaluation): both get an error with the code
            (feed,) = feeds_of(streams).feeds.values()
            feed._end(FeedEnded("SYMBOL_NOT_FOUND", "BTCUSDT is delisted"))
            (end_a,) = await receive(a, 1)
            (end_b,) = await receive(b, 1)
        for end in (end_a, end_b):
            assert end["type"] == "next" and end["payload"]["errors"][0]["extensions"]["code"] == "SYMBOL_NOT_FOUND"


async def test_listener_keeps_the_newest_state_per_symbol_then_ends() -> None:
    listener = SignalListener()
    # the listener reads only ``symbol``; stand-ins keep the test about ordering, not about the engine
    older, other, newer = (cast("Signal", SimpleNamespace(symbol=s)) for s in ("BTCUSDT", "ETHUSDT", "BTCUSDT"))
    for value in (older, other, newer):
        listener.put(value)
    listener.end(FeedEnded(None))
    got = [await asyncio.wait_for(listener.get(), 1) for _ in range(3)]
    assert got[0] is other and got[1] is newer  # the stale BTC state was replaced, order by latest arrival
    assert isinstance(got[2], FeedEnded) and got[2].code is None


def test_executed_document_selects_the_state_key_under_its_alias() -> None:
    document, key = executed_document('subscription { s: signalUpdates(symbols: ["BTC"]) { score } }')
    assert key == "s" and f"{STATE_ALIAS}: symbol" in document
    assert executed_document("subscription { liquidations { symbol } }")[1] is None
