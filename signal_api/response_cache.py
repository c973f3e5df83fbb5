"""The response cache: identical GraphQL requests answered again from the bytes of the first answer.

Interface (a shared implementation, e.g. Redis, provides the same two coroutines):

- :class:`CachedResponse`: the body bytes, their ``etag`` and ``expires_at`` in wall-clock epoch seconds
  (``time.time()``, comparable across replicas).
- :class:`ResponseCache` (Protocol): ``await get(key)`` returns the entry, or None when absent or expired;
  ``await put(key, response)`` stores it until ``response.expires_at`` (an implementation may drop it
  earlier, never keep it later); ``stats()`` counts hits, misses, stores and entries for ``/metrics``.
  Keys are hex strings (:func:`request_key`) of at most 80 characters.
- :class:`MemoryResponseCache`: the in-process default, an LRU bounded by entries and by bytes.

The key is a SHA-256 of everything that can change the answer: method, path, the raw query string (GET),
the raw body (POST), the ``Accept`` header, and the caller's scope set. Two callers share an entry only
when their scopes are equal, so an answer computed for one is never shown to a caller who lacks a scope it
needed (the scope check runs on the miss, and its refusal is an error, which is never stored). Answers
depending on who the caller is (their watchlist, alert rules, budget) are never stored at all
(:mod:`schema.response_policy`). Byte-identical requests only: a reformatted document is a miss.

Freshness: an entry lives as long as the shortest remaining lifetime of the provider-cache entries its
answer was computed from (:mod:`providers.freshness`), capped by ``RESPONSE_CACHE_MAX_SECONDS`` (default
5 s, the shortest provider TTL, the price) for inputs that are not in the provider cache (the liquidation
window, the clock). When an input expires, so does every answer built on it: the next request executes
again and reads the new data.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """One stored answer: the exact bytes sent, their strong ETag, and when they stop being fresh."""

    body: bytes
    etag: str  # quoted, as sent in the ETag header: '"<32 hex>"'
    expires_at: float  # epoch seconds (time.time())
    content_type: str = "application/json"


@dataclass(slots=True)
class ResponseCacheStats:
    hits: int = 0
    misses: int = 0
    stores: int = 0
    evictions: int = 0
    entries: int = 0


class ResponseCache(Protocol):
    async def get(self, key: str) -> CachedResponse | None: ...

    async def put(self, key: str, response: CachedResponse) -> None: ...

    def stats(self) -> ResponseCacheStats: ...


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


_MEMO_ENTRIES = 256  # recent requests whose key is remembered, of at most _MEMO_BYTES (body, query, path, Accept)
_MEMO_BYTES = 8_192


def request_key(method: str, path: str, query_string: bytes, body: bytes, accept: bytes, scopes: Iterable[str]) -> str:
    """The cache key of a request as this caller sends it (see the module docstring for what it covers).

    A pure function of its arguments: the keys of recent small requests are remembered (a repeated query,
    the cache's reason to exist, then costs a dict lookup instead of a SHA-256 pass)."""
    if not isinstance(scopes, frozenset) or len(body) + len(query_string) + len(accept) + len(path) > _MEMO_BYTES:
        return _request_key(method, path, query_string, body, accept, scopes)
    return _remembered_key(method, path, query_string, body, accept, scopes)


def _request_key(method: str, path: str, query_string: bytes, body: bytes, accept: bytes, scopes: Iterable[str]) -> str:
    parts = (method.encode(), path.encode(), query_string, accept, _scope_names(scopes))
    # length-prefixed: no two requests share a byte stream; hashed in one call (one C pass)
    stream = b"".join([b"".join((len(part).to_bytes(4, "big"), part)) for part in parts])
    return "rc:" + hashlib.sha256(stream + body).hexdigest()


_remembered_key = functools.lru_cache(maxsize=_MEMO_ENTRIES)(_request_key)

_SCOPE_NAMES: dict[frozenset[str], bytes] = {}  # a handful of distinct scope sets in a process


def _scope_names(scopes: Iterable[str]) -> bytes:
    if isinstance(scopes, frozenset):
        names = _SCOPE_NAMES.get(scopes)
        if names is None:
            names = ",".join(sorted(scopes)).encode()
            if len(_SCOPE_NAMES) < 64:  # bounded, whatever callers pass
                _SCOPE_NAMES[scopes] = names
        return names
    return ",".join(sorted(scopes)).encode()


class MemoryResponseCache:
    """In-process LRU of at most ``max_entries`` answers and ``max_bytes`` of bodies in all."""

    def __init__(
        self, max_entries: int = 2_000, max_bytes: int = 64 * 1024 * 1024, clock: Callable[[], float] = time.time
    ) -> None:
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, CachedResponse] = OrderedDict()
        self._bytes = 0
        self._stats = ResponseCacheStats()

    async def get(self, key: str) -> CachedResponse | None:
        entry = self._entries.get(key)
        if entry is None:
            self._stats.misses += 1
            return None
        if entry.expires_at <= self._clock():
            self._drop(key)
            self._stats.misses += 1
            return None
        self._entries.move_to_end(key)
        self._stats.hits += 1
        return entry

    async def put(self, key: str, response: CachedResponse) -> None:
        if len(response.body) > self._max_bytes:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = response
        self._bytes += len(response.body)
        self._stats.stores += 1
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)
            self._stats.evictions += 1

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key)
        self._bytes -= len(entry.body)

    def stats(self) -> ResponseCacheStats:
        return ResponseCacheStats(
            self._stats.hits, self._stats.misses, self._stats.stores, self._stats.evictions, len(self._entries)
        )
