"""WebSocket authentication and scope checks.

The key comes in the ``connection_init`` payload (``{"authorization": "Bearer <key>"}`` or
``{"apiKey": "<key>"}``; a browser cannot set handshake headers) or, for other clients, in the
handshake headers (checked by the middleware). :func:`authenticate_connection` runs in the view's
``on_ws_connect``: it replaces the connection's principal in its ASGI scope, where every operation of
the connection then finds it, or refuses the connection (graphql-transport-ws closes with 4403).

:class:`ScopedFanoutHandler` checks each ``subscribe`` against the principal before the shared fan-out
(whose execution runs without the subscriber's context) can take it, answers a refusal with an
``error`` message coded ``FORBIDDEN``, and closes the connection (4403) once its key is revoked: at the
next ``subscribe``, or within ``revalidate_seconds`` (30 s) while subscriptions run.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError
from strawberry.exceptions import ConnectionRejectionError

from signal_api.fanout import SharedFanoutHandler
from signal_api.security.auth import (
    KEY_STORE_UNAVAILABLE,
    AuthError,
    Unauthenticated,
    client_address,
    key_from_params,
    set_principal,
)
from signal_api.security.principal import principal_of
from signal_api.security.scopes import principal_of_context, refusal, required_scopes_of_text

if TYPE_CHECKING:
    from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

    from signal_api.security.auth import Authenticator
    from signal_api.security.principal import Principal


def _reject(code: str, message: str) -> ConnectionRejectionError:
    return ConnectionRejectionError({"code": code, "message": message})


async def authenticate_connection(authenticator: Authenticator, context: Any) -> None:
    """Authenticate a WebSocket connection from its ``connection_init`` payload (see the module doc)."""
    websocket = getattr(context, "request", None)
    scope = getattr(websocket, "scope", None)
    if not isinstance(scope, dict):
        raise _reject("UNAUTHENTICATED", "no connection to authenticate")
    params = getattr(context, "connection_params", None)
    try:
        key = key_from_params(params if isinstance(params, dict) else None)
        if key is None:
            current = principal_of(scope)
            if current is not None and (not current.anonymous or authenticator.allow_anonymous):
                return  # a handshake-header key, or anonymous access allowed
            raise Unauthenticated('an API key is required in the connection_init payload: {"apiKey": "<key>"}')
        principal = await authenticator.authenticate(key, client_address(scope))
    except AuthError as exc:
        raise _reject(exc.code, exc.message) from None
    set_principal(scope, principal)


class ScopedFanoutHandler(SharedFanoutHandler[Any, Any]):
    """graphql-transport-ws with the scope check in front of every ``subscribe`` (see the module doc).

    A connection holding a key also re-checks it every ``revalidate_seconds`` while it is open, so a
    revoked key stops running subscriptions too (close 4403), not only new ones."""

    revalidate_seconds: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._revalidation: asyncio.Task[None] | None = None

    async def _revalidate(self, authenticator: Authenticator, principal: Principal) -> None:
        while True:
            await asyncio.sleep(self.revalidate_seconds)
            if await authenticator.still_valid(principal) is False:  # None (store down): keep serving
                await self.websocket.close(code=4403, reason="API key revoked")
                return

    async def shutdown(self) -> None:
        if self._revalidation is not None:
            self._revalidation.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._revalidation
        await super().shutdown()

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload: Any = message.get("payload") if isinstance(message, dict) else None
        query = payload.get("query") if isinstance(payload, dict) else None
        operation_name = payload.get("operationName") if isinstance(payload, dict) else None
        principal = principal_of_context(self.context)
        op_id = message.get("id") if isinstance(message, dict) else None
        if (
            self.connection_acknowledged
            and isinstance(op_id, str)
            and principal is not None
            and isinstance(query, str)
            and isinstance(operation_name, str | None)
        ):
            authenticator: Authenticator | None = getattr(self.view, "authenticator", None)
            valid = await authenticator.still_valid(principal) if authenticator is not None else True
            if valid is False:
                await self.websocket.close(code=4403, reason="API key revoked")
                return
            needed = required_scopes_of_text(query, operation_name)
            error = refusal(principal, needed) if needed is not None else None
            if valid is None:  # the key store is down: this operation waits for it, the connection stays
                error = GraphQLError(
                    "API keys cannot be checked now: the key store is unavailable",
                    extensions={"code": KEY_STORE_UNAVAILABLE},
                )
            if error is not None:
                await self.send_message({"id": op_id, "type": "error", "payload": [error.formatted]})
                return
            if authenticator is not None and principal.key_id is not None and self._revalidation is None:
                self._revalidation = asyncio.create_task(self._revalidate(authenticator, principal))
        await super().handle_subscribe(message)
