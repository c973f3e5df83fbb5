"""The ``api_keys`` aggregate: keys are created here, and only their SHA-256 is ever stored.

A key is ``fsa_`` followed by 32 random bytes (base64url, 43 characters): 256 bits, so a plain SHA-256
is the right storage (HMAC or a slow hash would only matter for guessable secrets). The plain key
exists once, in the :class:`NewApiKey` returned by :meth:`ApiKeyRepository.create`, whose ``repr``
hides it; callers print it once and drop it. Lookups go by hash (a unique index), one query per
request, so a revocation applies to the very next request.

Scopes are plain strings here: what they mean is decided at the service's edge (``signal_api.security``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from persistence.sql import load_queries

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime

    from persistence.db import Connection, Database

API_KEYS = load_queries("api_keys")

KEY_PREFIX = "fsa_"
KEY_BYTES = 32
DISPLAY_CHARS = len(KEY_PREFIX) + 8  # "fsa_" and 8 characters (48 of the 256 random bits): not a secret
TOUCH_EVERY_SECONDS = 60.0


def generate_key() -> str:
    """A new random key (``fsa_`` + 43 base64url characters)."""
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def hash_key(key: str) -> bytes:
    """What is stored and looked up: the SHA-256 of the key's UTF-8 bytes (32 bytes)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_CHARS]


def looks_like_key(key: str) -> bool:
    """Cheap shape check before any database work (length and alphabet), not a validity check."""
    body = key.removeprefix(KEY_PREFIX)
    return (
        key.startswith(KEY_PREFIX) and len(body) == 43 and all(c.isascii() and (c.isalnum() or c in "-_") for c in body)
    )


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A stored key, without anything secret."""

    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    rate_per_minute: int | None
    cost_per_minute: int | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ApiKeyRecord:
        return cls(
            id=int(record["id"]),
            name=str(record["name"]),
            prefix=str(record["prefix"]),
            scopes=tuple(record["scopes"]),
            rate_per_minute=record["rate_per_minute"],
            cost_per_minute=record["cost_per_minute"],
            created_at=record["created_at"],
            revoked_at=record["revoked_at"],
            last_used_at=record["last_used_at"],
        )


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A key just created: ``key`` is the only copy of the plain key there will ever be."""

    record: ApiKeyRecord
    key: str = field(repr=False)


class ApiKeyRepository:
    """Create, list, revoke and look up API keys. Every method takes an optional ``conn`` to join the
    caller's transaction."""

    def __init__(self, database: Database, *, touch_every_seconds: float = TOUCH_EVERY_SECONDS) -> None:
        self._db = database
        self.touch_every_seconds = touch_every_seconds

    async def create(
        self,
        name: str,
        scopes: Iterable[str],
        *,
        rate_per_minute: int | None = None,
        cost_per_minute: int | None = None,
        conn: Connection | None = None,
    ) -> NewApiKey:
        key = generate_key()
        async with self._db.connection(conn) as c:
            record = await c.fetchrow(
                API_KEYS["insert_key"],
                name,
                display_prefix(key),
                hash_key(key),
                sorted(set(scopes)),
                rate_per_minute,
                cost_per_minute,
            )
        assert record is not None  # INSERT ... RETURNING always returns the row
        return NewApiKey(ApiKeyRecord.from_record(record), key)

    async def list(self, conn: Connection | None = None) -> list[ApiKeyRecord]:
        async with self._db.connection(conn) as c:
            return [ApiKeyRecord.from_record(r) for r in await c.fetch(API_KEYS["list_keys"])]

    async def get(self, key_id: int, conn: Connection | None = None) -> ApiKeyRecord | None:
        async with self._db.connection(conn) as c:
            record = await c.fetchrow(API_KEYS["key_by_id"], key_id)
        return ApiKeyRecord.from_record(record) if record is not None else None

    async def revoke(self, key_id: int, conn: Connection | None = None) -> ApiKeyRecord | None:
        """Revoke at once (idempotent); None when no key has this id."""
        async with self._db.connection(conn) as c:
            record = await c.fetchrow(API_KEYS["revoke_key"], key_id)
        return ApiKeyRecord.from_record(record) if record is not None else None

    async def lookup(self, key: str, conn: Connection | None = None) -> ApiKeyRecord | None:
        """The stored key whose hash matches, revoked or not; None for an unknown key."""
        digest = hash_key(key)
        async with self._db.connection(conn) as c:
            record = await c.fetchrow(API_KEYS["key_by_hash"], digest)
        # comparing hashes (not keys) in the index leaks nothing useful through timing
        return ApiKeyRecord.from_record(record) if record is not None else None

    async def touch(self, key_id: int, conn: Connection | None = None) -> None:
        """Record a use (at most one write per ``touch_every_seconds`` per key)."""
        async with self._db.connection(conn) as c:
            await c.execute(API_KEYS["touch_key"], key_id, self.touch_every_seconds)

    async def count_active(self, conn: Connection | None = None) -> int:
        async with self._db.connection(conn) as c:
            return int(await c.fetchval(API_KEYS["count_active_keys"]))
