"""Expected failures are data: union members with a stable ``code`` and a human ``message``.

Codes: ``INVALID_INPUT``, ``SYMBOL_NOT_FOUND``, ``INSUFFICIENT_DATA``, ``UPSTREAM_UNAVAILABLE``.
Unexpected exceptions never reach clients: they are masked as ``INTERNAL_SERVER_ERROR``.
"""

from __future__ import annotations

from typing import overload

import strawberry

from resolvers import problems
from schema.response_policy import refuse_problem
from schema.types import DataQuality


@strawberry.interface(
    description="An expected failure, returned as data. Select `... on Problem { code message }` in every "
    "union result (Apollo Client needs `possibleTypes` to match it: see README)."
)
class Problem:
    code: str = strawberry.field(description="Stable, machine-readable error code.")
    message: str = strawberry.field(description="What went wrong, for a human.")

    def __post_init__(self) -> None:
        refuse_problem(self.code)  # an answer with a problem in it is never served from the response cache


@strawberry.type(description="An argument is malformed (symbol spelling, mode, too many symbols).")
class InvalidInput(Problem):
    field: str = strawberry.field(description="The argument at fault.")


@strawberry.type(description="The symbol is not a tradable USDT perpetual.")
class SymbolNotFound(Problem):
    symbol: str = strawberry.field(description="The symbol as it was asked for.")


@strawberry.type(description="Too little data to give an honest signal (quality below 50 %, or no price).")
class InsufficientData(Problem):
    symbol: str = strawberry.field(description="The symbol, canonical spelling (BTCUSDT).")
    missing: list[str] = strawberry.field(description="Every unusable input with the reason.")
    data_quality: DataQuality | None = strawberry.field(
        description="The data quality that was too low; null when the price itself was missing."
    )


@strawberry.type(description="The upstream providers needed for this answer failed.")
class UpstreamUnavailable(Problem):
    failed_sources: list[str] = strawberry.field(
        description="Each upstream that failed, as source: error. Retrying later can succeed."
    )


def invalid_input(field: str, message: str) -> InvalidInput:
    return InvalidInput(code="INVALID_INPUT", message=message, field=field)


def symbol_not_found(symbol: str, message: str) -> SymbolNotFound:
    return SymbolNotFound(code="SYMBOL_NOT_FOUND", message=message, symbol=symbol)


@strawberry.type(description="The exchange does not serve this kind of data (see `exchanges { capabilities }`).")
class CapabilityUnsupported(Problem):
    exchange: str = strawberry.field(description="The exchange asked.")
    capability: str = strawberry.field(description="The kind of data it does not serve (a Capability name).")


@strawberry.type(description="No exchange or data vendor by that name (see `exchanges`).")
class ExchangeNotFound(Problem):
    name: str = strawberry.field(description="The exchange name as it was asked for.")


@overload
def problem(p: problems.InvalidArgument) -> InvalidInput: ...
@overload
def problem(p: problems.UnknownSymbol) -> SymbolNotFound: ...
@overload
def problem(p: problems.NotEnoughData) -> InsufficientData: ...
@overload
def problem(p: problems.UpstreamDown) -> UpstreamUnavailable: ...
@overload
def problem(p: problems.UnsupportedCapability) -> CapabilityUnsupported: ...
@overload
def problem(p: problems.UnknownExchange) -> ExchangeNotFound: ...
def problem(
    p: problems.Problem,
) -> InvalidInput | SymbolNotFound | InsufficientData | UpstreamUnavailable | CapabilityUnsupported | ExchangeNotFound:
    """The GraphQL union member for a resolver's domain problem (overloaded: a union in, the union out)."""
    match p:
        case problems.InvalidArgument():
            return invalid_input(p.field, p.message)
        case problems.UnknownSymbol():
            return symbol_not_found(p.symbol, p.message)
        case problems.NotEnoughData():
            quality = DataQuality.of(p.data_quality) if p.data_quality is not None else None
            return InsufficientData(
                code=p.code, message=p.message, symbol=p.symbol, missing=list(p.missing), data_quality=quality
            )
        case problems.UpstreamDown():
            return UpstreamUnavailable(code=p.code, message=p.message, failed_sources=list(p.failed_sources))
        case problems.UnsupportedCapability():
            return CapabilityUnsupported(code=p.code, message=p.message, exchange=p.exchange, capability=p.capability)
        case problems.UnknownExchange():
            return ExchangeNotFound(code=p.code, message=p.message, name=p.name)
    raise TypeError(f"no GraphQL type for {type(p).__name__}")  # pragma: no cover - a new Problem needs a case
