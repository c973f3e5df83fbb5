"""What every resolver receives: the shared services and this request's own DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from resolvers.loaders import Loaders

if TYPE_CHECKING:
    from engine import Signal
    from resolvers.gateway import MarketGateway


class SignalRecorder(Protocol):
    """Where computed signals go to be stored (LONG/SHORT only). ``record`` must return at once and
    never raise: storage must not slow or fail a GraphQL request."""

    def record(self, signal: Signal) -> None: ...


@dataclass(frozen=True, slots=True)
class Services:
    """Process-wide services built once by the composition root."""

    gateway: MarketGateway
    max_symbols_per_request: int = 50
    recorder: SignalRecorder | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # area services (history, backtest) by name


@dataclass(slots=True)
class RequestContext:
    services: Services
    loaders: Loaders
    request: Any = None
    response: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, services: Services, request: Any = None, response: Any = None) -> RequestContext:
        """Call inside the running loop: the loaders bind to it."""
        return cls(
            services=services,
            loaders=Loaders(services.gateway.providers.binance),
            request=request,
            response=response,
        )
