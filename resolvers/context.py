"""What every resolver receives: the shared services and this request's own DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from resolvers.discovery import Discovery
from resolvers.loaders import Loaders
from resolvers.order_flow import OrderFlowConfig
from resolvers.spike_monitor import SpikeMonitor

if TYPE_CHECKING:
    from datetime import datetime

    from engine import Signal
    from engine.judge import Judgement
    from resolvers.ai_judge import AiJudge
    from resolvers.alerts import AlertService
    from resolvers.backtest import BacktestService
    from resolvers.gateway import MarketGateway
    from resolvers.history import HistoryService
    from resolvers.model import ModelState
    from resolvers.streams import StreamServices
    from resolvers.trade_window import TradeWindow


class SignalRecorder(Protocol):
    """Where computed signals go to be stored (LONG/SHORT only).

    ``persist`` returns once the signal is durable (committed, or fsync'd to a local spool), so a
    LONG/SHORT is never answered before it would survive a crash; implementations batch concurrent
    calls (group commit) to stay fast under load, bound the wait, and never raise because of storage:
    a signal they could not make durable is counted and reported, and the answer still goes out.
    ``judgement`` is the signal's plan and verdicts (resolvers.judge), stored with it."""

    async def persist(self, signal: Signal, judgement: Judgement | None = None) -> object: ...


@dataclass(frozen=True, slots=True)
class Services:
    """Process-wide services built by the composition root (``signal_api.container``); the ones that open
    asynchronously in the lifespan (history, streams) are attached there with ``Container.attach_*``.
    ``None`` means the area is off in this process and its fields answer a typed problem."""

    gateway: MarketGateway
    max_symbols_per_request: int = 50
    recorder: SignalRecorder | None = None
    backtest: BacktestService | None = None
    history: HistoryService | None = None  # signalHistory, signalPerformance, symbolInsights
    streams: StreamServices | None = None  # the subscriptions' broker and hub
    model: ModelState | None = None  # the CALIBRATED artifact loaded at start-up (or why not); None: not configured
    discovery: Discovery = field(default_factory=Discovery)  # MSS, hype, watchlist, market summary
    spikes: SpikeMonitor = field(default_factory=SpikeMonitor)  # the universe's OI/volume rings (spikes)
    alerts: AlertService | None = None  # alert rules and their delivery (needs the history database)
    order_flow: OrderFlowConfig = field(default_factory=OrderFlowConfig)  # orderBook, flow, scalping settings
    trades: TradeWindow | None = None  # flow's trade window, fed by the stream hub (None: streams off)
    ai_judge: AiJudge | None = None  # OPENAI_API_KEY set: Signal.verdict asks the AI (budgeted), else rules


@dataclass(frozen=True, slots=True)
class RateLimitStatus:
    """This request's cost and, when a budget applies, what is left of it (the ``rateLimit`` field)."""

    cost: int
    limit: int | None = None
    remaining: int | None = None
    reset_at: datetime | None = None


@dataclass(slots=True)
class RequestContext:
    """One request's (or one WebSocket connection's) context; every field is typed."""

    services: Services
    loaders: Loaders
    request: Any = None
    response: Any = None
    rate_limit: RateLimitStatus | None = None  # set by schema.ratelimit.CostBudget before execution
    active_subscriptions: int = 0  # this connection's running subscriptions (a WebSocket's context lives as long)
    connection_params: dict[str, Any] | None = None  # a WebSocket's connection_init payload (its API key)

    @classmethod
    def create(cls, services: Services, request: Any = None, response: Any = None) -> RequestContext:
        """Call inside the running loop: the loaders bind to it."""
        return cls(
            services=services,
            loaders=Loaders(services.gateway.registry),
            request=request,
            response=response,
        )
