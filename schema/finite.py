"""The last guard before GraphQL's ``Float``: a non-finite number is an upstream fault, named as one.

Providers refuse NaN and infinity at the parsing boundary (``providers.normalize.first_non_finite``),
but a number computed from finite inputs can still overflow. graphql-core would answer "Float cannot
represent non numeric value", which the error codes map to ``GRAPHQL_VALIDATION_FAILED``, blaming the
client. Here the leaf becomes a field error with code ``NON_FINITE_NUMBER``: that field is null (up to its
nearest nullable parent) and the rest of the answer stands.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError

from schema.subscriptions import LeakFreeExecutionContext

if TYPE_CHECKING:
    from graphql import GraphQLLeafType

NON_FINITE_NUMBER = "NON_FINITE_NUMBER"


class FiniteExecutionContext(LeakFreeExecutionContext):
    """:class:`LeakFreeExecutionContext` that refuses NaN and infinity in leaf values with a typed error."""

    @staticmethod
    def complete_leaf_value(return_type: GraphQLLeafType, result: Any) -> Any:
        if result.__class__ is float and not math.isfinite(result):
            raise GraphQLError(
                "an upstream number is not finite (NaN or Infinity); this value is left out",
                extensions={"code": NON_FINITE_NUMBER},
            )
        return LeakFreeExecutionContext.complete_leaf_value(return_type, result)


__all__ = ["NON_FINITE_NUMBER", "FiniteExecutionContext"]
