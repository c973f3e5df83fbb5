"""Expected failures are data: union members with a stable ``code`` and a human ``message``.

Codes: ``INVALID_INPUT``, ``SYMBOL_NOT_FOUND``, ``INSUFFICIENT_DATA``, ``UPSTREAM_UNAVAILABLE``.
Unexpected exceptions never reach clients: they are masked as ``INTERNAL_SERVER_ERROR``.
"""

from __future__ import annotations

import strawberry

from schema.types import DataQuality


@strawberry.interface(description="An expected failure, returned as data.")
class Problem:
    code: str = strawberry.field(description="Stable, machine-readable error code.")
    message: str = strawberry.field(description="What went wrong, for a human.")


@strawberry.type(description="An argument is malformed (symbol spelling, mode, too many symbols).")
class InvalidInput(Problem):
    field: str = strawberry.field(description="The argument at fault.")


@strawberry.type(description="The symbol is not a tradable USDT perpetual.")
class SymbolNotFound(Problem):
    symbol: str


@strawberry.type(description="Too little data to give an honest signal (quality below 50 %, or no price).")
class InsufficientData(Problem):
    symbol: str
    missing: list[str]
    data_quality: DataQuality | None


@strawberry.type(description="The upstream providers needed for this answer failed.")
class UpstreamUnavailable(Problem):
    failed_sources: list[str]


def invalid_input(field: str, message: str) -> InvalidInput:
    return InvalidInput(code="INVALID_INPUT", message=message, field=field)


def symbol_not_found(symbol: str, message: str) -> SymbolNotFound:
    return SymbolNotFound(code="SYMBOL_NOT_FOUND", message=message, symbol=symbol)


@strawberry.type(description="The exchange does not serve this kind of data (see `exchanges { capabilities }`).")
class CapabilityUnsupported(Problem):
    exchange: str
    capability: str


@strawberry.type(description="No exchange or data vendor by that name (see `exchanges`).")
class ExchangeNotFound(Problem):
    name: str
