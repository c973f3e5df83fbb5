"""How long the answer being computed stays true: the inputs it read, noted by the caches as it runs.

A response cache (``signal_api.response_cache``) opens a :class:`Freshness` for one request with
:func:`track`; while the request executes, every provider cache read notes the seconds its entry has left
(:func:`note_ttl`), and the schema refuses caching when the answer carries a problem or an error
(:func:`refuse`). The answer may then be served again for ``ttl`` seconds: no input it was computed from
expires before that, so re-executing it within that time would read the same entries. Outside a tracked
request (subscriptions, background jobs) both calls do nothing.

The state is a :class:`contextvars.ContextVar` holding one mutable object, so the tasks a request spawns
(``asyncio.gather``, single-flight loads) note into the same object. A shared cache (Redis) must call
:func:`note_ttl` with each entry's remaining lifetime too.
"""

from __future__ import annotations

import math
from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(slots=True)
class Freshness:
    """The shortest remaining lifetime among the inputs read (``inf`` when none), and why not to cache."""

    ttl: float = math.inf
    refused: str | None = None
    allowed: bool = False  # set by the schema once a query executed without errors (schema.response_policy)

    @property
    def cacheable(self) -> bool:
        return self.allowed and self.refused is None and self.ttl > 0


_CURRENT: ContextVar[Freshness | None] = ContextVar("response_freshness", default=None)


def track() -> tuple[Freshness, Token[Freshness | None]]:
    """Start tracking the current request; pass the token to :func:`untrack` when it is answered."""
    freshness = Freshness()
    return freshness, _CURRENT.set(freshness)


def untrack(token: Token[Freshness | None]) -> None:
    _CURRENT.reset(token)


def current() -> Freshness | None:
    return _CURRENT.get()


def note_ttl(seconds: float) -> None:
    """An input read by this request stays fresh ``seconds`` more (0 or less: do not reuse the answer)."""
    freshness = _CURRENT.get()
    if freshness is not None and seconds < freshness.ttl:
        freshness.ttl = seconds


def refuse(reason: str) -> None:
    """This request's answer must not be reused (a problem, an error, an input that is not cached)."""
    freshness = _CURRENT.get()
    if freshness is not None and freshness.refused is None:
        freshness.refused = reason
