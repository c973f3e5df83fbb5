"""The caller of a request or WebSocket connection, as every security layer sees it.

The authentication middleware puts one :class:`Principal` in ``scope["state"]["principal"]`` for every
HTTP request (and, for WebSocket connections, again after ``connection_init``); the limiter, the scope
checks and the logs read it from there and never look at headers themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Scope(StrEnum):
    READ = "read"  # queries of market data and signals
    STREAM = "stream"  # GraphQL subscriptions
    HISTORY = "history"  # signal history and performance
    ADMIN = "admin"  # operator views (key management stays in the CLI)


ALL_SCOPES = frozenset(Scope)
ANONYMOUS_SCOPES = frozenset({Scope.READ, Scope.STREAM, Scope.HISTORY})


@dataclass(frozen=True, slots=True)
class Principal:
    """``key_id`` is None for an anonymous client, which is then known (and limited) by its address."""

    address: str
    key_id: str | None = None
    name: str = "anonymous"
    scopes: frozenset[Scope] = ANONYMOUS_SCOPES
    rate_per_minute: int | None = None  # a key's own request budget; None: the configured default
    cost_per_minute: int | None = None  # a key's own cost budget; None: the configured default

    @property
    def anonymous(self) -> bool:
        return self.key_id is None

    @property
    def limit_key(self) -> str:
        """What budgets are counted against: the key, or the client address for anonymous callers."""
        return f"key:{self.key_id}" if self.key_id is not None else f"addr:{self.address}"

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes


PRINCIPAL_STATE_KEY = "principal"


def principal_of(scope: dict[str, Any]) -> Principal | None:
    """The principal the authentication middleware attached to an ASGI scope, if any."""
    state = scope.get("state") or {}
    principal = state.get(PRINCIPAL_STATE_KEY)
    return principal if isinstance(principal, Principal) else None
