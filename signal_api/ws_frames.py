"""The shape check of graphql-transport-ws frames, before Strawberry's handler reads them.

Strawberry's handler indexes frames as the protocol describes them and catches only ``KeyError``: a
JSON array, ``null``, a non-object payload or a non-string id raised inside the connection task (a
traceback, a dead connection), and an id that cannot be encoded got no reply at all. Every frame is
checked here first; a malformed one closes the socket with 4400 and the reason this returns.
(Frames that are not JSON, too deeply nested, or carry lone surrogates are refused while decoding, see
``SignalGraphQL.decode_json``; frames over the size cap are refused by the server.)
"""

from __future__ import annotations

MAX_ID_LENGTH = 256
"""graphql-ws clients send short ids (UUIDs, counters); a longer one is not an id."""

_PAYLOAD_FIELDS: tuple[tuple[str, type, str], ...] = (
    ("operationName", str, "a string"),
    ("variables", dict, "an object"),
    ("extensions", dict, "an object"),
)


def frame_problem(message: object) -> str | None:
    """Why this decoded frame is not a protocol message (the 4400 close reason), or None when it is."""
    if not isinstance(message, dict):
        return "a message must be a JSON object"
    kind = message.get("type")
    if not isinstance(kind, str):
        return "'type' must be a string"
    if kind in ("subscribe", "complete"):
        problem = _id_problem(message.get("id"))
        if problem is not None:
            return problem
    if kind == "subscribe":
        return _subscribe_payload_problem(message.get("payload"))
    if kind in ("connection_init", "ping", "pong"):
        payload = message.get("payload")
        if payload is not None and not isinstance(payload, dict):
            return f"the {kind} payload must be an object"
    return None


def _id_problem(op_id: object) -> str | None:
    if not isinstance(op_id, str) or not op_id:
        return "'id' must be a non-empty string"
    if len(op_id) > MAX_ID_LENGTH:
        return f"'id' must be at most {MAX_ID_LENGTH} characters"
    try:
        op_id.encode("utf-8")
    except UnicodeEncodeError:
        return "'id' must be valid Unicode text"
    return None


def _subscribe_payload_problem(payload: object) -> str | None:
    if not isinstance(payload, dict):
        return "the subscribe payload must be an object"
    if not isinstance(payload.get("query"), str):
        return "the subscribe payload needs 'query' as a string"
    for name, kind, described in _PAYLOAD_FIELDS:
        value = payload.get(name)
        if value is not None and not isinstance(value, kind):
            return f"'{name}' in the subscribe payload must be {described} or null"
    return None


__all__ = ["MAX_ID_LENGTH", "frame_problem"]
