"""Telegram Bot API REST, one method per endpoint we use. Docs: https://core.telegram.org/bots/api

The bot token is part of every URL (``/bot<token>/<method>``), so the URL is built here and passed only to
:func:`providers.http.post_once`, which names the provider and endpoint in errors and metrics, never the
URL. Errors are mapped onto :mod:`providers.errors`: 429 is ``RateLimited`` with the answer's
``parameters.retry_after``; 401/404 on the bot path is a bad token (``AuthenticationFailed``); 400/403
(chat not found, bot blocked) are not retryable; 5xx is ``UpstreamUnavailable``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ValidationError

from providers.errors import (
    AuthenticationFailed,
    InvalidRequest,
    MalformedPayload,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
    parse_retry_after,
)
from providers.http import post_once
from providers.telegram.models import Message, SendMessageAnswer

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx2

PROVIDER = "telegram"
DEFAULT_BASE_URL = "https://api.telegram.org"


class TelegramBotApi:
    def __init__(self, client: httpx2.AsyncClient, base_url: str, token: str, *, timeout_seconds: float = 10.0) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout_seconds

    async def send_message(self, chat_id: str, text: str) -> Message:
        """``POST /bot<token>/sendMessage``: https://core.telegram.org/bots/api#sendmessage (HTML parse mode).

        Body: ``{"chat_id": "123", "text": "<b>BTCUSDT</b> LONG", "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": true}}``; answers the sent ``Message``."""
        body = {
            "chat_id": chat_id,
            "text": text,
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        }
        status, payload, headers = await post_once(
            self._client,
            PROVIDER,
            "sendMessage",
            f"{self._base}/bot{self._token}/sendMessage",
            orjson.dumps(body),
            headers={},
            timeout_seconds=self._timeout,
        )
        return _message_or_error(status, payload, headers)


def _message_or_error(status: int, payload: Any, headers: Mapping[str, str]) -> Message:
    try:
        answer = SendMessageAnswer.model_validate(payload)
    except ValidationError:
        if status >= 500:
            raise UpstreamUnavailable(PROVIDER, "sendMessage", f"HTTP {status}", status=status) from None
        raise MalformedPayload(
            PROVIDER, "sendMessage", f"not a Bot API answer (HTTP {status})", status=status
        ) from None
    if answer.ok and answer.result is not None and status < 400:
        return answer.result
    raise _error(status, answer, headers)


def _error(status: int, answer: SendMessageAnswer, headers: Mapping[str, str]) -> UpstreamError:
    code = answer.error_code or status
    text = f"HTTP {code}: {(answer.description or '')[:200]}"
    if code == 429:
        retry_after = answer.parameters.retry_after if answer.parameters else None
        wait = float(retry_after) if retry_after is not None else parse_retry_after(headers.get("Retry-After"))
        return RateLimited(PROVIDER, "sendMessage", text, status=code, retry_after=wait)
    if code in (401, 404):  # the Bot API answers 404 Not Found for a token it does not know
        return AuthenticationFailed(PROVIDER, "sendMessage", text, status=code)
    if code >= 500:
        return UpstreamUnavailable(PROVIDER, "sendMessage", text, status=code)
    return InvalidRequest(PROVIDER, "sendMessage", text, status=code)
