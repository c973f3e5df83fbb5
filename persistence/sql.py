"""Named SQL queries, procrastinate style: ``persistence/queries/<group>.sql`` holds blocks that each
start with a ``-- name: <query_name>`` line; :func:`load_queries` returns them by name.

Queries are parameterized only (``$1``, ``$2``, ...); nothing is ever formatted into SQL text.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

_NAME = re.compile(r"^--\s*name:\s*(?P<name>\w+)\s*$", re.MULTILINE)


def parse_queries(text: str) -> dict[str, str]:
    """Split a queries file into ``{name: sql}``; comment lines after the name line are kept."""
    matches = list(_NAME.finditer(text))
    queries: dict[str, str] = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.end() : end].strip()
        name = match["name"]
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        if not body:
            raise ValueError(f"query {name!r} is empty")
        queries[name] = body
    return queries


@functools.cache
def load_queries(group: str) -> Mapping[str, str]:
    text = resources.files("persistence").joinpath("queries", f"{group}.sql").read_text(encoding="utf-8")
    return MappingProxyType(parse_queries(text))
