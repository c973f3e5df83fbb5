"""What a GraphQL operation costs, computed from the document before anything executes (GitHub-style).

Every field has a weight in :data:`COST_WEIGHTS` (fields not listed weigh 0: they read data another
field already paid for). A field costs ``multiplier × (weight + the cost of its selection set)``, where
the multiplier is the length of a list argument (``signals(symbols: [...])`` runs once per symbol) or
an integer argument per unit (``signalHistory(first: 250)`` reads three pages of 100), from a literal,
a variable or the argument's default. Aliases add up, because each alias runs. An operation costs at
least :data:`MIN_COST`.

Fragments are costed once per call and memoized by name (a fragment's cost does not depend on where it
is spread: its type condition fixes its fields, and the variables are fixed for the call), so the work
is linear in the document's size however the fragments spread each other. A fragment spread twice in
one selection set counts once, as graphql-core executes it. Unknown fields, unknown or cyclic fragments
cost 0: validation reports them; nothing here raises on a document that failed or skipped validation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    OperationDefinitionNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from graphql.pyutils import Undefined

if TYPE_CHECKING:
    from collections.abc import Mapping

    from graphql import GraphQLNamedType, SelectionSetNode, ValueNode
    from strawberry import Schema as StrawberrySchema

MIN_COST = 1
TOO_COSTLY = "QUERY_TOO_COSTLY"
SATURATED = 2**53
"""Costs stop growing here (far past any limit), so arithmetic stays on machine-sized integers."""


@dataclass(frozen=True, slots=True)
class FieldCost:
    """``weight`` points each time the field runs; it runs once per item of the list argument ``per``
    (or ``ceil(value / unit)`` times for an integer argument)."""

    weight: int
    per: str | None = None
    unit: int = 1


COST_WEIGHTS: Mapping[str, FieldCost] = {
    # one signal: ~9 upstream reads, cached and batched across a request
    "Query.signal": FieldCost(1),
    "Query.signals": FieldCost(1, per="symbols"),
    "Signal.plan": FieldCost(1),  # the cached candles and ticker the signal already read, and the ATR
    "Signal.planMissing": FieldCost(1),  # the plan's reads, when selected without it
    "Signal.verdict": FieldCost(2),  # the plan's reads plus, with OPENAI_API_KEY, one budgeted AI call
    "Query.symbols": FieldCost(1),
    "Query.market": FieldCost(3),  # fans out to every venue
    "Query.exchanges": FieldCost(1),
    "Query.exchange": FieldCost(0),  # a handle: the venue reads below it pay
    "Exchange.candles": FieldCost(1),
    "Exchange.openInterest": FieldCost(1),
    "Exchange.openInterestHistory": FieldCost(1),
    "Exchange.funding": FieldCost(1),
    "Exchange.fundingHistory": FieldCost(1),
    # ~1.5 s of CPU per run (in a worker process, under BACKTEST_TIMEOUT_SECONDS)
    "Query.backtest": FieldCost(50),
    "Query.model": FieldCost(1),  # the artifact loaded at start-up: no upstream call, no fit
    "Query.signalHistory": FieldCost(1, per="first", unit=100),  # a database page per 100 rows
    "Query.signalPerformance": FieldCost(2),
    "Query.symbolInsights": FieldCost(2),
    # alert rules: one indexed database statement each (a creation checks the owner's count first)
    "Query.alertRules": FieldCost(1),
    "Mutation.createAlertRule": FieldCost(2),
    "Mutation.pauseAlertRule": FieldCost(1),
    "Mutation.resumeAlertRule": FieldCost(1),
    "Mutation.deleteAlertRule": FieldCost(1),
    "Subscription.alerts": FieldCost(2),  # an in-process queue; alerts are computed by the scanner anyway
    # Smart Money Concepts: one (cached) candle call and ~3 ms of CPU per timeframe
    "Query.smc": FieldCost(1, per="timeframes"),
    "Signal.structure": FieldCost(1),
    # order books, flow, scalping: up to 6 book calls in one round; flow reads the in-process trade window;
    # scalping's ~7 upstream reads (candles 1m and 5m, book, funding, ratio, fear & greed) and the windows
    "Query.orderBook": FieldCost(3),
    "Query.flow": FieldCost(1),
    "Query.scalping": FieldCost(5),
    # the question router (µs) and the cached symbol list; the routed operation's own cost is charged on top,
    # when it runs (schema/ask.py executes its registry document, which the budget costs like any request)
    "Query.ask": FieldCost(1),
    # the universe: newListings 3 listing calls + up to 20 hourly-candle calls; screener 7 all-symbol calls;
    # spikes 4 all-symbol calls (see resolvers/universe.py)
    "Query.newListings": FieldCost(5),
    "Query.screener": FieldCost(5),
    "Query.spikes": FieldCost(3),
    # MSS: ~7 upstream reads per coin in one round (CoinGecko coins/{id}, LunarCrush when keyed, 5 exchange
    # reads); a scan scores up to `limit` coins within its vendor budget; hype 4 reads; the summary batches
    # the signals of 5 coins (served from memory while fresh); the watchlist reads the database
    "Query.mss": FieldCost(3),
    "Query.mssScan": FieldCost(3, per="limit"),
    "Query.socialHype": FieldCost(2),
    "Query.marketSummary": FieldCost(5),
    "Query.watchlist": FieldCost(1),
    "Mutation.watchlistAdd": FieldCost(4),  # an MSS and two statements
    "Mutation.watchlistRemove": FieldCost(1),
    "Query.__schema": FieldCost(2),
    "Query.__type": FieldCost(1),
    # subscriptions: charged once, when they start (each holds a stream and a queue)
    "Subscription.liquidations": FieldCost(5),
    "Subscription.largeTrades": FieldCost(5),
    "Subscription.candles": FieldCost(5),
    "Subscription.signalUpdates": FieldCost(2, per="symbols"),  # re-evaluated per symbol on each bar
    "Subscription.spikes": FieldCost(5),  # one shared scan a minute (4 all-symbol calls)
}
"""``"Type.field"`` → weight. One table, so the README and the limits read the same numbers."""

DEFAULT_MAX_QUERY_COST = 100
"""Two backtests, or a 50-symbol ``signals`` plus change; 29 aliases of a 50-symbol ``signals`` (1,450)
and 10 backtests (500) are refused."""


class _CostWalker:
    """One costing of one document with one set of variables; ``fragment_visits`` counts fragments costed."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any],
        weights: Mapping[str, FieldCost],
    ) -> None:
        self.schema = schema
        self.weights = weights
        self.variables = variables
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.variable_defaults: dict[str, ValueNode | None] = {}
        self._memo: dict[str, int] = {}
        self._in_progress: set[str] = set()
        self.fragment_visits = 0

    def operation(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return MIN_COST
        self.variable_defaults = {d.variable.name.value: d.default_value for d in operation.variable_definitions or ()}
        return max(MIN_COST, self._selection_set(operation.selection_set, root))

    def _fragment(self, name: str) -> int:
        known = self._memo.get(name)
        if known is not None:
            return known
        definition = self.fragments.get(name)
        if definition is None or name in self._in_progress:
            return 0
        self._in_progress.add(name)
        self.fragment_visits += 1
        try:
            cost = self._selection_set(
                definition.selection_set, self.schema.get_type(definition.type_condition.name.value)
            )
        finally:
            self._in_progress.discard(name)
        self._memo[name] = cost
        return cost

    def _selection_set(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None) -> int:
        if selection_set is None or parent is None:
            return 0
        total = 0
        spread: set[str] = set()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection, parent)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in spread:  # collected once per selection set, as graphql-core executes it
                    spread.add(name)
                    total += self._fragment(name)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition is not None else parent
                total += self._selection_set(selection.selection_set, inner)
            if total >= SATURATED:
                return SATURATED
        return total

    def _field(self, node: FieldNode, parent: GraphQLNamedType) -> int:
        name = node.name.value
        rule = self.weights.get(f"{parent.name}.{name}")
        child = 0
        definition = parent.fields.get(name) if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) else None
        if definition is not None and node.selection_set is not None:
            child = self._selection_set(node.selection_set, get_named_type(definition.type))
        if rule is None:
            return child
        times = self._multiplier(node, rule, definition.args if definition is not None else {})
        return min(SATURATED, times * (rule.weight + child))

    def _multiplier(self, node: FieldNode, rule: FieldCost, args: Mapping[str, Any]) -> int:
        if rule.per is None:
            return 1
        value: object = Undefined
        declared = args.get(rule.per)
        for argument in node.arguments or ():
            if argument.name.value == rule.per:
                value = self._value(argument.value)
                break
        else:
            if declared is not None:
                value = declared.default_value
        if declared is not None and is_list_type(get_nullable_type(declared.type)):
            # one value where a list is expected is coerced to a one-item list
            return max(1, len(value)) if isinstance(value, list | tuple) else 1
        if isinstance(value, int) and not isinstance(value, bool):
            return max(1, math.ceil(value / rule.unit))
        return 1  # absent or null

    def _value(self, node: ValueNode | None) -> object:
        """Just enough of a literal or variable to size it: a list's items, an integer."""
        if isinstance(node, ListValueNode):
            return node.values
        if isinstance(node, IntValueNode):
            try:
                return int(node.value)
            except ValueError:
                return Undefined
        if isinstance(node, VariableNode):
            name = node.name.value
            if name in self.variables:
                return self.variables[name]
            default = self.variable_defaults.get(name)
            return Undefined if default is None or isinstance(default, VariableNode) else self._value(default)
        if isinstance(node, NullValueNode):
            return None
        return Undefined


def query_cost(
    schema: GraphQLSchema | StrawberrySchema,
    document: DocumentNode,
    variable_values: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
    *,
    weights: Mapping[str, FieldCost] = COST_WEIGHTS,
) -> int:
    """The cost in points of the operation that would execute, before executing it.

    Contract (for budgets and ``rateLimit { cost }``): pure and deterministic; linear in the document's
    size (each fragment costed once); never raises on any parsed document, valid or not, so it can run
    whether or not validation ran (validation-cache hits skip the rules). ``variable_values`` are the
    request's raw JSON variables (list lengths and integers are read from them, defaults otherwise).
    The operation is picked as graphql-core picks it: by ``operation_name``, or the only one; with
    several and no name, the most expensive (execution will refuse it anyway). An operation costs at
    least :data:`MIN_COST` (1); a name that matches no operation costs :data:`MIN_COST`. Costs saturate
    at :data:`SATURATED`. Subscriptions are costed once, at subscribe time.
    """
    graphql_schema = _graphql_schema(schema)
    walker = _CostWalker(graphql_schema, document, variable_values or {}, weights)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    return max((walker.operation(o) for o in operations), default=MIN_COST)


def operation_cost_walker(
    schema: GraphQLSchema | StrawberrySchema, document: DocumentNode, variable_values: Mapping[str, Any] | None = None
) -> _CostWalker:
    """A walker for tests and benchmarks that want ``fragment_visits`` (the structural linearity check)."""
    return _CostWalker(_graphql_schema(schema), document, variable_values or {}, COST_WEIGHTS)


def _graphql_schema(schema: GraphQLSchema | StrawberrySchema) -> GraphQLSchema:
    return schema if isinstance(schema, GraphQLSchema) else schema._schema


def cost_errors(
    schema: GraphQLSchema | StrawberrySchema,
    document: DocumentNode,
    variable_values: Mapping[str, Any] | None,
    operation_name: str | None,
    *,
    max_cost: int,
) -> list[GraphQLError]:
    """``[QUERY_TOO_COSTLY error]`` when the operation costs more than ``max_cost``, else ``[]``."""
    cost = query_cost(schema, document, variable_values, operation_name)
    if cost <= max_cost:
        return []
    shown = f"more than {SATURATED}" if cost >= SATURATED else str(cost)
    return [
        GraphQLError(
            f"query cost {shown} exceeds the maximum of {max_cost} "
            "(list arguments multiply, aliases add up; see the README)",
            extensions={"code": TOO_COSTLY, "cost": min(cost, SATURATED), "maxCost": max_cost},
        )
    ]


__all__ = [
    "COST_WEIGHTS",
    "DEFAULT_MAX_QUERY_COST",
    "MIN_COST",
    "TOO_COSTLY",
    "FieldCost",
    "cost_errors",
    "operation_cost_walker",
    "query_cost",
]
