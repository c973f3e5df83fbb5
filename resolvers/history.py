"""Signal-history resolvers: argument checks, cursors, and the calls into the repositories.

The GraphQL types live in :mod:`schema.history`; this module returns domain values and raises
:class:`HistoryUnavailableError` (history disabled, or the database down) or :class:`InvalidArgument`,
which the schema turns into typed problems. The history service is ``Services.history``; ``None``
means history is disabled.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

import structlog

from engine.modes import Recommendation
from persistence.analytics import HORIZONS_HOURS, FactorAgreement, GroupPerformance, Insights, PerformanceReport
from persistence.db import DATABASE_ERRORS, is_unavailable
from persistence.repository import Keyset, Page
from persistence.rows import StoredSignal
from providers.symbols import InvalidSymbolFormat, parse_symbol
from resolvers.problems import InvalidArgument

if TYPE_CHECKING:
    from engine.modes import Mode
    from persistence.repository import SignalRepository
    from resolvers.context import RequestContext

# The history's results are the persistence layer's read models; ``schema.history`` reads them from here.
__all__ = [
    "FactorAgreement",
    "GroupPerformance",
    "HistoryService",
    "HistoryUnavailableError",
    "Insights",
    "InvalidArgument",
    "Page",
    "PerformanceReport",
    "StoredSignal",
    "cursor_of",
    "encode_cursor",
    "signal_history",
    "signal_performance",
    "symbol_insights",
]

log = structlog.get_logger(__name__)

MAX_PAGE_SIZE = 100
MAX_RECENT = 50
_CURSOR_PREFIX = "sh1:"


@dataclass(frozen=True, slots=True)
class HistoryService:
    """What the history fields need; attached as ``Services.history`` by the composition root."""

    signals: SignalRepository


class HistoryUnavailableError(Exception):
    pass


def encode_cursor(keyset: Keyset) -> str:
    """Opaque to clients: base64url of the last row's ``generated_at`` and ``id``."""
    raw = f"{_CURSOR_PREFIX}{keyset.generated_at.isoformat()}|{keyset.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def cursor_of(stored: StoredSignal) -> str:
    """The cursor that pages on after ``stored``."""
    return encode_cursor(Keyset(stored.row.generated_at, stored.row.id))


def decode_cursor(cursor: str) -> Keyset:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
        if not raw.startswith(_CURSOR_PREFIX):
            raise ValueError("unknown cursor version")
        moment, _, row_id = raw.removeprefix(_CURSOR_PREFIX).partition("|")
        generated_at = datetime.fromisoformat(moment)
        if generated_at.tzinfo is None:
            raise ValueError("cursor time has no zone")
        return Keyset(generated_at, UUID(row_id))
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise InvalidArgument("after", "not a cursor from signalHistory (use pageInfo.endCursor)") from exc


def _service(ctx: RequestContext) -> HistoryService:
    service = ctx.services.history
    if service is None:
        raise HistoryUnavailableError("signal history is disabled on this server")
    return service


def _symbol(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return parse_symbol(text).canonical
    except InvalidSymbolFormat as exc:
        raise InvalidArgument("symbol", str(exc)) from exc


def _range(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and start >= end:
        raise InvalidArgument("from", "`from` must be before `to`")


def check_horizon(hours: int) -> int:
    if hours not in HORIZONS_HOURS:
        raise InvalidArgument("horizon", f"horizon must be one of {', '.join(map(str, HORIZONS_HOURS))} hours")
    return hours


def _unavailable(exc: BaseException) -> HistoryUnavailableError:
    if is_unavailable(exc):
        log.warning("history database unavailable", error=repr(exc))
    else:
        log.error("history query failed", error=repr(exc))
    return HistoryUnavailableError("the signal history database is not answering; try again shortly")


async def signal_history(
    ctx: RequestContext,
    *,
    symbol: str | None,
    recommendation: Recommendation | None,
    start: datetime | None,
    end: datetime | None,
    first: int,
    after: str | None,
) -> Page:
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise InvalidArgument("first", f"first must be between 1 and {MAX_PAGE_SIZE}")
    if recommendation is Recommendation.NEUTRAL:
        raise InvalidArgument("recommendation", "only LONG and SHORT signals are stored")
    keyset = decode_cursor(after) if after is not None else None
    canonical = _symbol(symbol)
    _range(start, end)
    service = _service(ctx)
    try:
        return await service.signals.page(
            first=first,
            after=keyset,
            symbol=canonical,
            recommendation=recommendation.value if recommendation else None,
            start=start,
            end=end,
        )
    except DATABASE_ERRORS as exc:
        raise _unavailable(exc) from exc


async def signal_performance(
    ctx: RequestContext,
    *,
    symbol: str | None,
    mode: Mode | None,
    start: datetime | None,
    end: datetime | None,
    horizon_hours: int,
) -> PerformanceReport:
    canonical = _symbol(symbol)
    _range(start, end)
    check_horizon(horizon_hours)
    service = _service(ctx)
    try:
        return await service.signals.performance(
            horizon_hours=horizon_hours, symbol=canonical, mode=mode.value if mode else None, start=start, end=end
        )
    except DATABASE_ERRORS as exc:
        raise _unavailable(exc) from exc


async def symbol_insights(ctx: RequestContext, *, symbol: str, horizon_hours: int, recent: int) -> Insights:
    canonical = _symbol(symbol)
    assert canonical is not None
    check_horizon(horizon_hours)
    if not 0 <= recent <= MAX_RECENT:
        raise InvalidArgument("recent", f"recent must be between 0 and {MAX_RECENT}")
    service = _service(ctx)
    try:
        return await service.signals.insights(canonical, horizon_hours=horizon_hours, recent=recent)
    except DATABASE_ERRORS as exc:
        raise _unavailable(exc) from exc
