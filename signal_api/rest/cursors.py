"""History cursors in a form a REST schema can state exactly.

GraphQL's ``signalHistory`` cursors are opaque base64; no pattern can tell a real one from random base64,
so a schema allowing them would allow inputs the service refuses. The REST shim shows the same position
readably, ``<UTC time>_<row id>`` (``2025-11-14T19:59:59.999000Z_6f1c...``), which
:data:`schema.operations.CURSOR_PATTERN` matches exactly: every calendar-valid time and every UUID, so any
value the schema allows is a position the history can page from. The opaque form is still accepted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from persistence.repository import Keyset
from resolvers.history import decode_cursor, encode_cursor
from resolvers.problems import InvalidArgument
from schema.operations import CURSOR_PATTERN

_REST_CURSOR = re.compile(CURSOR_PATTERN.removesuffix("$") + r"\Z")
CURSOR_KEYS = frozenset({"cursor", "endCursor", "startCursor"})  # where answers carry cursors


def to_rest(cursor: str) -> str:
    """The REST form of a GraphQL cursor (unchanged when it is not one)."""
    try:
        keyset = decode_cursor(cursor)
    except InvalidArgument:
        return cursor
    moment = keyset.generated_at.astimezone(UTC).replace(tzinfo=None).isoformat()
    return f"{moment}Z_{keyset.id}"


def from_rest(text: str) -> str:
    """The GraphQL cursor for a REST-form cursor; any other text is passed on as given (the opaque form)."""
    if not _REST_CURSOR.match(text):
        return text
    moment, _, row_id = text.partition("_")
    return encode_cursor(Keyset(datetime.fromisoformat(moment.removesuffix("Z")).replace(tzinfo=UTC), UUID(row_id)))


def cursors_to_rest(data: Any) -> Any:
    """``data`` with every cursor value (:data:`CURSOR_KEYS`) in the REST form."""
    if isinstance(data, dict):
        return {
            key: to_rest(value) if key in CURSOR_KEYS and isinstance(value, str) else cursors_to_rest(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [cursors_to_rest(item) for item in data]
    return data
