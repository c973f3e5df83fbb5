"""``ask(question)``: a question in English or Bahasa Indonesia, routed to a registry operation and answered.

The router (:mod:`engine.router`) reads the operation, the coins and the mode; the answer is that
registry operation's own document (``schema/operations.py``) executed through ``info.schema.execute``
with this request's context, exactly as ``POST /invoke`` runs it, so it is never a second implementation.
Running it that way also runs every check of a direct call: the routed operation's scope (a history
question needs the history scope), its cost limit, and its cost charged to the caller's budget on top of
``ask``'s own weight. A refusal there (``FORBIDDEN``, ``RATE_LIMITED``) is this request's error.

When the router is not sure (weak or tied evidence, or a per-coin question without a coin) nothing is
executed: the answer says why and offers the two best readings to ask again with.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from graphql import GraphQLError, NonNullTypeNode
from strawberry.scalars import JSON
from strawberry.types import Info  # noqa: TC002 - strawberry reads annotations at runtime

from engine import DEFAULT_MODE, Mode
from engine.router import Language, Reading, Routed, route
from engine.router.vocabulary import OPTION_DEFAULTS
from resolvers.context import RequestContext  # noqa: TC001
from resolvers.freshness import refuse
from resolvers.problems import Problem
from resolvers.symbols import resolve_symbols
from schema.enums import ModeEnum, described
from schema.errors import InvalidInput, invalid_input
from schema.finite import NON_FINITE_NUMBER
from schema.operations import OPERATIONS, operation

if TYPE_CHECKING:
    from schema.operations import Operation

DEFAULT_EXCHANGE = "binance"  # exchange.candles when the question names none
MAX_QUESTION_CHARS = 300
"""Longer is not a question; the router reads at most its first 40 words anyway."""

OFFERED = frozenset(op.name for op in OPERATIONS)
"""The registry operations a question can be routed to (the router's vocabulary may name more)."""

LanguageEnum = described(
    Language,
    "Language",
    "The language a question was read as (and the one to answer a person in).",
    {Language.EN: "English (also when a question has no everyday words of either language).", Language.ID: "Bahasa "
     "Indonesia."},
)  # fmt: skip


@strawberry.type(description="One way to read a question: the operation it asks for, with its coins and mode.")
class AskReading:
    operation: str = strawberry.field(description="The REST registry operation (signals.get, market.summary, ...).")
    symbols: list[str] = strawberry.field(description="The coins it would run for (base assets: BTC, 1000PEPE).")
    mode: ModeEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="The mode the question names, or null when it names none."
    )
    confidence: float = strawberry.field(
        description="0..1: how strong and how far ahead this reading is (a heuristic, not a probability)."
    )
    matched: list[str] = strawberry.field(description="The words or phrases of the question that point here.")
    missing: list[str] = strawberry.field(description="Inputs it needs that the question lacks (symbol).")

    @classmethod
    def of(cls, reading: Reading) -> AskReading:
        return cls(
            operation=reading.operation,
            symbols=list(reading.symbols),
            mode=reading.mode,
            confidence=reading.confidence,
            matched=list(reading.matched),
            missing=list(reading.missing),
        )


@strawberry.type(description="What a question was read as and, when the router is sure, the routed operation's answer.")
class AskAnswer:
    question: str = strawberry.field(description="The question as asked.")
    operation: str | None = strawberry.field(
        description="The registry operation it was routed to (best reading); null when nothing matched."
    )
    symbol: str | None = strawberry.field(description="The coin (base asset, BTC); null when none applies.")
    symbols: list[str] = strawberry.field(description="Every coin, for an operation over several (signals.batch).")
    mode: ModeEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="The mode the answer used: the one named (mode 1/2/3 = CONSERVATIVE/AGGRESSIVE/ULTRA, "
        "konservatif, agresif, ultra), else the operation's default; null when the operation has no mode."
    )
    mode_stated: bool = strawberry.field(description="Whether the question named the mode.")
    language: LanguageEnum = strawberry.field(  # type: ignore[valid-type]
        description="The language the question was read as."
    )
    confident: bool = strawberry.field(
        description="Whether the router is sure; when false nothing ran and `alternatives` holds its two best readings."
    )
    reason: str = strawberry.field(description="Why it read the question so, or why it is not sure.")
    alternatives: list[AskReading] = strawberry.field(description="The two best readings, best first.")
    notes: list[str] = strawberry.field(
        description="What the answer could not honour: a mode the operation ignores, extra coins, unlisted tickers."
    )
    answer: JSON | None = strawberry.field(
        description="The routed operation's result exactly as that operation returns it (its union member, with "
        "__typename); null when not confident."
    )


AskResult = Annotated[
    AskAnswer | InvalidInput,
    strawberry.union("AskResult", description="The routed answer, or why the question was refused."),
]


def _variables(op: Operation, reading: Reading, routed: Routed, notes: list[str]) -> tuple[dict[str, Any], Mode | None]:
    """The routed operation's variables from the reading; the mode it will run with (None: it takes none)."""
    declared = {d.variable.name.value: d for d in op.definition.variable_definitions or ()}
    values: dict[str, Any] = {}
    if "symbol" in declared and reading.symbols:
        values["symbol"] = reading.symbols[0]
    if "symbols" in declared and reading.symbols:
        values["symbols"] = list(reading.symbols)
    used_mode: Mode | None = None
    if "mode" in declared:
        used_mode = routed.mode or _default_mode(declared["mode"])
        if routed.mode is not None:
            values["mode"] = routed.mode.name
    elif routed.mode is not None:
        notes.append(f"{op.name} has no mode: {routed.mode.name} does not change its answer")
    if len(routed.symbols) > len(reading.symbols) and reading.symbols:
        extra = ", ".join(s for s in routed.symbols if s not in reading.symbols)
        notes.append(f"{op.name} answers for one coin: {extra} left out (ask for each)")
    if "interval" in declared and routed.interval is not None:
        values["interval"] = routed.interval
    if "withinHours" in declared and routed.hours is not None:
        values["withinHours"] = routed.hours
    if routed.amount is not None and "maxFdvUsd" in declared:
        values["maxFdvUsd"] = routed.amount
        notes.append(f"maxFdvUsd {routed.amount:,.0f}: the amount said, read as US dollars of FDV")
    elif routed.amount is not None:
        notes.append(f"{op.name} takes no amount: {routed.amount:,.0f} is not applied")
    if "defi" in reading.matched or "new defi" in reading.matched:
        notes.append("DeFi is not filtered: no category filter here (an mss report lists CoinGecko's categories)")
    if "venues" in declared and routed.venues:
        enum_typed = _type_name(declared["venues"].type) == "Venue"
        values["venues"] = [v.upper() if enum_typed else v for v in routed.venues]
    if "exchange" in declared:
        values["exchange"] = routed.venues[0] if routed.venues else DEFAULT_EXCHANGE
        if not routed.venues:
            notes.append(f"no exchange named: {DEFAULT_EXCHANGE}")
    said = dict(reading.options)
    for name, default in OPTION_DEFAULTS.get(op.name, {}).items():
        if name in declared and name not in said:
            said[name] = default
            notes.append(f"no {name} named: {default}")
    values.update((name, value) for name, value in said.items() if name in declared)
    missing = [
        name
        for name, definition in declared.items()
        if isinstance(definition.type, NonNullTypeNode) and definition.default_value is None and name not in values
    ]
    if missing:
        raise _Unrunnable(f"{op.name} needs {', '.join(missing)}, which the question does not say")
    return values, used_mode


def _type_name(node: Any) -> str | None:
    """The named type at the bottom of a variable's (list, non-null) type."""
    while hasattr(node, "type"):
        node = node.type
    name = getattr(node, "name", None)
    return getattr(name, "value", None)


def _default_mode(definition: Any) -> Mode | None:
    default = getattr(definition.default_value, "value", None)
    return Mode[default] if isinstance(default, str) and default in Mode.__members__ else DEFAULT_MODE


class _Unrunnable(Exception):
    """The best reading lacks a required input: answered as not confident, never executed."""


async def _known_bases(info: Info[RequestContext, None], notes: list[str]) -> list[str] | None:
    """Base assets of the live symbol list (cached by the gateway); None, with a note, when it cannot be read."""
    listed = await resolve_symbols(info.context, None)
    if isinstance(listed, Problem):
        notes.append("the symbol list could not be read: coins were recognised by name and common tickers only")
        return None
    return [s.base_asset for s in listed]


async def _execute(info: Info[RequestContext, None], op: Operation, variables: dict[str, Any]) -> object:
    """The registry document run as REST runs it; its errors (scope, budget, cost) become this request's."""
    before = info.context.rate_limit  # ask's own charge; the run below charges the routed operation
    result = await info.schema.execute(
        op.document, variable_values=variables, context_value=info.context, operation_name=op.operation_name
    )
    after = info.context.rate_limit
    if before is not None and after is not None and after is not before:  # rateLimit { cost } shows both
        info.context.rate_limit = dataclasses.replace(after, cost=before.cost + after.cost)
    codes = {(error.extensions or {}).get("code") for error in result.errors or ()}
    if result.errors and not (codes == {NON_FINITE_NUMBER} and result.data):  # as REST: that nulls one field only
        first = result.errors[0]
        raise GraphQLError(f"{op.name}: {first.message}", extensions=first.extensions or {}, original_error=first)
    return (result.data or {}).get(op.root_field)


@strawberry.type
class AskQuery:
    @strawberry.field(
        description="Ask in plain English or Bahasa Indonesia ('signal BTC mode 3', 'kenapa market merah semua?'): "
        "the operation, coin and mode it was read as, and that operation's answer when the router is sure."
    )
    async def ask(
        self,
        info: Info[RequestContext, None],
        question: Annotated[
            str,
            strawberry.argument(
                description=f"The question, 1 to {MAX_QUESTION_CHARS} characters, English or Indonesian."
            ),
        ],
    ) -> AskResult:
        # never reused from the response cache (schema.response_policy leaves ask out), even though the routed
        # operation's own run may mark the request reusable
        refuse("ask routes to any operation, some per caller")
        if not question or len(question) > MAX_QUESTION_CHARS:
            return invalid_input(
                "question", f"a question is 1 to {MAX_QUESTION_CHARS} characters; this one has {len(question)}"
            )
        notes: list[str] = []
        known = await _known_bases(info, notes)
        routed = route(question, known, OFFERED)
        unfiltered = route(question, known).best  # what it reads as with every operation the router knows
        if unfiltered is not None and unfiltered.operation not in OFFERED:
            notes.append(f"it reads as {unfiltered.operation}, which this server does not offer")
        notes.extend(f"{ticker} is not a listed USDT perpetual" for ticker in routed.unlisted)
        best = routed.best
        confident, reason, answer = routed.confident, routed.reason, None
        used_mode = routed.mode
        if best is not None and confident:
            op = operation(best.operation)
            try:
                variables, used_mode = _variables(op, best, routed, notes)
            except _Unrunnable as exc:
                confident, reason = False, str(exc)
            else:
                answer = JSON(await _execute(info, op, variables))
        return AskAnswer(
            question=question,
            operation=best.operation if best else None,
            symbol=best.symbols[0] if best and best.symbols else None,
            symbols=list(best.symbols) if best else [],
            mode=used_mode if confident else routed.mode,
            mode_stated=routed.mode is not None,
            language=routed.language,
            confident=confident,
            reason=reason,
            alternatives=[AskReading.of(r) for r in routed.readings],
            notes=notes,
            answer=answer,
        )
