"""Fan-out benchmark: the GraphQL ``liquidations`` subscription vs a plain Starlette WebSocket broadcast.

Each run starts one server process (uvicorn on 127.0.0.1) that publishes a liquidation at ``--rate``
events/s into an InProcessBroker (GraphQL) or straight to every socket (plain), and one client process
holding ``N`` connections for ``--seconds``. Latency = client receipt - the event's ``receivedAt``.

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
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

HOST = "127.0.0.1"
QUERY = "subscription { liquidations(minValueUsd: 0) { venue symbol side price size valueUsd time receivedAt } }"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _event() -> Any:
    from engine.market import Liquidation, PositionSide

    now = datetime.now(UTC)
    return Liquidation("binance", "BTCUSDT", PositionSide.LONG, 100_000.0, 0.5, now, now)


def serve(mode: str, port: int, rate: float) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute

    interval = 1.0 / rate
    if mode == "graphql":
        import orjson
        import strawberry
        from strawberry.asgi import GraphQL

        from resolvers.broker import InProcessBroker
        from schema.query import Query
        from schema.subscriptions import STREAMS_KEY, LeakFreeExecutionContext, StreamServices, Subscription

        broker = InProcessBroker()
        streams = StreamServices(broker=broker, hub=SimpleNamespace(acquire=lambda key: lambda: None))
        services = SimpleNamespace(extras={STREAMS_KEY: streams}, max_symbols_per_request=50)
        schema = strawberry.Schema(
            query=Query, subscription=Subscription, execution_context_class=LeakFreeExecutionContext
        )

        class View(GraphQL[Any, None]):
            async def get_context(self, request: Any, response: Any) -> Any:
                return SimpleNamespace(services=services, extras={})

            def encode_json(self, data: object) -> bytes:
                return orjson.dumps(data)

        async def publisher() -> None:
            while True:
                await asyncio.sleep(interval)
                broker.publish("liquidations:binance:BTCUSDT", _event())

        app = Starlette(routes=[WebSocketRoute("/ws", View(schema))], lifespan=_lifespan(publisher))
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
            while True:
                await asyncio.sleep(interval)
                e = _event()
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
    measuring = asyncio.Event()
    connected = 0

    async def one() -> None:
        nonlocal received, connected
        url = f"ws://{HOST}:{port}/ws"
        protocols = [websockets.Subprotocol("graphql-transport-ws")] if mode == "graphql" else None
        async with websockets.connect(url, subprotocols=protocols, compression=None, open_timeout=60) as ws:
            if mode == "graphql":
                await ws.send(json.dumps({"type": "connection_init"}))
                await ws.recv()
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": QUERY}}))
            connected += 1
            async for raw in ws:
                if not measuring.is_set():
                    continue
                message = json.loads(raw)
                if message.get("type") != "next":
                    continue
                sent = datetime.fromisoformat(message["payload"]["data"]["liquidations"]["receivedAt"])
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
    measuring.set()
    await asyncio.sleep(seconds)
    measuring.clear()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies.sort()
    return {
        "received": received,
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
        result: dict[str, Any] = json.loads(client.stdout.strip().splitlines()[-1])
        result["rss_mb"] = _rss_mb(server.pid)
        result["share"] = result["received"] / (count * rate * seconds)
        return result
    finally:
        server.terminate()
        server.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--serve", choices=["graphql", "plain"])
    parser.add_argument("--client", choices=["graphql", "plain"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--count", type=int)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port, args.rate)
        return 0
    if args.client:
        print(json.dumps(asyncio.run(clients(args.client, args.port, args.count, args.seconds))))
        return 0
    print(f"{'mode':8} {'subs':>5} {'share':>6} {'p50 ms':>8} {'p99 ms':>8} {'RSS MB':>7}")
    for count in args.subscribers:
        for mode in ("plain", "graphql"):
            r = run_one(mode, count, args.seconds, args.rate)
            p50 = f"{r['p50_ms']:.1f}" if r["p50_ms"] is not None else "-"
            p99 = f"{r['p99_ms']:.1f}" if r["p99_ms"] is not None else "-"
            print(f"{mode:8} {count:>5} {r['share']:>6.1%} {p50:>8} {p99:>8} {r['rss_mb']:>7.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
