"""The request-log middleware on its own (pure ASGI): the caller's key id, WebSocket lines, and exceptions
after the response started."""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING, Any

import orjson
import pytest
import structlog

from signal_api.logging import configure_logging
from signal_api.request_log import RequestLog
from signal_api.security.principal import PRINCIPAL_STATE_KEY, Principal

if TYPE_CHECKING:
    from collections.abc import Iterator

    from starlette.types import Message, Receive, Scope, Send


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    out = io.StringIO()
    configure_logging("INFO", True, stream=out)
    yield out
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "signal-api"]:
        root.removeHandler(handler)


async def _run(app: Any, scope: dict[str, Any], incoming: list[Message]) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await RequestLog(app)(scope, receive, send)
    return sent


def _http_scope(headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": "/v1/signals/get",
        "headers": headers or [],
        "client": ("10.0.0.7", 5000),
        "state": {},
    }


def _captured(out: io.StringIO) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


async def test_the_access_line_names_the_callers_key(lines: io.StringIO) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["state"][PRINCIPAL_STATE_KEY] = Principal(address="10.0.0.7", key_id="k-7f3a", name="desk")
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b'{"ok":false,"error":{"code":"SYMBOL_NOT_FOUND"}}'})

    sent = await _run(app, _http_scope([(b"x-request-id", b"caller-1")]), [])
    access = [line for line in _captured(lines) if line["event"] == "http request"]
    assert (b"x-request-id", b"caller-1") in sent[0]["headers"]
    assert len(access) == 1
    line = access[0]
    assert line["key_id"] == "k-7f3a" and line["client"] == "10.0.0.7" and line["status"] == 404
    assert line["code"] == "SYMBOL_NOT_FOUND" and line["request_id"] == "caller-1"
    assert line["route"] == "unmatched"  # no router in this test: never the raw path as a label


async def test_an_exception_after_the_response_started_is_logged_once(lines: io.StringIO) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("broke mid-stream")

    sent = await _run(app, _http_scope(), [])
    logged = _captured(lines)
    assert [m["type"] for m in sent] == ["http.response.start"]  # no second response is attempted
    failures = [line for line in logged if line["event"] == "unhandled error"]
    assert len(failures) == 1 and "RuntimeError: broke mid-stream" in failures[0]["exception"]
    access = next(line for line in logged if line["event"] == "http request")
    assert access["status"] == 200 and access["code"] == "INTERNAL_SERVER_ERROR"


async def test_websocket_connections_get_an_id_and_one_line(lines: io.StringIO) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept", "subprotocol": "graphql-transport-ws"})
        await send({"type": "websocket.close", "code": 4400, "reason": "a message must be a JSON object"})

    scope = {"type": "websocket", "path": "/graphql", "headers": [], "client": ("127.0.0.1", 1), "state": {}}
    sent = await _run(app, scope, [{"type": "websocket.connect"}])
    line = next(line for line in _captured(lines) if line["event"] == "websocket")
    request_id = dict(sent[0]["headers"])[b"x-request-id"].decode()
    assert line["close_code"] == 4400 and line["request_id"] == request_id and len(request_id) == 32
