"""Boundary helpers every venue shares: series order and funding intervals."""

from __future__ import annotations

import itertools
import statistics
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from _typeshed import SupportsRichComparison

R = TypeVar("R")

DEFAULT_FUNDING_INTERVAL_HOURS = 8.0
KNOWN_FUNDING_INTERVAL_HOURS = (1.0, 2.0, 4.0, 8.0)


def oldest_first(rows: Iterable[R], time_of: Callable[[R], SupportsRichComparison]) -> list[R]:
    """Venues that answer newest-first (OKX, Bybit, CoinAPI) are reversed and then stably sorted, so the
    result is oldest-first whichever order arrives (REFERENCE §2, defect 1)."""
    return sorted(reversed(list(rows)), key=time_of)


def funding_interval_hours(settlement_times_ms: Iterable[int]) -> float:
    """Median spacing of the last funding settlements, snapped to the intervals venues use; 8 h when
    fewer than two settlements are known."""
    times = sorted(settlement_times_ms)[-10:]
    if len(times) < 2:
        return DEFAULT_FUNDING_INTERVAL_HOURS
    spacing = statistics.median(b - a for a, b in itertools.pairwise(times)) / 3_600_000
    return min(KNOWN_FUNDING_INTERVAL_HOURS, key=lambda known: abs(known - spacing))


def clamp_limit(limit: int, maximum: int) -> int:
    """A row limit within 1..``maximum``, the most a venue's endpoint serves in one answer."""
    return max(1, min(limit, maximum))
