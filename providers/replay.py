"""The offline mode: serve a recorded cassette as the providers' hosts would, over real HTTP on 127.0.0.1.

Cassette format v1 (``shared/cassettes/README.md``): ``{"version": 1, "clock": <epoch ms>, "http": [
{"provider", "method", "path", "match", "status", "body"}], "ws": [...]}``. A request to
``/<provider><path>`` is answered by the entry of that provider, method and path whose ``match`` items
all equal the request's query parameters (GET) or JSON body fields (POST); when several match, the
one with the most ``match`` keys wins; no match is HTTP 404 with a JSON body saying so. The server
counts the calls it answers (``GET /__replay__/stats``) so benchmarks can count upstream calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson
import uvicorn
from pydantic import BaseModel, ConfigDict, Field
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from engine.market import utc_from_ms

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
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


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


class ReplayApp:
    """An ASGI app answering from a cassette, with optional injected latency and call counting."""

    def __init__(self, cassette: Cassette, latency_ms: float = 0.0) -> None:
        self.cassette = cassette
        self.latency_s = latency_ms / 1000.0
        self.calls: Counter[str] = Counter()
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
        return _json({"total": sum(self.calls.values()), "calls": dict(self.calls)})

    async def _clock(self, request: Request) -> Response:
        """The cassette's moment, so a service pointed here (``serve --replay-url``) can adopt it as "now"."""
        return _json({"clock": self.cassette.clock, "iso": self.cassette.now.isoformat()})

    async def _reset(self, request: Request) -> Response:
        self.calls.clear()
        return _json({"ok": True})


@dataclass
class RunningServer:
    """A uvicorn server running as a task in the current loop."""

    base_url: str
    server: uvicorn.Server
    task: asyncio.Task[None]


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serve_in_background(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, lifespan: Literal["auto", "on", "off"] = "off"
) -> AsyncIterator[RunningServer]:
    """Run an ASGI app with uvicorn in this event loop (tests, ``serve --replay``); stop on exit."""
    port = port or _free_port(host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan=lifespan, access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
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
