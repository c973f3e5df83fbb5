"""The cost budget of GraphQL operations: charged before execution, shown as ``rateLimit`` like GitHub's.

:class:`CostBudget` (a schema extension) computes the operation's cost with ``schema.cost.query_cost``
once the document is valid, and charges it to the caller's cost budget before anything executes. The
budget itself lives in the composition root (``signal_api.security.ratelimit``) and reaches the
extension through the request's ASGI scope state (key :data:`LIMITS_STATE_KEY`), so this module knows
no settings, storage or HTTP: a request without a budget (limits off, tests of the schema alone) is
costed but not charged.

Over budget, the operation does not execute: the answer is a GraphQL error with code ``RATE_LIMITED``
(and ``retryAfter`` seconds in its extensions), and over HTTP the response gets status 429 and
``Retry-After``. The numbers of this request's charge are put into ``RequestContext.rate_limit`` for
the ``rateLimit`` field, and into the scope state for the ``X-RateLimit-Cost-*`` headers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import strawberry
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import Info  # noqa: TC002 - strawberry reads annotations at runtime
from strawberry.types.graphql import OperationType

from resolvers.context import RateLimitStatus, RequestContext
from schema.cost import query_cost

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, MutableMapping

LIMITS_STATE_KEY = "rate_limits"  # scope["state"]: the budgets (a CostCharger) of the app
COST_STATE_KEY = "rate_limit_cost"  # scope["state"]: this request's cost charge
RATE_LIMITED = "RATE_LIMITED"


class BudgetCharge(Protocol):
    """One charge as the budget reports it."""

    @property
    def limit(self) -> int: ...
    @property
    def remaining(self) -> int: ...
    @property
    def reset_at(self) -> float: ...  # epoch seconds
    @property
    def allowed(self) -> bool: ...
    def retry_after(self) -> int: ...


class CostCharger(Protocol):
    """What the composition root provides in the scope state."""

    @property
    def enabled(self) -> bool: ...
    async def charge_cost_of(self, scope: MutableMapping[str, Any], cost: int) -> BudgetCharge: ...


@strawberry.type(description="This request's cost and the caller's cost budget (null fields: no budget applies).")
class RateLimit:
    cost: int = strawberry.field(description="Points this operation was charged (computed before execution).")
    limit: int | None = strawberry.field(description="Points per window for this caller.")
    remaining: int | None = strawberry.field(description="Points left in the current window, after this operation.")
    reset_at: datetime | None = strawberry.field(
        description="When the window resets to the full budget (UTC, ISO-8601)."
    )


@strawberry.type
class RateLimitQuery:
    @strawberry.field(description="The cost of this operation and the caller's remaining cost budget.")
    def rate_limit(self, info: Info[Any, None]) -> RateLimit:
        context = info.context
        status = context.rate_limit if isinstance(context, RequestContext) else None
        if status is None:
            status = RateLimitStatus(cost=0)
        return RateLimit(cost=status.cost, limit=status.limit, remaining=status.remaining, reset_at=status.reset_at)


def cost_refusal(cost: int, charge: BudgetCharge) -> GraphQLError:
    """The typed error of an operation its caller's cost budget cannot pay for."""
    retry_after = charge.retry_after()
    if cost > charge.limit:
        message = f"this operation costs {cost} points, more than the whole budget of {charge.limit}"
    else:
        message = f"this operation costs {cost} points and {charge.remaining} are left; retry in {retry_after} s"
    return GraphQLError(message, extensions={"code": RATE_LIMITED, "cost": cost, "retryAfter": retry_after})


def _scope_of(context: object) -> MutableMapping[str, Any] | None:
    scope = getattr(getattr(context, "request", None), "scope", None)
    return scope if isinstance(scope, dict) else None


class CostBudget(SchemaExtension):
    """Charge the operation's cost to the caller's budget before execution; refuse it when over."""

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        if document is None:  # nothing will execute
            yield
            return
        cost = query_cost(ctx.schema, document, ctx.variables, ctx.operation_name)
        status = RateLimitStatus(cost=cost)
        scope = _scope_of(ctx.context)
        state = scope.get("state") if scope is not None else None
        charger = state.get(LIMITS_STATE_KEY) if isinstance(state, dict) else None
        if scope is not None and isinstance(state, dict) and charger is not None and charger.enabled:
            charge = await charger.charge_cost_of(scope, cost)
            state[COST_STATE_KEY] = charge
            reset_at = datetime.fromtimestamp(charge.reset_at, UTC)
            status = RateLimitStatus(cost, charge.limit, charge.remaining, reset_at)
            if not charge.allowed:
                self._refuse(cost, charge)
        if isinstance(ctx.context, RequestContext):
            ctx.context.rate_limit = status
        yield

    def _refuse(self, cost: int, charge: BudgetCharge) -> None:
        """Set the result (so Strawberry does not execute) and, over HTTP, the status and Retry-After."""
        error = cost_refusal(cost, charge)
        retry_after = charge.retry_after()
        if self.execution_context.operation_type is OperationType.SUBSCRIPTION:
            raise error  # a subscription ignores a preset result; Strawberry answers a raised error instead
        self.execution_context.result = GraphQLExecutionResult(data=None, errors=[error])
        response: Any = getattr(self.execution_context.context, "response", None)
        if hasattr(response, "status_code") and hasattr(response, "headers"):  # an HTTP response, not a socket
            response.status_code = 429
            response.headers["Retry-After"] = str(retry_after)
