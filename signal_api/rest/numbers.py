"""Numbers as a trader reads them, and one convention for ratios, in REST answers.

GraphQL answers carry every digit the engine computed (``26.31578947368421``); the REST shim is read by
people and GPTs, so by default (``precision=trader``) it rounds by what a field is, told from its name:

============================  ===============================================================
percent (``...Pct``,           2 decimals; below 1 two significant digits (funding ``0.007``)
``percent...``, ``low`` /
``high`` of a percent)
scores and weights             2 decimals (``score``, ``confidence``, ``contribution``, ...)
USD amounts (``...Usd``)       whole dollars
prices beside a ``tickSize``   the nearest multiple of the tick (the venue's price increment),
(``price``, ``...Price``)      shown with the tick's decimals
anything else (prices, sizes)  6 significant digits, never fewer than the integer digits
============================  ===============================================================

A price is rounded to its venue's tick when the object carrying it also carries ``tickSize`` (``Signal``
does); without one (Hyperliquid publishes no tick, other types do not carry it) the significant-digit rule
applies.

Ratios are percentages named ``...Pct`` in the GraphQL schema itself (``winRatePct``, ``ratePct``), so
the REST answer keeps GraphQL's field names; a ``low`` / ``high`` under a ``...Pct`` interval is a percent.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

SCORE_KEYS = frozenset(
    {"score", "confidence", "contribution", "weight", "effectiveWeight", "shortMax", "longMin", "dataQualityScore"}
)
SIGNIFICANT_DIGITS = 6


def is_percent_key(key: str | None, parent: str | None = None) -> bool:
    if key is None:
        return False
    if "Pct" in key or key.endswith("pct") or key.startswith("percent"):
        return True
    return key in ("low", "high") and is_percent_key(parent)


def round_significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """``digits`` significant digits, but never rounding away integer digits (97123.456 → 97123.5,
    1731628800000.0 stays, 0.0000123456789 → 0.0000123457)."""
    if value == 0 or not math.isfinite(value):
        return value
    magnitude = math.floor(math.log10(abs(value))) + 1
    return round(value, max(0, digits - magnitude))


def round_percent(value: float) -> float:
    """2 decimals; a percent below 1 keeps two significant digits (a funding rate of 0.0070 %)."""
    if value == 0 or not math.isfinite(value):
        return value
    magnitude = math.floor(math.log10(abs(value))) + 1
    return round(value, max(2, 2 - magnitude))


def is_price_key(key: str) -> bool:
    """``price``, ``markPrice``, ``lastPrice``, ...: the fields a venue's tick applies to."""
    return key == "price" or key.endswith("Price")


def tick_of(node: dict[Any, Any]) -> float | None:
    """The object's ``tickSize`` when it is a finite positive number, else None."""
    tick = node.get("tickSize")
    if isinstance(tick, bool) or not isinstance(tick, (int, float)):
        return None
    return float(tick) if 0 < tick < math.inf else None


def round_to_tick(value: float, tick: float) -> float:
    """The nearest multiple of ``tick``, rounded to the tick's decimals so that float noise does not show
    (3 × 0.1 is 0.30000000000000004; this answers 0.3)."""
    if not math.isfinite(value):
        return value
    exponent = Decimal(repr(tick)).normalize().as_tuple().exponent
    decimals = max(0, -exponent) if isinstance(exponent, int) else 0
    return round(round(value / tick) * tick, decimals)


def round_number(value: float, key: str | None, parent: str | None = None) -> float | int:
    """One number by its field name (``key``; ``parent`` for ``low`` / ``high`` of an interval)."""
    if is_percent_key(key, parent):
        return round_percent(value)
    if key in SCORE_KEYS:
        return round(value, 2)
    if key is not None and (key.endswith("Usd") or key == "usd") and abs(value) < 2**53:
        return round(value)
    return round_significant(value)


def rest_view(data: Any, *, trader: bool) -> Any:
    """``data`` as REST answers it: numbers rounded when ``trader`` (``precision=trader``), else unchanged."""

    def walk(node: Any, key: str | None, parent: str | None) -> Any:
        if isinstance(node, dict):
            tick = tick_of(node)
            return {
                name: round_to_tick(float(value), tick)
                if tick is not None and is_price_key(str(name)) and _is_number(value)
                else walk(value, str(name), key)
                for name, value in node.items()
            }
        if isinstance(node, list):
            return [walk(item, key, parent) for item in node]
        if isinstance(node, float) and not isinstance(node, bool):
            return round_number(node, key, parent)
        return node

    return walk(data, None, None) if trader else data


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
