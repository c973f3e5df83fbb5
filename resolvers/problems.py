"""Expected failures as domain values: what the resolvers return (or raise, inside one area) instead of
a result. They know nothing of GraphQL; ``schema.errors.problem`` turns each into its union member.

    Problem                    code                      GraphQL member
    ├── InvalidArgument        INVALID_INPUT             InvalidInput
    ├── UnknownSymbol          SYMBOL_NOT_FOUND          SymbolNotFound
    ├── NotEnoughData          NO_PRICE / INSUFFICIENT_DATA  InsufficientData
    ├── UpstreamDown           UPSTREAM_UNAVAILABLE      UpstreamUnavailable
    ├── UnsupportedCapability  CAPABILITY_NOT_SUPPORTED  CapabilityUnsupported
    └── UnknownExchange        EXCHANGE_NOT_FOUND        ExchangeNotFound

They are exceptions so that a helper deep in a resolver can raise one and the resolver's caller can
catch it; the resolvers' return types name the ones a field can get.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine import DataQuality


class Problem(Exception):
    """An expected failure with a stable ``code`` and a human ``message``."""

    code: str = "PROBLEM"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(Problem, ValueError):
    """An argument is malformed; ``field`` names it as the client spelled it (``from``, ``horizonsHours``)."""

    code = "INVALID_INPUT"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class UnknownSymbol(Problem):
    code = "SYMBOL_NOT_FOUND"

    def __init__(self, symbol: str, message: str) -> None:
        super().__init__(message)
        self.symbol = symbol


class NotEnoughData(Problem):
    """The engine refused: too little usable data for an honest signal (``code`` is the engine's)."""

    def __init__(
        self, code: str, message: str, symbol: str, missing: tuple[str, ...], data_quality: DataQuality | None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.symbol = symbol
        self.missing = missing
        self.data_quality = data_quality


class UpstreamDown(Problem):
    code = "UPSTREAM_UNAVAILABLE"

    def __init__(self, message: str, failed_sources: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.failed_sources = failed_sources


class UnsupportedCapability(Problem):
    code = "CAPABILITY_NOT_SUPPORTED"

    def __init__(self, exchange: str, capability: str, message: str) -> None:
        super().__init__(message)
        self.exchange = exchange
        self.capability = capability


class UnknownExchange(Problem):
    code = "EXCHANGE_NOT_FOUND"

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
