"""Malformed graphql-transport-ws frames close the socket with 4400 and a reason; the handler never crashes
and logs no traceback; a subscribe document that does not parse gets an ``error`` message for its id."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
from typing import TYPE_CHECKING, Any

import pytest
import structlog
import websockets
from websockets.exceptions import ConnectionClosed

from signal_api.logging import configure_logging

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

PROTOCOL = [websockets.Subprotocol("graphql-transport-ws")]


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    out = io.StringIO()
    configure_logging("INFO", True, stream=out)
    yield out
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "signal-api"]:
        root.removeHandler(handler)


@contextlib.asynccontextmanager
async def served() -> AsyncIterator[str]:
    from providers.replay import serve_in_background
    from signal_api.app import create_app
    from signal_api.settings import Settings

    dead = Settings(  # type: ignore[call-arg]
        _env_file=None, upstream_retry_attempts=1, streams_enabled=False
    ).with_replay_base("http://127.0.0.1:9")
    async with serve_in_background(create_app(dead), lifespan="on") as server:
        yield server.base_url.replace("http://", "ws://") + "/graphql"


async def _initialised(url: str) -> Any:
    ws = await websockets.connect(url, subprotocols=PROTOCOL)
    await ws.send(json.dumps({"type": "connection_init"}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"
    return ws


async def _closed_with(ws: Any) -> tuple[int | None, str]:
    with contextlib.suppress(ConnectionClosed):
        for _ in range(5):  # bounded: a well-behaved server closes at once
            await asyncio.wait_for(ws.recv(), 5)
    await ws.wait_closed()
    return ws.close_code, ws.close_reason or ""


SUBSCRIBE = {"query": "subscription { liquidations { symbol } }"}
MALFORMED: list[tuple[str, str | bytes, str]] = [
    ("not JSON", "{not json", "JSON"),
    ("binary frame", b'{"type": "ping"}', "text"),
    ("JSON array", "[]", "object"),
    ("JSON null", "null", "object"),
    ("JSON number", "7", "object"),
    ("type not a string", json.dumps({"type": 5}), "'type'"),
    ("unknown type", json.dumps({"type": "shout"}), "shout"),
    ("subscribe without id", json.dumps({"type": "subscribe", "payload": SUBSCRIBE}), "'id'"),
    ("numeric id", json.dumps({"type": "subscribe", "id": 1, "payload": SUBSCRIBE}), "'id'"),
    ("empty id", json.dumps({"type": "subscribe", "id": "", "payload": SUBSCRIBE}), "'id'"),
    ("id too long", json.dumps({"type": "subscribe", "id": "x" * 5_000, "payload": SUBSCRIBE}), "'id'"),
    ("lone surrogate id", '{"type": "subscribe", "id": "\\ud800", "payload": {"query": "{ x }"}}', "JSON"),
    ("null payload", json.dumps({"type": "subscribe", "id": "1", "payload": None}), "payload"),
    ("array payload", json.dumps({"type": "subscribe", "id": "1", "payload": [1]}), "payload"),
    ("string payload", json.dumps({"type": "subscribe", "id": "1", "payload": "subscription {}"}), "payload"),
    ("no query", json.dumps({"type": "subscribe", "id": "1", "payload": {}}), "'query'"),
    ("query not a string", json.dumps({"type": "subscribe", "id": "1", "payload": {"query": 3}}), "'query'"),
    ("variables array", json.dumps({"type": "subscribe", "id": "1", "payload": {"variables": [], **SUBSCRIBE}}), "'v"),
    ("complete without id", json.dumps({"type": "complete"}), "'id'"),
    ("ping payload array", json.dumps({"type": "ping", "payload": [1]}), "payload"),
    ("deep nesting", '{"type": "ping", "payload": {"a": ' + "[" * 5_000 + "]" * 5_000 + "}}", "JSON"),
]


@pytest.mark.parametrize(("frame", "reason"), [(f, r) for _, f, r in MALFORMED], ids=[n for n, _, _ in MALFORMED])
async def test_malformed_frames_close_with_4400_and_a_reason(
    log_output: io.StringIO, frame: str | bytes, reason: str
) -> None:
    async with served() as url:
        ws = await _initialised(url)
        await ws.send(frame)
        code, text = await _closed_with(ws)
        # the server is unharmed: a new connection works
        again = await _initialised(url)
        await again.send(json.dumps({"type": "ping"}))
        pong = json.loads(await asyncio.wait_for(again.recv(), 5))
        await again.close()
    assert code == 4400, (code, text)
    assert reason in text
    assert pong == {"type": "pong"}
    assert "Traceback" not in log_output.getvalue()


async def test_malformed_connection_init_closes_with_4400(log_output: io.StringIO) -> None:
    async with served() as url:
        ws = await websockets.connect(url, subprotocols=PROTOCOL)
        await ws.send(json.dumps({"type": "connection_init", "payload": [1]}))
        code, text = await _closed_with(ws)
    assert code == 4400 and "payload" in text
    assert "Traceback" not in log_output.getvalue()


async def test_a_document_that_does_not_parse_gets_an_error_message(log_output: io.StringIO) -> None:
    async with served() as url:
        ws = await _initialised(url)
        broken = {"query": "subscription { liquidations("}
        await ws.send(json.dumps({"type": "subscribe", "id": "s1", "payload": broken}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
        await ws.send(json.dumps({"type": "ping"}))  # the connection stays open
        pong = json.loads(await asyncio.wait_for(ws.recv(), 5))
        await ws.close()
    assert reply["type"] == "error" and reply["id"] == "s1"
    assert reply["payload"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert "Syntax Error" in reply["payload"][0]["message"]
    assert pong == {"type": "pong"}
    assert "Traceback" not in log_output.getvalue()
