"""Boundary helpers every venue shares: series order, funding intervals, finite numbers."""

from __future__ import annotations

import dataclasses
import itertools
import math
import operator
import statistics
import typing
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from _typeshed import SupportsRichComparison

R = TypeVar("R")

# A float field that refuses NaN and infinities when pydantic validates it: what every venue model's floats
# are (``allow_inf_nan=False``), for the row types validated by position (a ``NamedTuple``)
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]

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


_FIELDS: dict[type, tuple[str, ...]] = {}
# field types that cannot hold a float: nothing to look for in them
_NO_FLOAT = frozenset({int, str, bool, int | None, str | None, bool | None})
_FINITE_FLOAT = frozenset({float, float | None})


def _model_fields_to_scan(kind: type[BaseModel]) -> tuple[str, ...]:
    """The fields that may hold a non-finite number. A model validated with ``allow_inf_nan=False`` (every
    venue model) has already refused them in its own ``float`` fields (``"NaN"``, ``"1e999"``): those are
    skipped, as are ``int``/``str``/``bool`` fields; nested models, containers and anything else are scanned.
    (A 200-candle answer was ~1.6 ms of scanning values pydantic had just checked.)"""
    finite = kind.model_config.get("allow_inf_nan") is False
    return tuple(
        name
        for name, info in kind.model_fields.items()
        if info.annotation not in _NO_FLOAT and not (finite and info.annotation in _FINITE_FLOAT)
    )


def _row_fields(kind: Any) -> tuple[str, ...] | None:
    """A row type's (``NamedTuple``'s) field names; ``None`` for any other type."""
    if isinstance(kind, type) and issubclass(kind, tuple):
        fields: tuple[str, ...] | None = getattr(kind, "_fields", None)
        return fields
    return None


def _row_fields_to_scan(kind: Any) -> tuple[str, ...]:
    """A ``NamedTuple`` row's fields that may hold a non-finite number: as :func:`_model_fields_to_scan`,
    a :data:`FiniteFloat` field has been checked by pydantic and ``int``/``str``/``bool`` hold no float."""
    try:
        hints = typing.get_type_hints(kind, include_extras=True)
        return tuple(
            name for name in kind._fields if hints.get(name) not in _NO_FLOAT and hints.get(name) != FiniteFloat
        )
    except (NameError, TypeError):  # an annotation that cannot be resolved or compared: scan every field
        return tuple(kind._fields)


def _field_names(kind: type) -> tuple[str, ...]:
    names = _FIELDS.get(kind)
    if names is None:
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            names = _model_fields_to_scan(kind)
        elif _row_fields(kind) is not None:
            names = _row_fields_to_scan(kind)
        elif dataclasses.is_dataclass(kind):
            names = tuple(field.name for field in dataclasses.fields(kind))
        else:
            names = ()  # str, int, datetime, enums...: no float inside
        _FIELDS[kind] = names
    return names


_FIELD_GETTERS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}
_SCALARS = frozenset({int, str, bool, type(None)})
# types found to hold nothing to scan (a row type whose floats pydantic checked, datetimes, enums): the scan
# skips their instances without a call each (a 200-row klines answer is 200 of them)
_NOTHING_INSIDE: set[type] = set()


def _field_values(kind: type) -> Callable[[Any], tuple[Any, ...]]:
    """A function giving an object's scannable field values as one tuple (``attrgetter``, in C)."""
    getter = _FIELD_GETTERS.get(kind)
    if getter is None:
        names = _field_names(kind)
        if not names:
            getter = _no_values
            if not issubclass(kind, float):  # a float subclass is a value itself (checked by isinstance)
                _NOTHING_INSIDE.add(kind)
        elif len(names) == 1:
            only = operator.attrgetter(names[0])
            getter = lambda value: (only(value),)  # noqa: E731 (one field: attrgetter gives no tuple)
        else:
            getter = operator.attrgetter(*names)
        _FIELD_GETTERS[kind] = getter
    return getter


def _no_values(_: Any) -> tuple[Any, ...]:
    return ()


def _has_non_finite(value: Any) -> bool:
    kind = type(value)
    if kind is float:
        return not math.isfinite(value)
    if kind is list or kind is tuple:
        items: Iterable[Any] = value
    elif kind is dict:
        items = value.values()
    elif isinstance(value, float):
        return not math.isfinite(value)
    else:
        items = _field_values(kind)(value)
    for item in items:  # the common leaves inline: a 200-candle answer is ~1,600 of them
        item_kind = type(item)
        if item_kind is float:
            if not math.isfinite(item):
                return True
        elif item_kind not in _SCALARS and item_kind not in _NOTHING_INSIDE and _has_non_finite(item):
            return True
    return False


def first_non_finite(value: Any) -> str | None:
    """Where the first NaN or infinity sits in a parsed answer (``"[3].close"``), or None when there is none.

    Venues send numbers as strings, and ``float("NaN")`` parses: a NaN would pass every parser and then
    poison the engine or fail GraphQL's ``Float`` serialization. The HTTP layer and the stream clients
    run this on every parsed result, so a non-finite number is a malformed upstream payload (the input
    is missing and named), never a client error. A fast scan first; the path only when there is one."""
    return _path_of_non_finite(value, "") if _has_non_finite(value) else None


def _path_of_non_finite(value: Any, path: str) -> str | None:
    if isinstance(value, float):
        return None if math.isfinite(value) else (path or "value")
    items: Iterable[tuple[str, Any]]
    row_fields = _row_fields(type(value))
    if row_fields is not None:  # a row type (NamedTuple): its fields by name
        items = ((f"{path}.{name}" if path else name, item) for name, item in zip(row_fields, value, strict=True))
    elif isinstance(value, list | tuple):
        items = ((f"{path}[{i}]", item) for i, item in enumerate(value))
    elif isinstance(value, dict):
        items = ((f"{path}.{key}" if path else str(key), item) for key, item in value.items())
    else:
        items = ((f"{path}.{name}" if path else name, getattr(value, name)) for name in _field_names(type(value)))
    for where, item in items:
        found = _path_of_non_finite(item, where)
        if found is not None:
            return found
    return None
