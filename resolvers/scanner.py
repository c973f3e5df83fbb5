"""The scanner: every ``interval`` it computes the signals of a symbol list in each mode (through the same
path as a ``signal`` query, so each LONG/SHORT is recorded by the history recorder), judges them (plan and
verdict, :mod:`resolvers.judge`), and fires the alert rules (:class:`resolvers.alerts.AlertService`).

Only one replica scans: each round first takes (or renews) the ``scanner`` lease in PostgreSQL for a
little longer than the interval; a replica that cannot take it skips the round and says so in its status.
A round that fails for one symbol carries on with the next; progress, the last round and its errors are
in :meth:`Scanner.status` (``/health``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from engine import Mode, Recommendation, Signal
from engine.plan import size_multiplier
from engine.spikes import Horizon
from persistence.background import BackgroundLoop
from persistence.db import DATABASE_ERRORS
from resolvers.alerts import Judged
from resolvers.context import RequestContext
from resolvers.judge import assess, judge_assessed
from resolvers.mss import resolve_mss
from resolvers.signals import resolve_signal
from resolvers.universe import ScreenerResult, resolve_screener

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from engine.market import Timeframe
    from engine.screener import ScreenKind
    from resolvers.alerts import AlertService
    from resolvers.context import Services

log = structlog.get_logger(__name__)

LEASE_NAME = "scanner"


class LeaseStore(Protocol):
    """Where the lease lives: PostgreSQL (persistence.alerts.LeaseRepository) or, with REDIS_URL, Redis
    (signal_api.cluster.ClusterLeaseStore: held while the replica lives, taken over within seconds)."""

    async def acquire(self, name: str, holder: str, ttl_seconds: float) -> bool: ...


SCREENER_MIN_QUOTE_VOLUME_USD = 10_000_000.0  # the rules judge's own liquidity floor


def strongest_spike_z(ctx: RequestContext) -> dict[str, float]:
    """Each symbol's strongest current z-score (volume or open interest, any horizon and venue) from the
    process's spike history (sampled by the spike monitor); a symbol without readings is absent."""
    strongest: dict[str, float] = {}
    for spike in ctx.services.spikes.history.spikes({h: 0.0 for h in Horizon}):  # strongest first
        strongest.setdefault(spike.symbol, spike.score.z)
    return strongest


def _price(value: float) -> str:
    return f"{value:,.8g}"


async def judge_for_alerts(ctx: RequestContext, signal: Signal) -> Judged:
    """The plan and verdict the rules and messages read (:mod:`resolvers.judge`): the AI when configured
    (budgeted, cached per signal state), else the rules; nothing for a NEUTRAL."""
    assessed = await assess(ctx, signal)
    if assessed is None:
        return Judged()
    verdict = await judge_assessed(ctx, assessed)
    plan = assessed.plan
    items: tuple[tuple[str, str], ...] = ()
    if plan is not None:
        # the stored plan is sized by the rules' risk mode; the message sizes by the verdict that decided
        # (an AI DOWNSIZE over a rules SKIP is a smaller position, not a zero one)
        size = size_multiplier(plan.atr_pct, verdict.risk_mode)
        items = (
            ("Entry", _price(plan.entry)),
            ("Stop", _price(plan.stop)),
            ("TP", _price(plan.take_profit)),
            ("ATR", f"{plan.atr_pct:.2f}%"),
            ("Size", f"{size:.2f}x"),
        )
    return Judged(
        verdict=verdict.verdict.value,
        plan=items,
        risk_mode=verdict.risk_mode.value,
        decided_by=verdict.decided_by.value,
        fallback_reason=verdict.fallback_reason,
    )


@dataclass(slots=True)
class ScannerStatus:
    """What ``/health`` shows of the scanner."""

    holder: str
    interval_seconds: float
    symbols: tuple[str, ...]
    modes: tuple[str, ...]
    leader: bool = False  # this replica held the lease in its last round
    running: bool = False
    rounds: int = 0
    skipped_rounds: int = 0  # another replica held the lease
    progress: str = "0/0"  # symbols x modes done in the current (or last) round
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_duration_seconds: float | None = None
    last_signals: int = 0
    last_actionable: int = 0
    last_alerts: int = 0
    last_errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "holder": self.holder,
            "intervalSeconds": self.interval_seconds,
            "symbols": list(self.symbols),
            "modes": list(self.modes),
            "leader": self.leader,
            "running": self.running,
            "rounds": self.rounds,
            "skippedRounds": self.skipped_rounds,
            "progress": self.progress,
            "lastStartedAt": self.last_started_at.isoformat() if self.last_started_at else None,
            "lastFinishedAt": self.last_finished_at.isoformat() if self.last_finished_at else None,
            "lastDurationSeconds": self.last_duration_seconds,
            "lastSignals": self.last_signals,
            "lastActionable": self.last_actionable,
            "lastAlerts": self.last_alerts,
            "lastErrors": self.last_errors[:10],
        }


class Scanner(BackgroundLoop):
    task_name = "alert-scanner"

    def __init__(
        self,
        services: Callable[[], Services],
        alerts: AlertService,
        leases: LeaseStore,
        *,
        symbols: Sequence[str],
        modes: Sequence[Mode],
        timeframe: Timeframe,
        interval_seconds: float,
        screener: tuple[ScreenKind, int] | None = None,
        judge: Callable[[RequestContext, Signal], Awaitable[Judged]] = judge_for_alerts,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._services = services
        self._alerts = alerts
        self._leases = leases
        self._symbols = tuple(symbols)
        self._modes = tuple(modes)
        self._timeframe = timeframe
        self._interval = interval_seconds
        self._screener = screener
        self._judge = judge
        self._clock = clock
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.status = ScannerStatus(holder, interval_seconds, self._symbols, tuple(m.value for m in self._modes))

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.run_once()
            except Exception as exc:  # e.g. the rules' database down while reading them: retry next round
                log.exception("scanner: round failed")
                self.status.last_errors = [f"round: {type(exc).__name__}"]
            await asyncio.sleep(max(0.0, self._interval - (time.monotonic() - started)))

    async def run_once(self) -> bool:
        """One round if this replica holds the lease; False when another one does (or the database is down)."""
        status = self.status
        try:
            leader = await self._leases.acquire(LEASE_NAME, status.holder, self._interval * 2 + 30)
        except DATABASE_ERRORS as exc:
            status.last_errors = [f"lease: {exc!r}"]
            status.skipped_rounds += 1
            return False
        status.leader = leader
        if not leader:
            status.skipped_rounds += 1
            return False
        status.running = True
        status.last_started_at = self._clock()
        started = time.monotonic()
        errors: list[str] = []
        signals = actionable = alerts = 0
        try:
            symbols, extras = await self._round_inputs(errors)
            jobs = [(s, m) for m in self._modes for s in symbols]
            status.progress = f"0/{len(jobs)}"
            for done, (symbol, mode) in enumerate(jobs, start=1):
                try:
                    fired = await self._scan(symbol, mode, extras, errors)
                except Exception as exc:  # one symbol's failure never stops the round
                    log.exception("scanner: symbol failed", symbol=symbol, mode=mode.value)
                    errors.append(f"{symbol} {mode.value}: {exc.__class__.__name__}")
                else:
                    if fired is not None:
                        signals += 1
                        actionable += fired[0]
                        alerts += fired[1]
                    else:
                        errors.append(f"{symbol} {mode.value}: no signal")
                status.progress = f"{done}/{len(jobs)}"
        finally:
            status.running = False
            status.rounds += 1
            status.last_finished_at = self._clock()
            status.last_duration_seconds = round(time.monotonic() - started, 3)
            status.last_signals, status.last_actionable, status.last_alerts = signals, actionable, alerts
            status.last_errors = errors
        return True

    async def _round_inputs(self, errors: list[str]) -> tuple[tuple[str, ...], _Extras]:
        """This round's symbols (the screener's top, else the configured list) and the optional facts the
        active rules read."""
        ctx = RequestContext.create(self._services())  # read each time: the lifespan attaches services late
        symbols = self._symbols
        if self._screener is not None:
            kind, limit = self._screener
            screened = await resolve_screener(ctx, kind, limit, SCREENER_MIN_QUOTE_VOLUME_USD, None)
            if isinstance(screened, ScreenerResult) and screened.outcome.rows:
                symbols = tuple(row.symbol for row in screened.outcome.rows)
            else:
                why = screened.message if not isinstance(screened, ScreenerResult) else "no symbol passed"
                errors.append(f"screener {kind.value}: {why}; scanned SCANNER_SYMBOLS instead")
        needs = await self._alerts.needs()
        spike_z = strongest_spike_z(ctx) if "spike_z" in needs else {}
        return symbols, _Extras(mss="mss_tier" in needs, spike_z=spike_z)

    async def _scan(self, symbol: str, mode: Mode, extras: _Extras, errors: list[str]) -> tuple[int, int] | None:
        """(1 if LONG/SHORT, alerts fired), or None when no signal could be computed (a problem)."""
        ctx = RequestContext.create(self._services())
        outcome = await resolve_signal(ctx, symbol, mode, self._timeframe)  # records LONG/SHORT durably
        if not isinstance(outcome, Signal):
            return None
        if outcome.recommendation is Recommendation.NEUTRAL:
            return 0, 0
        judged = await self._judge(ctx, outcome)
        tier: str | None = None
        if extras.mss:
            report = await resolve_mss(ctx, outcome.symbol, record=False)
            if isinstance(report, tuple) and report[0].tier is not None:
                tier = report[0].tier.value
            elif isinstance(report, tuple):
                errors.append(f"{outcome.symbol}: MSS tier not certain ({', '.join(report[0].missing[:3])})")
        judged = dataclasses.replace(judged, mss_tier=tier, spike_z=extras.spike_z.get(outcome.symbol))
        fired = await self._alerts.fire(outcome, judged)
        return 1, len(fired)


@dataclass(frozen=True, slots=True)
class _Extras:
    mss: bool  # an active rule reads the MSS tier: compute it for each LONG/SHORT
    spike_z: dict[str, float]  # symbol → strongest current z-score, when a rule reads it
