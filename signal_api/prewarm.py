"""Start-up work that makes a process's first requests cost what later ones do, without touching the market.

The lifespan runs it before the server accepts a connection (so before ``/health`` answers):

- the trusted documents (the registry's REST and GPT operations, then ``TRUSTED_DOCUMENTS_FILE``'s) are
  parsed and validated into the schema's document cache (:meth:`schema.documents.DocumentCache.prevalidate`),
  so the first ``/invoke`` or persisted query of each skips graphql-core's parse and validation (about 2 ms
  of CPU for a ``signal`` document), and graphql-core's validation code has run once before the first ad-hoc
  document arrives;
- graphql-core's executor runs once over the schema's own introspection (:func:`prewarm_execution`): the
  interpreter's first pass over the code that completes every answer field (about 0.5 ms of a fresh
  process's first ``signal`` query, measured against one without it) is not a client's.

Nothing here calls an upstream or stores an answer: code and documents are warmed, never data, so no
answer can come from it; the introspection runs below Strawberry's extensions, so no metric counts it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog
from graphql import execute_sync, get_introspection_query, parse

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


def prewarm_execution(schema: strawberry.Schema) -> int:
    """Execute the introspection query on ``schema``'s graphql-core schema, with the execution context
    class a request uses; returns how many types it answered, the whole schema's (0 after an error, which is
    logged: a warm-up never stops the service from starting; ``tests/test_prewarm.py`` counts the types)."""
    started = time.perf_counter()
    result = execute_sync(
        schema._schema, parse(get_introspection_query()), executor_class=schema.execution_context_class
    )
    if result.errors:
        log.error("the schema's introspection failed", error=result.errors[0].message)
        return 0
    types = len((result.data or {}).get("__schema", {}).get("types", ()))
    took_ms = round((time.perf_counter() - started) * 1e3, 1)
    log.info("execution warmed on the schema's introspection", types=types, ms=took_ms)
    return types
