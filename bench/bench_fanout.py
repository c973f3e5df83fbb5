"""Fan-out benchmark: the GraphQL ``liquidations`` subscription vs a plain Starlette WebSocket broadcast.

Each run starts one server process (uvicorn on 127.0.0.1) that publishes a liquidation at ``--rate``
events/s into an InProcessBroker (GraphQL) or straight to every socket (plain), and one client process
holding ``N`` connections for ``--seconds``. Latency = client receipt - the event's ``receivedAt``.

Modes: ``plain`` (one serialized message sent to every socket), ``graphql`` (Strawberry's handler: one
execution per subscriber) and ``shared`` (:class:`signal_api.fanout.SharedFanoutHandler`: one execution
per distinct operation, serialized once, per-connection writers with drop-oldest queues).

Share delivered: every event carries a sequence number (in ``price``). The measured events are those
published during the window (from the newest sequence seen at its start to the newest seen at its end);
share = messages of those events received by the end of a grace period / (subscribers x events).

    .venv/bin/python bench/bench_fanout.py --subscribers 200 1000 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

HOST = "127.0.0.1"
MODES = ("plain", "graphql", "shared")
QUERY = "subscription { liquidations(minValueUsd: 0) { venue symbol side price size valueUsd time receivedAt } }"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


GRACE_SECONDS = 2.0  # after the window, for messages of window events still in flight


def _event(seq: int) -> Any:
    """A liquidation whose ``price`` is its sequence number (so the client can count what it missed)."""
    from engine.market import Liquidation, PositionSide

    now = datetime.now(UTC)
    return Liquidation("binance", "BTCUSDT", PositionSide.LONG, float(seq), 0.5, now, now)


def serve(mode: str, port: int, rate: float) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute

    interval = 1.0 / rate
    if mode in ("graphql", "shared"):
        import orjson
        import strawberry
        from strawberry.asgi import GraphQL

        from resolvers.broker import InProcessBroker
        from resolvers.streams import StreamServices
        from schema.query import Query
        from schema.subscriptions import LeakFreeExecutionContext, Subscription

        broker = InProcessBroker()
        streams = StreamServices(broker=broker, hub=SimpleNamespace(acquire=lambda key: lambda: None))
        services = SimpleNamespace(streams=streams, max_symbols_per_request=50)
        schema = strawberry.Schema(
            query=Query, subscription=Subscription, execution_context_class=LeakFreeExecutionContext
        )

        class View(GraphQL[Any, None]):
            async def get_context(self, request: Any, response: Any) -> Any:
                return SimpleNamespace(services=services, active_subscriptions=0)

            def encode_json(self, data: object) -> bytes:
                return orjson.dumps(data)

        if mode == "shared":
            from signal_api.fanout import SharedFanoutHandler

            class Handler(SharedFanoutHandler[Any, None]):
                def shared_context(self) -> object:
                    return SimpleNamespace(services=services, active_subscriptions=0)

            class SharedView(View):
                graphql_transport_ws_handler_class = Handler

                def encode_json(self, data: object) -> str:  # type: ignore[override]
                    return orjson.dumps(data).decode()

            view: GraphQL[Any, None] = SharedView(schema)
        else:
            view = View(schema)

        async def publisher() -> None:
            seq = 0
            while True:
                await asyncio.sleep(interval)
                seq += 1
                broker.publish("liquidations:binance:BTCUSDT", _event(seq))

        app = Starlette(routes=[WebSocketRoute("/ws", view)], lifespan=_lifespan(publisher))
    else:
        from starlette.websockets import WebSocket, WebSocketDisconnect

        clients: set[WebSocket] = set()

        async def endpoint(ws: WebSocket) -> None:
            await ws.accept()
            clients.add(ws)
            try:
                while True:
                    await ws.receive_text()
            except WebSocketDisconnect:
                clients.discard(ws)

        async def broadcaster() -> None:
            seq = 0
            while True:
                await asyncio.sleep(interval)
                seq += 1
                e = _event(seq)
                data = {
                    "venue": e.venue,
                    "symbol": e.symbol,
                    "side": e.side.value,
                    "price": e.price,
                    "size": e.size,
                    "valueUsd": e.usd,
                    "time": e.time.isoformat(),
                    "receivedAt": e.received_at.isoformat(),
                }
                text = json.dumps({"id": "1", "type": "next", "payload": {"data": {"liquidations": data}}})
                for ws in tuple(clients):
                    try:
                        await ws.send_text(text)
                    except Exception:  # a closing socket
                        clients.discard(ws)

        app = Starlette(routes=[WebSocketRoute("/ws", endpoint)], lifespan=_lifespan(broadcaster))
    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False, ws_per_message_deflate=False)


def _lifespan(job: Any) -> Any:
    """Run ``job()`` for the server's lifetime (the task is kept and cancelled on shutdown)."""
    import contextlib

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        task = asyncio.ensure_future(job())
        yield
        task.cancel()

    return lifespan


async def clients(mode: str, port: int, count: int, seconds: float) -> dict[str, Any]:
    import websockets

    latencies: list[float] = []
    received = 0
    newest = 0  # the newest sequence number any client has seen
    window: list[int] = []  # [first, last] sequence numbers of the measured events once known
    collecting = False
    connected = 0

    async def one() -> None:
        nonlocal received, connected, newest
        url = f"ws://{HOST}:{port}/ws"
        protocols = [websockets.Subprotocol("graphql-transport-ws")] if mode != "plain" else None
        async with websockets.connect(url, subprotocols=protocols, compression=None, open_timeout=60) as ws:
            if mode != "plain":
                await ws.send(json.dumps({"type": "connection_init"}))
                await ws.recv()
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": QUERY}}))
            connected += 1
            async for raw in ws:
                message = json.loads(raw)
                if message.get("type") != "next":
                    continue
                event = message["payload"]["data"]["liquidations"]
                seq = int(event["price"])
                newest = max(newest, seq)
                if not collecting or seq < window[0] or (len(window) == 2 and seq > window[1]):
                    continue
                sent = datetime.fromisoformat(event["receivedAt"])
                latencies.append(time.time() - sent.timestamp())
                received += 1

    tasks = [asyncio.ensure_future(one()) for _ in range(count)]
    async with asyncio.timeout(120):
        while connected < count:
            await asyncio.sleep(0.05)
            if any(t.done() for t in tasks):
                for t in tasks:
                    if t.done() and t.exception():
                        raise t.exception()  # type: ignore[misc]
    await asyncio.sleep(1.0)
    window.append(newest + 1)
    collecting = True
    await asyncio.sleep(seconds)
    window.append(newest)
    await asyncio.sleep(GRACE_SECONDS)
    collecting = False
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies.sort()
    events = max(window[1] - window[0] + 1, 0)
    return {
        "received": received,
        "events": events,
        "share": received / (count * events) if events else 0.0,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else None,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else None,
    }


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_one(mode: str, count: int, seconds: float, rate: float) -> dict[str, Any]:
    port = _free_port()
    me = os.path.abspath(__file__)
    server = subprocess.Popen([sys.executable, me, "--serve", mode, "--port", str(port), "--rate", str(rate)])
    try:
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex((HOST, port)) == 0:
                    break
            time.sleep(0.05)
        samples: list[float] = []
        stop = threading.Event()

        def sample() -> None:  # server RSS every 0.5 s while the clients run (bounded by the run)
            while not stop.wait(0.5):
                samples.append(_rss_mb(server.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        client = subprocess.run(
            [
                sys.executable,
                me,
                "--client",
                mode,
                "--port",
                str(port),
                "--count",
                str(count),
                "--seconds",
                str(seconds),
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 180,
            check=True,
        )
        stop.set()
        sampler.join(timeout=5)
        result: dict[str, Any] = json.loads(client.stdout.strip().splitlines()[-1])
        result["rss_mb"] = _rss_mb(server.pid)
        # after the subscribers connected (2 s in) and at the end: flat memory means no per-message leak
        result["rss_start_mb"] = samples[min(4, len(samples) - 1)] if samples else result["rss_mb"]
        result["rss_end_mb"] = samples[-1] if samples else result["rss_mb"]
        result["target_share"] = result["received"] / (count * rate * seconds)  # the old metric
        return result
    finally:
        server.terminate()
        server.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--serve", choices=MODES)
    parser.add_argument("--client", choices=MODES)
    parser.add_argument("--port", type=int)
    parser.add_argument("--count", type=int)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port, args.rate)
        return 0
    if args.client:
        print(json.dumps(asyncio.run(clients(args.client, args.port, args.count, args.seconds))))
        return 0
    print(
        f"{'mode':8} {'subs':>5} {'events':>6} {'share':>6} {'target':>6} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'RSS MB':>7} {'RSS 2s':>7} {'RSS end':>7} {'delivered':>9}"
    )
    for count in args.subscribers:
        for mode in args.modes:
            r = run_one(mode, count, args.seconds, args.rate)
            p50 = f"{r['p50_ms']:.1f}" if r["p50_ms"] is not None else "-"
            p99 = f"{r['p99_ms']:.1f}" if r["p99_ms"] is not None else "-"
            print(
                f"{mode:8} {count:>5} {r['events']:>6} {r['share']:>6.1%} {r['target_share']:>6.1%} "
                f"{p50:>8} {p99:>8} {r['rss_mb']:>7.1f} {r['rss_start_mb']:>7.1f} {r['rss_end_mb']:>7.1f} "
                f"{r['received']:>9}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
