"""A local server answering like the Telegram Bot API (``sendMessage``) and a webhook receiver that checks
the HMAC signature, both on 127.0.0.1, for the alert tests; and the one local upstream that serves them
beside a replayed cassette."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from providers.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

if TYPE_CHECKING:
    from collections.abc import Mapping

    from starlette.requests import Request
    from starlette.types import ASGIApp, Receive, Scope, Send

    from providers.replay import ReplayApp

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"  # the Bot API's documented token shape


def replay_upstream(replay: ReplayApp, routes: Mapping[str, ASGIApp]) -> ASGIApp:
    """One local upstream, as ``--replay-url`` expects (``/<provider>`` prefixes): each prefix in ``routes``
    (``/telegram``, ``/openai``) answered by its app with the prefix stripped, everything else from the cassette."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for prefix, target in routes.items():
                if scope["path"].startswith(prefix + "/"):
                    await target({**scope, "path": scope["path"].removeprefix(prefix)}, receive, send)
                    return
        await replay.app(scope, receive, send)

    return app


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


@dataclass
class BotApi:
    """Answers ``POST /bot<TOKEN>/sendMessage`` like the Bot API; ``rate_limit_first`` answers the first
    calls 429 with ``parameters.retry_after`` (https://core.telegram.org/bots/api#responseparameters)."""

    token: str = TOKEN
    rate_limit_first: int = 0
    retry_after: int = 1
    received: list[dict[str, Any]] = field(default_factory=list)  # bodies of the messages accepted
    calls: int = 0

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/bot{token}/{method}", self._handle, methods=["POST"])])

    async def _handle(self, request: Request) -> Response:
        self.calls += 1
        if request.path_params["token"] != self.token:
            return _json({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        if request.path_params["method"] != "sendMessage":
            return _json({"ok": False, "error_code": 404, "description": "Not Found: method not found"}, 404)
        body = orjson.loads(await request.body())
        if self.rate_limit_first > 0:
            self.rate_limit_first -= 1
            return _json(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {self.retry_after}",
                    "parameters": {"retry_after": self.retry_after},
                },
                429,
                {"Retry-After": str(self.retry_after)},
            )
        self.received.append(body)
        chat = {"id": int(body["chat_id"]), "first_name": "Trader", "username": "trader", "type": "private"}
        return _json(
            {
                "ok": True,
                "result": {
                    "message_id": len(self.received),
                    "from": {"id": 123456, "is_bot": True, "first_name": "Signals", "username": "signals_bot"},
                    "chat": chat,
                    "date": int(time.time()),
                    "text": body["text"],
                },
            }
        )


@dataclass
class WebhookReceiver:
    """Accepts a POST only when its X-Signal-Signature verifies with ``secret`` (set after rule creation)."""

    secret: str | None = None
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self._handle, methods=["POST"])])

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        stamp = request.headers.get(TIMESTAMP_HEADER, "")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if self.secret is None or not stamp.isdigit() or not verify(self.secret, int(stamp), raw, signature):
            self.refused += 1
            return _json({"error": "bad signature"}, 401)
        if abs(time.time() - int(stamp)) > 300:
            self.refused += 1
            return _json({"error": "stale"}, 401)
        self.received.append(orjson.loads(raw))
        return _json({"ok": True})
