"""GraphQL operations by name with their duration, and GraphQL errors by code, for the operators' metrics.

The metrics themselves (Prometheus) belong to the composition root: it passes an
:class:`OperationRecorder` to ``schema.build.build_schema``, so this module knows no metrics library.

Operation names come from the client's document, so they are not a bounded set by themselves: names
are kept only when they look like identifiers of reasonable length, and only the first
:data:`MAX_OPERATION_LABELS` distinct names get their own label; the rest are counted as ``other``.
Error codes are the ``extensions.code`` every error carries once ``schema.build.ErrorCodes`` ran.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Protocol

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

if TYPE_CHECKING:
    from collections.abc import Iterator

MAX_OPERATION_LABELS = 200
ANONYMOUS = "anonymous"
OTHER = "other"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_seen: set[str] = set()


def operation_label(name: str | None) -> str:
    """A bounded label for an operation name (``anonymous`` when unnamed, ``other`` past the cap)."""
    if not name:
        return ANONYMOUS
    if not _NAME.fullmatch(name):
        return OTHER
    if name in _seen:
        return name
    if len(_seen) >= MAX_OPERATION_LABELS:
        return OTHER
    _seen.add(name)
    return name


class OperationRecorder(Protocol):
    """Where operation durations and error codes go (``signal_api.metrics``)."""

    def operation(self, label: str, seconds: float) -> None: ...
    def error(self, code: str) -> None: ...


class OperationMetrics(SchemaExtension):
    """Times each query or mutation (subscriptions live for minutes: only their errors are counted) and
    counts the errors of its result by code. List it first so its exit sees the final, coded errors."""

    def __init__(self, recorder: OperationRecorder) -> None:
        self.recorder = recorder

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ctx = self.execution_context
        try:
            kind = ctx.operation_type
        except Exception:
            kind = None
        if kind is not OperationType.SUBSCRIPTION:
            self.recorder.operation(operation_label(ctx.operation_name), time.perf_counter() - started)
        result = ctx.result
        for error in (getattr(result, "errors", None) or ()) if result is not None else ():
            code = (error.extensions or {}).get("code")
            self.recorder.error(code if isinstance(code, str) else "UNKNOWN")
