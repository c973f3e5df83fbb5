"""Health that tells the truth: ``/health/live``, ``/health/ready``, ``/health`` and the operator metrics.

- ``GET /health/live``: the process and its event loop answer. Always 200 while they do; no I/O.
- ``GET /health/ready``: may this replica take traffic? 200 when a price source is reachable and, with
  the history enabled, the database takes writes and the spool is under its cap; otherwise 503 with the
  reasons. A price source is *reachable* when its circuit breaker is not open and it answered a call in
  the last ``HEALTH_UPSTREAM_FRESH_SECONDS`` (seen on the upstream call counters: no call is made per
  probe). With no such evidence (start-up, an idle replica) readiness runs one shared probe (Binance's
  ticker list through the normal provider path: cache, breaker), waiting at most
  ``HEALTH_PROBE_TIMEOUT_SECONDS``; concurrent probes share it, and an idle replica re-probes in the
  background once its evidence is half as old as the window, so it does not flap.
- ``GET /health``: ``status`` is ``ok``, ``degraded`` (with ``reasons``: breakers open, price sources
  unverified, database down, spool non-empty, spool over cap, rows not durable, streams silent) or
  ``down`` (no price source: every price source's breaker is open). HTTP 200 for ok and degraded (the
  replica still answers signals), 503 for down, so the Docker HEALTHCHECK and a load balancer act on
  the status code alone. ``storage`` details the database (up, pool use, restarts), the recorder
  (committed, spooled, not durable) and the spool (records, bytes, cap); the older detail fields
  (providers, breakers, cache, streams, replay, history) stay.

Everything here reads state the services keep anyway (breaker states, counters, the database
supervisor's last probe, the spool's in-memory sizes): a health request never touches the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from starlette.responses import JSONResponse, Response

from providers.errors import UpstreamError
from providers.http import UPSTREAM_REQUESTS
from providers.resilience import BreakerState
from providers.symbols import parse_symbol
from providers.venue import Capability
from signal_api.metrics import (
    BROKER_DROPS,
    DB_POOL_SIZE,
    EMBEDDED_DB_RESTARTS,
    HISTORY_ROWS_NOT_DURABLE,
    SPOOL_BYTES,
    SPOOL_DEPTH,
    SPOOL_OVER_CAP,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request

    from persistence.runtime import HistoryRuntime
    from signal_api.container import Container
    from signal_api.settings import Settings

log = structlog.get_logger(__name__)

NOT_DURABLE_RECENT_SECONDS = 600.0  # "rows not durable" stays a degraded reason this long after the last one
PROBE_SYMBOL = "BTCUSDT"


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    detail: str


@dataclass(slots=True)
class HealthMonitor:
    """What the health routes read, built once in the lifespan; all of it cheap and local."""

    container: Container
    history_enabled: bool
    history: HistoryRuntime | None = None
    fresh_seconds: float = 120.0
    probe_timeout_seconds: float = 2.0
    stream_silence_seconds: float = 60.0
    replay: str | None = None
    clock: Callable[[], float] = time.monotonic
    _ok_totals: dict[str, float] = field(default_factory=dict)
    _last_ok: dict[str, float] = field(default_factory=dict)
    _probe: asyncio.Task[None] | None = None
    _not_durable_total: int = 0
    _not_durable_at: float | None = None
    _exported_not_durable: dict[str, int] = field(default_factory=dict)

    # -- price sources ----------------------------------------------------------------------------------

    def price_sources(self) -> list[str]:
        """Every enabled provider that serves a ticker (Binance first); the signal's price comes from one."""
        registry = self.container.registry
        names = [name for name, venue in registry.providers.items() if venue.supports(Capability.TICKER)]
        return sorted(names, key=lambda n: (n != "binance", n))

    def __post_init__(self) -> None:
        self._ok_totals = _ok_totals()  # the counter is per process: only calls from now on are evidence

    def _observe_calls(self) -> None:
        """Note which providers answered since the last look, from the upstream call counter."""
        totals = _ok_totals()
        now = self.clock()
        for provider, total in totals.items():
            if total > self._ok_totals.get(provider, 0.0):
                self._last_ok[provider] = now
        self._ok_totals = totals

    def _breaker_open(self, provider: str) -> bool:
        breaker = self.container.breakers.get(provider)
        return breaker is not None and breaker.state is BreakerState.OPEN

    def price_view(self) -> dict[str, Any]:
        """Each price source: breaker state, seconds since it last answered, and up (True/False/None)."""
        self._observe_calls()
        now = self.clock()
        sources: dict[str, Any] = {}
        for name in self.price_sources():
            breaker = self.container.breakers.get(name)
            last = self._last_ok.get(name)
            age = now - last if last is not None else None
            up: bool | None
            if self._breaker_open(name):
                up = False
            elif age is not None and age <= self.fresh_seconds:
                up = True
            else:
                up = None
            sources[name] = {
                "breaker": breaker.state.value if breaker is not None else None,
                "last_ok_seconds_ago": round(age, 1) if age is not None else None,
                "up": up,
            }
        ups = [s["up"] for s in sources.values()]
        state = "up" if True in ups else "down" if all(u is False for u in ups) else "unverified"
        return {"state": state, "sources": sources}

    def _freshest_age(self) -> float | None:
        ages = [self.clock() - self._last_ok[n] for n in self.price_sources() if n in self._last_ok]
        return min(ages) if ages else None

    def _start_probe(self) -> asyncio.Task[None]:
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._run_probe(), name="health-price-probe")
        return self._probe

    async def _run_probe(self) -> None:
        """One call per price source, in order, until one answers (a cached answer counts: it is at
        most one price TTL old)."""
        registry = self.container.registry
        instrument = parse_symbol(PROBE_SYMBOL)
        for name in self.price_sources():
            if self._breaker_open(name):
                continue
            venue = registry.providers[name]

            async def call(venue: Any = venue) -> object:  # what a signal for the probe symbol asks
                return await venue.ticker(instrument)

            try:
                async with asyncio.timeout(max(self.probe_timeout_seconds * 4, 5.0)):
                    await call()
            except (UpstreamError, TimeoutError) as exc:
                log.info("health probe: price source did not answer", provider=name, error=repr(exc))
                continue
            except Exception:  # a probe must never die unseen
                log.exception("health probe failed", provider=name)
                continue
            self._last_ok[name] = self.clock()
            return

    async def aclose(self) -> None:
        """Stop a probe still running (the lifespan closes the HTTP client after this)."""
        if self._probe is not None and not self._probe.done():
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe

    async def price_state(self, *, wait: bool) -> dict[str, Any]:
        """The price view; when unverified and ``wait``, after the shared probe (bounded)."""
        view = self.price_view()
        age = self._freshest_age()
        if view["state"] == "unverified":
            probe = self._start_probe()  # /health alone (Docker's check) must also get evidence again
            if wait:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(probe), self.probe_timeout_seconds)
                view = self.price_view()
        elif view["state"] == "up" and age is not None and age > self.fresh_seconds / 2:
            self._start_probe()  # keep an idle replica's evidence fresh, in the background
        return view

    # -- history ------------------------------------------------------------------------------------------

    def history_view(self) -> tuple[dict[str, Any], list[Reason]]:
        """The database, the spool and the durability counters, with their degraded reasons."""
        if not self.history_enabled:
            return {"enabled": False}, []
        reasons: list[Reason] = []
        runtime = self.history
        if runtime is None:
            return {"enabled": True, "database": {"up": False, "last_error": None}}, [
                Reason("database_down", "the signal history did not start")
            ]
        view: dict[str, Any] = {"enabled": True}
        database_up = True
        if not runtime.available:
            error = runtime.open_error
            view["database"] = {"up": False, "last_error": error}
            reasons.append(Reason("database_down", f"the database could not be opened at start-up: {error}"))
            database_up = True  # said once, above
        if runtime.supervisor is not None:
            db = runtime.supervisor.health()
            view["database"] = dataclasses.asdict(db)
            database_up = db.up
        recorder = runtime.recorder if runtime.recorder is not None else runtime.fallback
        if recorder is not None:
            stats = recorder.stats()
            view["recorder"] = dataclasses.asdict(stats)
            database_up = database_up and (not stats.spooling or not runtime.available)
            total = sum(stats.not_durable.values())
            if total > self._not_durable_total:
                self._not_durable_total, self._not_durable_at = total, self.clock()
            if self._not_durable_at is not None and self.clock() - self._not_durable_at < NOT_DURABLE_RECENT_SECONDS:
                reasons.append(
                    Reason("rows_not_durable", f"{total} signal row(s) neither committed nor spooled since start")
                )
        if not database_up:
            error = view.get("database", {}).get("last_error")
            reasons.append(Reason("database_down", f"signal rows go to the spool: {error}"))
        if runtime.spool is not None:
            spool = runtime.spool.stats()
            view["spool"] = dataclasses.asdict(spool)
            if spool.records:
                reasons.append(Reason("spool_non_empty", f"{spool.records} row(s) wait for replay"))
            if spool.over_cap:
                reasons.append(
                    Reason(
                        "spool_over_cap",
                        f"spool at {spool.bytes} of {spool.max_bytes} bytes; "
                        f"{spool.refused_rows} row(s) refused since start",
                    )
                )
        return view, reasons

    # -- streams ------------------------------------------------------------------------------------------

    def stream_view(self) -> tuple[dict[str, Any] | None, list[Reason]]:
        streams = self.container.services.streams
        if streams is None:
            return None, []
        broker = dataclasses.asdict(streams.broker.stats())
        hub_stats = getattr(streams.hub, "stats", None)
        upstream = {key.topic: dataclasses.asdict(s) for key, s in hub_stats().items()} if hub_stats else {}
        silent = [
            topic
            for topic, s in upstream.items()
            if s["state"] == "backoff"
            or (
                s["last_message_age_seconds"] is not None
                and s["last_message_age_seconds"] > self.stream_silence_seconds
            )
        ]
        reasons = [Reason("streams_silent", ", ".join(sorted(silent)))] if silent else []
        return {"broker": broker, "upstream": upstream}, reasons

    # -- the answers ----------------------------------------------------------------------------------------

    async def full(self) -> tuple[int, dict[str, Any]]:
        price = await self.price_state(wait=False)
        history, reasons = self.history_view()
        streams, stream_reasons = self.stream_view()
        open_breakers = sorted(name for name, b in self.container.breakers.items() if b.state is BreakerState.OPEN)
        if open_breakers:
            reasons.insert(0, Reason("breakers_open", ", ".join(open_breakers)))
        if price["state"] == "unverified":
            reasons.append(Reason("price_sources_unverified", "no price source answered recently"))
        reasons.extend(stream_reasons)
        alerts = self.container.alerts.view() if self.container.alerts is not None else None
        if alerts is not None:
            reasons.extend(Reason(code, detail) for code, detail in alerts[1])
        cluster = self.container.cluster
        if cluster is not None and not cluster.broker.connected:
            reasons.append(Reason("redis_unavailable", "caches unshared, budgets unenforced, streams and jobs paused"))
        if price["state"] == "down":
            status = "down"
            reasons.insert(0, Reason("no_price_source", "every price source's circuit breaker is open"))
        else:
            status = "degraded" if reasons else "ok"
        stats = self.container.cache.stats()
        body = {
            "status": status,
            "reasons": [dataclasses.asdict(r) for r in reasons],
            "price_sources": price,
            "storage": history,
            "streams": streams,
            "alerts": alerts[0] if alerts is not None else None,  # Telegram, deliveries, the scanner
            # REDIS_URL: this replica, its leases, the streams it ingests, its jobs' rounds (signal_api.cluster)
            "cluster": self.container.cluster.view() if self.container.cluster is not None else None,
            "providers": self.container.provider_status,
            "circuit_breakers": {name: b.state.value for name, b in self.container.breakers.items()},
            "replay": self.replay,
            "history": "enabled" if self.container.services.history is not None else "disabled",
            "cache": {
                "hits": stats.hits,
                "misses": stats.misses,
                "coalesced": stats.coalesced,
                "evictions": stats.evictions,
                "entries": stats.entries,
            },
        }
        return (503 if status == "down" else 200), body

    async def ready(self) -> tuple[int, dict[str, Any]]:
        price = await self.price_state(wait=True)
        history, history_reasons = self.history_view()
        reasons: list[Reason] = []
        if price["state"] != "up":
            reasons.append(Reason("no_price_source", f"price sources {price['state']}"))
        blocking = {"database_down", "spool_over_cap"}
        reasons.extend(r for r in history_reasons if r.code in blocking)
        body = {
            "ready": not reasons,
            "reasons": [dataclasses.asdict(r) for r in reasons],
            "price_sources": price,
            "storage": history,
        }
        return (200 if not reasons else 503), body

    # -- metrics ------------------------------------------------------------------------------------------------

    def export_metrics(self) -> None:
        """Set the gauges this area owns from the live state (called when /metrics is scraped)."""
        streams, _ = self.stream_view()
        if streams is not None:
            BROKER_DROPS.set(streams["broker"]["dropped"])
        if self.container.alerts is not None:
            self.container.alerts.export_metrics()
        runtime = self.history
        if runtime is None:
            return
        if runtime.spool is not None:
            spool = runtime.spool.stats()
            SPOOL_DEPTH.set(spool.records)
            SPOOL_BYTES.set(spool.bytes)
            SPOOL_OVER_CAP.set(1 if spool.over_cap else 0)
        if runtime.supervisor is not None:
            pool = runtime.supervisor.health().pool
            if pool is not None:
                DB_POOL_SIZE.labels("in_use").set(pool.in_use)
                DB_POOL_SIZE.labels("idle").set(pool.idle)
                DB_POOL_SIZE.labels("max").set(pool.max)
        recorder = runtime.recorder if runtime.recorder is not None else runtime.fallback
        if recorder is not None:
            for reason, total in recorder.stats().not_durable.items():
                delta = total - self._exported_not_durable.get(reason, 0)
                if delta > 0:
                    HISTORY_ROWS_NOT_DURABLE.labels(reason).inc(delta)
                    self._exported_not_durable[reason] = total


def _ok_totals() -> dict[str, float]:
    """Successful upstream calls so far, by provider."""
    totals: dict[str, float] = {}
    for metric in UPSTREAM_REQUESTS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels.get("outcome") == "ok":
                provider = sample.labels["provider"]
                totals[provider] = totals.get(provider, 0.0) + sample.value
    return totals


def build_health_monitor(container: Container, settings: Settings, *, replay: str | None) -> HealthMonitor:
    """The lifespan's monitor; the history runtime (when opened) is attached to the container."""
    history = container.history
    return HealthMonitor(
        container,
        history_enabled=history is not None,
        history=history,
        fresh_seconds=settings.health_upstream_fresh_seconds,
        probe_timeout_seconds=settings.health_probe_timeout_seconds,
        stream_silence_seconds=settings.stream_silence_seconds,
        replay=replay,
    )


def count_embedded_restart() -> None:
    """The supervisor's hook (persistence exports no metrics itself)."""
    EMBEDDED_DB_RESTARTS.inc()


def _monitor(request: Request) -> HealthMonitor:
    monitor: HealthMonitor = request.app.state.health
    return monitor


async def live(request: Request) -> Response:
    return JSONResponse({"status": "alive"})


async def ready(request: Request) -> Response:
    status, body = await _monitor(request).ready()
    return JSONResponse(body, status_code=status)


async def health(request: Request) -> Response:
    status, body = await _monitor(request).full()
    return JSONResponse(body, status_code=status)
