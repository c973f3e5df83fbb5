"""The Bot API's answer envelope (https://core.telegram.org/bots/api#making-requests).

Success: ``{"ok": true, "result": {"message_id": 42, "date": 1752264000, "chat": {"id": 123, "type":
"private"}, "text": "..."}}``. Failure: ``{"ok": false, "error_code": 429, "description": "Too Many
Requests: retry after 5", "parameters": {"retry_after": 5}}`` (``parameters`` only when it helps).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Chat(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: int
    type: str


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    message_id: int
    date: int
    chat: Chat


class ResponseParameters(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    retry_after: int | None = None  # seconds to wait before repeating the request (flood control)
    migrate_to_chat_id: int | None = None


class SendMessageAnswer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    ok: bool
    result: Message | None = None
    error_code: int | None = None
    description: str | None = None
    parameters: ResponseParameters | None = None
