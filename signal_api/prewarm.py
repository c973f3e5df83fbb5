"""Start-up work that makes a process's first requests cost what later ones do, without touching the market.

The lifespan runs it before the server accepts a connection (so before ``/health`` answers): the trusted
documents (the registry's REST and GPT operations, then ``TRUSTED_DOCUMENTS_FILE``'s) are parsed and
validated into the schema's document cache (:meth:`schema.documents.DocumentCache.prevalidate`), so the
first ``/invoke`` or persisted query of each skips graphql-core's parse and validation (about 2 ms of CPU
for a ``signal`` document), and graphql-core's validation code has run once before the first ad-hoc
document arrives. Nothing here calls an upstream or stores an answer: code and documents are warmed,
never data, so no answer can come from it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from collections.abc import Iterable

    import strawberry

log = structlog.get_logger(__name__)


def prewarm_documents(schema: strawberry.Schema, documents: Iterable[str]) -> int:
    """Parse and validate ``documents`` into ``schema``'s document cache (a schema from
    ``schema.build.build_schema``); returns how many are kept there (at most half the cache)."""
    cache = getattr(schema, "document_cache", None)
    rules = getattr(schema, "request_rules", None)
    if cache is None or rules is None:  # a schema not built by build_schema: nothing to warm
        return 0
    started = time.perf_counter()
    kept: int = cache.prevalidate(schema._schema, documents, rules)
    log.info("trusted documents validated ahead", documents=kept, ms=round((time.perf_counter() - started) * 1e3, 1))
    return kept
