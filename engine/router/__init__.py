"""The bilingual question router (English, Bahasa Indonesia): a question in, an operation, coins and a mode out.

Pure: the live symbol list is passed in, nothing is read here."""

from __future__ import annotations

from engine.router.route import MAX_WORDS, Language, Reading, Routed, route
from engine.router.vocabulary import NEEDS_SYMBOL, OPERATION_WORDS, TAKES_SYMBOL

ROUTED_OPERATIONS: frozenset[str] = frozenset(OPERATION_WORDS) | {"signals.batch"}
"""Every operation a routed answer can name (signals.batch: signals.get asked for several coins)."""

__all__ = [
    "MAX_WORDS",
    "NEEDS_SYMBOL",
    "ROUTED_OPERATIONS",
    "TAKES_SYMBOL",
    "Language",
    "Reading",
    "Routed",
    "route",
]
