"""Fan-out benchmark: the GraphQL ``liquidations`` subscription against a minimal encode-once broadcast.

Each run starts one server process (uvicorn on 127.0.0.1) that publishes a liquidation every ``1/--rate``
s into an InProcessBroker (GraphQL) or straight to every socket (plain), and one client process holding
``N`` connections for ``--seconds``. Latency = client receipt - the event's ``receivedAt``.

Modes:
- ``plain``, the baseline and the stack's limit: a minimal Starlette WebSocket app that encodes each event
  once (``json.dumps``) and awaits ``send_text`` of that text to every socket in turn.
- ``graphql``: Strawberry's handler, one execution per subscriber.
- ``shared``: :class:`signal_api.fanout.SharedFanoutHandler` (one execution per distinct operation,
  serialized once, written at once to each socket that is not behind).
- ``service``: the whole app (``create_app``: its middleware, authentication, cost accounting and the
  shared fan-out) at ``/graphql``, providers on a replay of ``../shared/cassettes`` (budgets off and the
  per-address WebSocket limit raised, as one address opens every connection).

The client is the same for every mode: a minimal WebSocket client on raw sockets (asyncio protocols on
uvloop, :class:`RawClient`), opening at most ``HANDSHAKE_CONCURRENCY`` connections at a time, so the
client's own cost stays small next to the server's (the ``websockets`` library costs several times more).

Figures: ``events`` published during the window (each event carries its sequence number in ``price``);
``share`` = frames of those events received by the end of a grace period / (subscribers x events), so
100 % is every event delivered and an overloaded server shows fewer events rather than a lower share;
``frames/s`` delivered during the window and its ratio to ``plain`` in the same run; the server process's
CPU (user + system from /proc) per delivered frame; ``init s`` from the first connect until every
subscriber is acknowledged, subscribed and receiving; server RSS growth per subscriber; the load average
(the machine is shared: compare modes within one run).

    .venv/bin/python bench/bench_fanout.py --subscribers 1000 3000 --seconds 10 --modes plain shared service
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
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import orjson

HOST = "127.0.0.1"
CASSETTE = "btc-2025-07-11-rising.json"  # the service mode's upstream, from ../shared/cassettes
MODES = ("plain", "graphql", "shared", "service")
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
    if mode == "service":
        import uvloop

        uvloop.run(serve_service(port, rate))
        return
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

        from resolvers.context import RequestContext

        class View(GraphQL[Any, None]):
            async def get_context(self, request: Any, response: Any) -> Any:
                # a RequestContext, as the app's: the shared handler shares only for one (else Strawberry's path)
                return RequestContext(services=services, loaders=None)  # type: ignore[arg-type]

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

        def behind() -> bool:
            """The last event is not yet handed to every socket (the plain broadcast's pace)."""
            if mode != "shared":
                return any(len(s) for members in broker._subscribers.values() for s in members)
            from signal_api.fanout import _Connection, registry_of

            groups = registry_of(view).groups.values()
            pending = any(len(s) for members in broker._subscribers.values() for s in members)
            return pending or _Connection.behind > 0 or any(g.broadcasting for g in groups)

        async def publisher() -> None:
            seq = 0
            while True:
                await asyncio.sleep(interval)
                while behind():  # noqa: ASYNC110 - paced like the plain broadcast: the next once the last is taken
                    await asyncio.sleep(0.001)
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


async def serve_service(port: int, rate: float) -> None:
    """The whole app (``create_app``: middleware, authentication, limits, the shared fan-out) at ``/graphql``,
    its providers on a replay server of a shared cassette, the bench's broker attached as its streams.
    The request and cost budgets are off and the per-address WebSocket limit raised: one address opens
    every connection here."""
    from providers.replay import Cassette, ReplayApp, serve_in_background, serve_in_thread
    from resolvers.broker import InProcessBroker
    from resolvers.streams import StreamServices
    from signal_api.app import create_app
    from signal_api.settings import Settings

    cassette_path = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "cassettes", CASSETTE)
    cassette = Cassette.load(Path(cassette_path))
    broker = InProcessBroker()
    async with serve_in_thread(ReplayApp(cassette).app) as upstream:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, streams_enabled=False, rate_limit_enabled=False, ws_max_connections_per_address=100_000
        ).with_replay_base(upstream.base_url)
        app = create_app(settings, clock=lambda: cassette.now)
        async with serve_in_background(app, HOST, port, lifespan="on"):
            hub = SimpleNamespace(acquire=lambda key: lambda: None)
            app.state.container.attach_streams(StreamServices(broker=broker, hub=hub))
            from signal_api.fanout import _Connection

            def behind() -> bool:  # as in serve(): the plain broadcast's pace
                pending = any(len(s) for members in broker._subscribers.values() for s in members)
                return pending or _Connection.behind > 0

            seq = 0
            while True:
                await asyncio.sleep(1.0 / rate)
                while behind():  # noqa: ASYNC110 - the plain broadcast's pace
                    await asyncio.sleep(0.001)
                seq += 1
                broker.publish("liquidations:binance:BTCUSDT", _event(seq))


def _lifespan(job: Any) -> Any:
    """Run ``job()`` for the server's lifetime (the task is kept and cancelled on shutdown)."""
    import contextlib

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        task = asyncio.ensure_future(job())
        yield
        task.cancel()

    return lifespan


HANDSHAKE_CONCURRENCY = 200  # connections opening at once (the same for every mode; avoids backlog overflow)


def _frame(text: str) -> bytes:
    """A masked client text frame (RFC 6455 5.2)."""
    data = text.encode()
    mask = os.urandom(4)
    n = len(data)
    head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big"))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


class RawClient(asyncio.Protocol):
    """A minimal WebSocket client on a raw socket: the same cheap reader for every mode, so the client
    process is not what limits the server (the ``websockets`` library costs several times more CPU)."""

    def __init__(self, stats: Stats, mode: str, ready: asyncio.Future[None]) -> None:
        self.stats, self.mode, self.ready = stats, mode, ready
        self.buffer = bytearray()
        self.handshaken = False
        self.initialised = False
        self.transport: asyncio.Transport | None = None
        self.path = "/graphql" if mode == "service" else "/ws"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)  # uvloop's transports do not subclass asyncio's
        protocol = "Sec-WebSocket-Protocol: graphql-transport-ws\r\n" if self.mode != "plain" else ""
        self.transport.write(
            (
                f"GET {self.path} HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{protocol}\r\n"
            ).encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.stats.lost += 1
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed during the handshake"))

    def _send(self, message: dict[str, Any]) -> None:
        assert self.transport is not None
        self.transport.write(_frame(json.dumps(message)))

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if not self.handshaken:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if b" 101 " not in buffer[:end]:
                self.ready.set_exception(ConnectionError(bytes(buffer[:end]).decode(errors="replace")))
                return
            del buffer[: end + 4]
            self.handshaken = True
            if self.mode == "plain":
                self.initialised = True
                self.ready.set_result(None)
            else:
                self._send({"type": "connection_init"})
        offset = 0
        while len(buffer) - offset >= 2:
            length, head = buffer[offset + 1] & 0x7F, 2
            if length == 126:
                if len(buffer) - offset < 4:
                    break
                length, head = int.from_bytes(buffer[offset + 2 : offset + 4], "big"), 4
            elif length == 127:
                if len(buffer) - offset < 10:
                    break
                length, head = int.from_bytes(buffer[offset + 2 : offset + 10], "big"), 10
            if len(buffer) - offset < head + length:
                break
            opcode = buffer[offset] & 0x0F
            payload = bytes(buffer[offset + head : offset + head + length])
            offset += head + length
            if opcode in (1, 2):  # text, or binary (an encode_json that returns bytes)
                self._text(payload)
            elif opcode == 9 and self.transport is not None:  # ping: pong with the same data (masked)
                mask = os.urandom(4)
                body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + mask + body)
        del buffer[:offset]

    def _text(self, payload: bytes) -> None:
        if not self.initialised:
            message = orjson.loads(payload)
            if message.get("type") == "connection_ack":
                self.initialised = True
                self._send({"id": "1", "type": "subscribe", "payload": {"query": QUERY}})
                self.ready.set_result(None)
            return
        message = orjson.loads(payload)
        kind = message.get("type")
        if kind == "ping":
            self._send({"type": "pong"})
            return
        if kind != "next":
            self.stats.other += 1
            return
        self.stats.on_event(message["payload"]["data"]["liquidations"])


class Stats:
    """What every client saw: events of the measured window, their latency, and the window itself."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.received = 0
        self.newest = 0
        self.window: list[int] = []  # [first, last] sequence numbers of the measured events once known
        self.collecting = False
        self.lost = 0
        self.other = 0

    def on_event(self, event: dict[str, Any]) -> None:
        seq = int(event["price"])
        if seq > self.newest:
            self.newest = seq
        window = self.window
        if not self.collecting or seq < window[0] or (len(window) == 2 and seq > window[1]):
            return
        self.latencies.append(time.time() - datetime.fromisoformat(event["receivedAt"]).timestamp())
        self.received += 1


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def clients(mode: str, port: int, count: int, seconds: float, server_pid: int) -> dict[str, Any]:
    stats = Stats()
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(HANDSHAKE_CONCURRENCY)
    transports: list[asyncio.BaseTransport] = []

    async def one() -> None:
        async with gate:
            ready: asyncio.Future[None] = loop.create_future()
            transport, _ = await loop.create_connection(lambda: RawClient(stats, mode, ready), HOST, port)
            transports.append(transport)
            await asyncio.wait_for(ready, 60)

    rss_before = _rss_mb(server_pid)
    started = time.perf_counter()
    async with asyncio.timeout(300):
        await asyncio.gather(*(one() for _ in range(count)))
        # initialised = every subscriber has received an event (the subscription is live, not just sent)
        while True:
            seen = stats.newest
            await asyncio.sleep(0.05)
            if stats.newest > seen:
                break
    init_seconds = time.perf_counter() - started
    await asyncio.sleep(1.0)
    stats.window.append(stats.newest + 1)
    stats.collecting = True
    cpu_start, wall_start = _cpu_seconds(server_pid), time.perf_counter()
    await asyncio.sleep(seconds)
    stats.window.append(stats.newest)
    cpu = _cpu_seconds(server_pid) - cpu_start
    wall = time.perf_counter() - wall_start
    received_in_window = stats.received
    await asyncio.sleep(GRACE_SECONDS)
    stats.collecting = False
    rss_end = _rss_mb(server_pid)
    for transport in transports:
        transport.close()
    latencies = sorted(stats.latencies)
    events = max(stats.window[1] - stats.window[0] + 1, 0)
    return {
        "received": stats.received,
        "events": events,
        "share": stats.received / (count * events) if events else 0.0,
        "frames_per_s": received_in_window / wall,
        "cpu_us_per_frame": cpu / received_in_window * 1e6 if received_in_window else None,
        "server_cpu_share": cpu / wall,
        "init_s": init_seconds,
        "kb_per_subscriber": (rss_end - rss_before) * 1024 / count,
        "lost": stats.lost,
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
        arguments = ["--client", mode, "--port", str(port), "--count", str(count), "--seconds", str(seconds)]
        client = subprocess.run(
            [sys.executable, me, *arguments, "--server-pid", str(server.pid)],
            capture_output=True,
            text=True,
            timeout=seconds + 400,
            check=True,
        )
        result: dict[str, Any] = json.loads(client.stdout.strip().splitlines()[-1])
        result["load"] = os.getloadavg()[0]
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
    parser.add_argument("--server-pid", type=int)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port, args.rate)
        return 0
    if args.client:
        import uvloop  # the client's own cost stays small next to the server's (2 cores shared)

        print(json.dumps(uvloop.run(clients(args.client, args.port, args.count, args.seconds, args.server_pid))))
        return 0
    print(
        f"{'mode':8} {'subs':>5} {'events':>6} {'share':>7} {'frames/s':>9} {'vs plain':>8} {'µs CPU/frame':>12} "
        f"{'init s':>6} {'KB/sub':>6} {'p50 ms':>8} {'p99 ms':>8} {'load':>5}"
    )
    for count in args.subscribers:
        plain_rate: float | None = None
        for mode in args.modes:
            r = run_one(mode, count, args.seconds, args.rate)
            if mode == "plain":
                plain_rate = r["frames_per_s"]
            ratio = f"{r['frames_per_s'] / plain_rate:.2f}" if plain_rate else "-"
            p50 = f"{r['p50_ms']:.1f}" if r["p50_ms"] is not None else "-"
            p99 = f"{r['p99_ms']:.1f}" if r["p99_ms"] is not None else "-"
            cpu = f"{r['cpu_us_per_frame']:.1f}" if r["cpu_us_per_frame"] is not None else "-"
            print(
                f"{mode:8} {count:>5} {r['events']:>6} {r['share']:>7.2%} {r['frames_per_s']:>9.0f} {ratio:>8} "
                f"{cpu:>12} {r['init_s']:>6.1f} {r['kb_per_subscriber']:>6.1f} {p50:>8} {p99:>8} {r['load']:>5.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
