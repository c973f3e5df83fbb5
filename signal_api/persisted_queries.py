"""Persisted queries: Apollo's automatic persisted queries (APQ) and trusted documents.

APQ (https://www.apollographql.com/docs/apollo-server/performance/apq): a client sends
``extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}`` without the document; a known hash
runs the stored document, an unknown one is answered ``PERSISTED_QUERY_NOT_FOUND`` and the client sends
the document with its hash once, which registers it. Hash-only queries can go over GET
(``/graphql?extensions=...&variables=...``), so HTTP caches and the response cache see short, stable URLs.
A hash that does not match the document is ``PERSISTED_QUERY_HASH_MISMATCH``; a version other than 1 is
``PERSISTED_QUERY_NOT_SUPPORTED``. Learned documents stay in memory, bounded by count and by size.

Trusted documents (``PERSISTED_QUERIES_ONLY=true``): only registered documents run, which is a security
control: a caller can no longer send arbitrary documents (probing the schema, crafting costly selections),
only the ones the operator ships. The registry's documents (``schema/operations.py``, the REST and GPT
operations) are trusted, plus those of ``TRUSTED_DOCUMENTS_FILE`` (an Apollo persisted-query manifest,
``{"<sha256>": "<document>"}``, or a list of documents). In that mode APQ registers nothing new: a
hash-only request runs only a trusted document, and a full document runs only if it is trusted
(compared after normalizing whitespace, commas and comments).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError

from schema.operations import OPERATIONS, normalize_document, persisted_query_allowed

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
MAX_DOCUMENT_CHARS = 20_000  # a learned document larger than this is run but not stored


def sha256_hex(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def load_trusted_documents(path: Path) -> dict[str, str]:
    """The documents of a trusted-documents file by their SHA-256; ``ValueError`` on a wrong hash or shape
    (start-up refuses a file it would misread)."""
    data: Any = json.loads(path.read_text(encoding="utf-8"))
    pairs: Iterable[tuple[str | None, Any]]
    if isinstance(data, dict) and isinstance(data.get("operations"), list):  # Apollo's manifest
        pairs = [(op.get("id"), op.get("body")) for op in data["operations"] if isinstance(op, dict)]
    elif isinstance(data, dict):
        pairs = list(data.items())
    elif isinstance(data, list):
        pairs = [(None, document) for document in data]
    else:
        raise ValueError(f"{path}: expected a manifest, an object of hash: document, or a list of documents")
    documents: dict[str, str] = {}
    for declared, document in pairs:
        if not isinstance(document, str) or normalize_document(document) is None:
            raise ValueError(f"{path}: an entry is not a GraphQL document that parses")
        digest = sha256_hex(document)
        if declared is not None and declared != digest:
            raise ValueError(f"{path}: hash {declared} does not match its document (sha256 {digest})")
        documents[digest] = document
    return documents


def _error(code: str, message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


class PersistedQueries:
    """Resolve a request's document from its APQ hash, learn new ones, and enforce trusted documents."""

    def __init__(
        self,
        *,
        trusted_only: bool = False,
        extra_trusted: Mapping[str, str] | None = None,
        max_entries: int = 5_000,
        max_chars: int = 5_000_000,
    ) -> None:
        self.trusted_only = trusted_only
        self._trusted: dict[str, str] = {sha256_hex(op.document): op.document for op in OPERATIONS}
        self._trusted.update(extra_trusted or {})
        self._extra_normalized = frozenset(filter(None, map(normalize_document, (extra_trusted or {}).values())))
        self._learned: OrderedDict[str, str] = OrderedDict()
        self._max_entries = max_entries
        self._max_chars = max_chars
        self._chars = 0

    def trusted_hashes(self) -> frozenset[str]:
        return frozenset(self._trusted)

    def trusted_documents(self) -> list[str]:
        """The trusted documents, the registry's first (validated ahead at start-up: signal_api.prewarm)."""
        return list(self._trusted.values())

    def allowed(self, query: str) -> bool:
        """Whether ``query`` may run: always, unless trusted-only, then only a trusted document."""
        if not self.trusted_only or sha256_hex(query) in self._trusted:
            return True
        if persisted_query_allowed(query):
            return True
        normalized = normalize_document(query)
        return normalized is not None and normalized in self._extra_normalized

    def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> str | GraphQLError | None:
        """The document to run (``query`` itself when the request is not an APQ one), or the error."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            return query
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            return _error(NOT_SUPPORTED, "only persistedQuery version 1 is supported")
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or len(digest) != 64:
            return _error(NOT_SUPPORTED, "persistedQuery.sha256Hash must be 64 hex characters")
        digest = digest.lower()
        if query is None:
            known = self._trusted.get(digest) or self._learned_document(digest)
            return known if known is not None else _error(NOT_FOUND, "PersistedQueryNotFound")
        if sha256_hex(query) != digest:
            return _error(HASH_MISMATCH, "provided sha does not match query")
        if not self.trusted_only and digest not in self._trusted:
            self._learn(digest, query)
        return query

    def _learned_document(self, digest: str) -> str | None:
        if self.trusted_only:
            return None
        document = self._learned.get(digest)
        if document is not None:
            self._learned.move_to_end(digest)
        return document

    def _learn(self, digest: str, query: str) -> None:
        if digest in self._learned or len(query) > MAX_DOCUMENT_CHARS or self._max_entries == 0:
            return
        self._learned[digest] = query
        self._chars += len(query)
        while len(self._learned) > self._max_entries or self._chars > self._max_chars:
            _, dropped = self._learned.popitem(last=False)
            self._chars -= len(dropped)
