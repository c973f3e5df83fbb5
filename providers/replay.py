"""The offline mode: serve a recorded cassette as the providers' hosts would, over real HTTP on 127.0.0.1.

Cassette format v1 (``shared/cassettes/README.md``): ``{"version": 1, "clock": <epoch ms>, "http": [
{"provider", "method", "path", "match", "status", "body"}], "ws": [...]}``. A request to
``/<provider><path>`` is answered by the entry of that provider, method and path whose ``match`` items
all equal the request's query parameters (GET) or JSON body fields (POST); when several match, the
one with the most ``match`` keys wins; no match is HTTP 404 with a JSON body saying so. The server
counts the calls it answers (``GET /__replay__/stats``) so benchmarks can count upstream calls.

WebSocket (the cassette's ``ws`` section, ``{"provider", "stream", "messages": [...], "interval_ms"}``):
a WebSocket to ``/<provider>/<any path>`` (``/binance/ws/btcusdt@aggTrade``, ``/binance/stream?streams=a/b``,
``/bybit/v5/public/linear``, ``/okx/ws/v5/public``, ``/hyperliquid/ws``, or plainly ``/<provider>/ws``)
is served every ``ws`` entry of that provider whose ``stream`` the client asked for: the last path
segment and the ``streams`` query parameter (Binance) name streams on connect; subscribe frames name
more (Bybit/Binance ``args``/``params`` strings; OKX ``args`` objects as ``channel`` and
``channel:instId`` / ``channel:instType``; Hyperliquid ``subscription`` as ``type`` and ``type:coin``);
an entry whose ``stream`` is ``"*"`` or absent is sent to every connection. Each matched entry's
messages are sent in order, ``interval_ms`` apart (default 0); then the socket stays open, idle, until
the client closes it, unless the entry says ``"close_after": true`` (or the app was built with
``ws_close_after=True``): then the server closes it (code 1012), for reconnect tests. With
``"loop": true`` (or ``ws_loop=True``, as ``serve --replay`` builds it) the messages start over after
the last one, ``interval_ms`` later, until the client leaves: a replayed stream flows like a live one for
a subscriber that joins at any time (the receiver must tolerate repeats; the liquidation window does).
:meth:`ReplayApp.stream_refusal` says, before any socket opens, whether a stream would get anything. Subscribe frames
get a venue-shaped ack and application pings a pong. ``ws_connections`` counts sockets accepted per
provider and ``ws_open`` the sockets open now (both also in ``/__replay__/stats``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson
import uvicorn
from pydantic import BaseModel, ConfigDict, Field
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from engine.market import utc_from_ms

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Sequence
    from datetime import datetime

    from starlette.requests import Request

PROVIDERS = (
    "binance",
    "okx",
    "bybit",
    "hyperliquid",
    "coingecko",
    "alternative_me",
    "coinglass",
    "coinapi",
    "lunarcrush",
    "openai",
    "telegram",
)


DEFAULT_WS_SPAN_MS = 3_600_000


class HttpEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    provider: str
    method: str = "GET"
    path: str
    match: dict[str, Any] = Field(default_factory=dict)
    status: int = 200
    body: Any = None


class Cassette(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    version: int
    description: str = ""
    clock: int
    http: tuple[HttpEntry, ...] = ()
    ws: tuple[dict[str, Any], ...] = ()

    @classmethod
    def load(cls, path: Path) -> Cassette:
        cassette = cls.model_validate(orjson.loads(Path(path).read_bytes()))
        if cassette.version != 1:
            raise ValueError(f"{path}: cassette version {cassette.version} is not supported (expected 1)")
        return cassette

    @property
    def now(self) -> datetime:
        """The moment the cassette represents; a replayed service judges freshness against it."""
        return utc_from_ms(self.clock)

    def stream_since(self, provider: str, stream: str) -> datetime | None:
        """The start of the span a ``ws`` entry records: its ``span_ms`` (default one hour, what the shared
        cassettes' README states for their liquidation sections) before the clock; ``None`` when the
        cassette has no such stream. A replayed service counts that span as stream coverage."""
        for entry in self.ws:
            if entry.get("provider") == provider and entry.get("stream") == stream:
                return utc_from_ms(self.clock - int(entry.get("span_ms", DEFAULT_WS_SPAN_MS)))
        return None


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


class ReplayApp:
    """An ASGI app answering from a cassette, with optional injected latency and call counting."""

    def __init__(
        self, cassette: Cassette, latency_ms: float = 0.0, *, ws_close_after: bool = False, ws_loop: bool = False
    ) -> None:
        self.cassette = cassette
        self.latency_s = latency_ms / 1000.0
        self.calls: Counter[str] = Counter()
        self.ws_close_after = ws_close_after
        self.ws_loop = ws_loop
        self.ws_connections: Counter[str] = Counter()
        self.ws_open = 0
        self._index: dict[tuple[str, str, str], list[HttpEntry]] = {}
        for entry in cassette.http:
            key = (entry.provider, entry.method.upper(), entry.path)
            self._index.setdefault(key, []).append(entry)
        # pre-encode bodies once: the replay server is also a benchmark peer and must not be the bottleneck
        self._encoded = {id(e): orjson.dumps(e.body) for e in cassette.http}
        self.app = Starlette(
            routes=[
                Route("/__replay__/stats", self._stats, methods=["GET"]),
                Route("/__replay__/clock", self._clock, methods=["GET"]),
                Route("/__replay__/reset", self._reset, methods=["POST"]),
                Route("/{provider}/{path:path}", self._serve, methods=["GET", "POST"]),
                WebSocketRoute("/{provider}/{path:path}", self._serve_ws),
            ]
        )

    def find(self, provider: str, method: str, path: str, params: dict[str, Any]) -> HttpEntry | None:
        candidates = self._index.get((provider, method, path), [])
        matching = [e for e in candidates if all(str(params.get(k)) == str(v) for k, v in e.match.items())]
        return max(matching, key=lambda e: len(e.match), default=None)

    async def _serve(self, request: Request) -> Response:
        provider = request.path_params["provider"]
        path = "/" + request.path_params["path"]
        if request.method == "POST":
            try:
                params = orjson.loads(await request.body())
            except orjson.JSONDecodeError:
                return _json({"error": "replay: POST body is not JSON"}, 400)
            if not isinstance(params, dict):
                params = {}
        else:
            params = dict(request.query_params)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        entry = self.find(provider, request.method, path, params)
        self.calls[f"{provider} {request.method} {path}"] += 1
        if entry is None:
            return _json(
                {
                    "error": f"replay: no cassette entry for {provider} {request.method} {path}",
                    "params": params,
                },
                404,
            )
        return Response(self._encoded[id(entry)], status_code=entry.status, media_type="application/json")

    async def _stats(self, request: Request) -> Response:
        return _json(
            {
                "total": sum(self.calls.values()),
                "calls": dict(self.calls),
                "ws_connections": dict(self.ws_connections),
                "ws_open": self.ws_open,
            }
        )

    async def _serve_ws(self, websocket: WebSocket) -> None:
        provider = websocket.path_params["provider"]
        entries = [e for e in self.cassette.ws if e.get("provider") == provider]
        await websocket.accept()
        self.ws_connections[provider] += 1
        self.ws_open += 1
        names = _connect_names(websocket.path_params["path"], websocket.query_params.get("streams", ""))
        started: set[int] = set()
        senders: list[asyncio.Task[None]] = []

        def start_matching() -> None:
            for i, entry in enumerate(entries):
                stream = entry.get("stream") or "*"
                if i not in started and (stream == "*" or stream in names):
                    started.add(i)
                    senders.append(asyncio.ensure_future(self._send_ws_entry(websocket, entry)))

        try:
            start_matching()
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None and message.get("bytes") is not None:
                    text = message["bytes"].decode(errors="replace")
                reply = _ws_control(provider, text or "", names)
                if reply is not None:
                    await websocket.send_text(reply)
                start_matching()
        except (WebSocketDisconnect, RuntimeError):
            pass  # the client went away, or we closed after the messages
        finally:
            self.ws_open -= 1
            for task in senders:
                task.cancel()
            if senders:
                await asyncio.wait(senders)

    def stream_refusal(self, provider: str, path: str, subscribe: Sequence[str] = ()) -> str | None:
        """Why a socket to ``/<provider><path>`` sending ``subscribe`` would never get a message from this
        cassette (the same matching as a real connection), or ``None`` when some entry would be sent."""
        names = _connect_names(path.lstrip("/").split("?", 1)[0], _query_streams(path))
        for frame in subscribe:
            _ws_control(provider, frame, names)
        recorded = [str(e.get("stream") or "*") for e in self.cassette.ws if e.get("provider") == provider]
        if "*" in recorded or names & set(recorded):
            return None
        has = ", ".join(recorded) if recorded else "none"
        return f"the replayed cassette has no {provider} stream {' / '.join(sorted(names))} ({provider} streams: {has})"

    async def _send_ws_entry(self, websocket: WebSocket, entry: dict[str, Any]) -> None:
        interval_s = float(entry.get("interval_ms", 0)) / 1000.0
        messages = [m if isinstance(m, str) else orjson.dumps(m).decode() for m in entry.get("messages", ())]
        loop = bool(entry.get("loop", self.ws_loop)) and bool(messages)
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            rounds = 0
            while rounds == 0 or loop:
                if rounds:  # between rounds: the entry's pace, or a second when it has none (never a flood)
                    await asyncio.sleep(interval_s or 1.0)
                for i, message in enumerate(messages):
                    if i and interval_s:
                        await asyncio.sleep(interval_s)
                    await websocket.send_text(message)
                rounds += 1
            if entry.get("close_after", self.ws_close_after):
                await websocket.close(code=1012)

    async def _clock(self, request: Request) -> Response:
        """The cassette's moment, so a service pointed here (``serve --replay-url``) can adopt it as "now",
        and its ``ws`` entries without their messages (:meth:`ReplayApp.outline` rebuilds the matching)."""
        ws = [{k: v for k, v in e.items() if k != "messages"} for e in self.cassette.ws]
        return _json({"clock": self.cassette.clock, "iso": self.cassette.now.isoformat(), "ws": ws})

    @classmethod
    def outline(cls, clock_answer: dict[str, Any]) -> ReplayApp:
        """A message-less copy of a remote replay server's cassette, from its ``/__replay__/clock`` answer:
        enough for :meth:`stream_refusal` and ``cassette.stream_since`` in another process."""
        ws = [{**e, "messages": []} for e in clock_answer.get("ws", []) if isinstance(e, dict)]
        return cls(Cassette.model_validate({"version": 1, "clock": clock_answer["clock"], "ws": ws}))

    async def _reset(self, request: Request) -> Response:
        self.calls.clear()
        return _json({"ok": True})


def _connect_names(path: str, streams: str) -> set[str]:
    """The streams a connection names on connect: its last path segment and Binance's ``streams`` list."""
    names = {path.rsplit("/", 1)[-1]}
    names.update(n for n in streams.split("/") if n)
    return names


def _query_streams(path: str) -> str:
    """The ``streams`` query parameter of a path (Binance combined streams), as a real connection reads it."""
    query = path.split("?", 1)[1] if "?" in path else ""
    return next((v for k, _, v in (p.partition("=") for p in query.split("&")) if k == "streams"), "")


def _ws_control(provider: str, text: str, names: set[str]) -> str | None:
    """Record the streams a subscribe frame names in ``names``; the ack / pong to send back, if any."""
    if text.strip() == "ping":
        return "pong"  # OKX
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(frame, dict):
        return None
    op = str(frame.get("op") or frame.get("method") or "").lower()
    if op == "ping":
        return '{"channel":"pong"}' if "method" in frame else '{"success":true,"ret_msg":"pong","op":"ping"}'
    if op != "subscribe":
        return None
    args = frame.get("args") or frame.get("params") or []
    for arg in args if isinstance(args, list) else []:
        if isinstance(arg, str):
            names.add(arg)
        elif isinstance(arg, dict) and "channel" in arg:
            names.add(str(arg["channel"]))
            names.update(f"{arg['channel']}:{arg[k]}" for k in ("instId", "instType", "instFamily") if k in arg)
    subscription = frame.get("subscription")
    if isinstance(subscription, dict) and "type" in subscription:
        names.add(str(subscription["type"]))
        if "coin" in subscription:
            names.add(f"{subscription['type']}:{subscription['coin']}")
    acks = {
        "okx": {"event": "subscribe", "arg": args[0] if isinstance(args, list) and args else {}},
        "bybit": {"success": True, "ret_msg": "", "op": "subscribe", "conn_id": "replay"},
        "hyperliquid": {"channel": "subscriptionResponse", "data": frame},
    }
    ack = acks.get(provider, {"result": None, "id": frame.get("id")})
    return orjson.dumps(ack).decode()


@dataclass
class RunningServer:
    """A uvicorn server running as a task in the current loop."""

    base_url: str
    server: uvicorn.Server
    task: asyncio.Task[None]


def listening_socket(host: str, port: int = 0) -> socket.socket:
    """A socket bound to ``host``:``port`` (0: a port the system picks), handed to uvicorn as it is. Picking a
    free port, closing it and letting uvicorn bind it later raced with other processes: a parallel test
    worker could take the port in between ("address already in use")."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn sets it
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


@contextlib.contextmanager
def _uvicorn_quiet() -> Iterator[None]:
    """Keep a background server's start-up lines out of the log, then give uvicorn's loggers back their
    levels: ``uvicorn.Config`` sets them process-wide, which hid the main server's "Uvicorn running on"
    line in ``serve --replay``. ``log_config=None`` leaves the process's handlers (JSON, redaction) alone."""
    loggers = [logging.getLogger(name) for name in _UVICORN_LOGGERS]
    levels = [logger.level for logger in loggers]
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextlib.asynccontextmanager
async def serve_in_background(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, lifespan: Literal["auto", "on", "off"] = "off"
) -> AsyncIterator[RunningServer]:
    """Run an ASGI app with uvicorn in this event loop (tests, ``serve --replay``); stop on exit."""
    with contextlib.closing(listening_socket(host, port)) as sock:  # uvicorn closes it first; then a no-op
        port = sock.getsockname()[1]
        with _uvicorn_quiet():
            config = uvicorn.Config(
                app, host=host, port=port, log_level="warning", log_config=None, lifespan=lifespan, access_log=False
            )
            server = uvicorn.Server(config)
            task = asyncio.ensure_future(server.serve(sockets=[sock]))
            for _ in range(500):
                if server.started or task.done():
                    break
                await asyncio.sleep(0.01)
        if not server.started:
            server.should_exit = True
            await task
            raise RuntimeError(f"server on {host}:{port} did not start")
        try:
            yield RunningServer(base_url=f"http://{host}:{port}", server=server, task=task)
        finally:
            server.should_exit = True
            await task


@dataclass
class ThreadedServer:
    """A uvicorn server running in a thread of its own, with its own event loop."""

    base_url: str
    server: uvicorn.Server
    thread: threading.Thread


@contextlib.asynccontextmanager
async def serve_in_thread(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, lifespan: Literal["auto", "on", "off"] = "off"
) -> AsyncIterator[ThreadedServer]:
    """Run an ASGI app with uvicorn in a thread with its own event loop (``serve --replay``).

    Why: a replayed stream paces itself with ``asyncio.sleep``; in the service's loop every busy moment of
    the service (a fan-out burst, a cold query) delayed those sleeps, so the replay's publish rate fell
    exactly when the service was under load. In a thread of its own it keeps the cassette's pace (the
    sockets carry it to the service, which reads when it can). The app must not share loop-bound objects
    with the caller."""
    with contextlib.closing(listening_socket(host, port)) as sock:  # uvicorn closes it first; then a no-op
        port = sock.getsockname()[1]
        with _uvicorn_quiet():
            config = uvicorn.Config(
                app, host=host, port=port, log_level="warning", log_config=None, lifespan=lifespan, access_log=False
            )
            server = uvicorn.Server(config)  # uvicorn installs signal handlers only in the main thread
            serve = server.serve(sockets=[sock])
            thread = threading.Thread(target=asyncio.run, args=(serve,), name=f"replay:{port}", daemon=True)
            thread.start()
            for _ in range(1000):  # bounded: 10 s
                if server.started or not thread.is_alive():
                    break
                await asyncio.sleep(0.01)
        if not server.started:
            server.should_exit = True
            await asyncio.to_thread(thread.join, 10)
            raise RuntimeError(f"server on {host}:{port} did not start")
        try:
            yield ThreadedServer(base_url=f"http://{host}:{port}", server=server, thread=thread)
        finally:
            server.should_exit = True
            await asyncio.to_thread(thread.join, 10)
