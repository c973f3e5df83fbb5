"""Wiring of the alerts area in the lifespan: the Telegram outbox, the alert service and the scanner, and
what ``/health`` and ``/metrics`` show of them.

Alert rules live in the history's database: without it (``HISTORY_ENABLED=false``, a replay without
``--record-history``, or a database that did not open) the alert fields answer ``ALERTS_UNAVAILABLE`` and
no scanner runs. Telegram is on when ``TELEGRAM_BOT_TOKEN`` and ``TELEGRAM_CHAT_IDS`` are both set.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from engine import Mode
from engine.market import Timeframe
from engine.screener import ScreenKind
from persistence.alerts import AlertRuleRepository, LeaseRepository
from providers.telegram.outbox import TelegramOutbox
from providers.telegram.raw import TelegramBotApi
from resolvers.alerts import AlertService
from resolvers.scanner import Scanner
from signal_api.cluster import ClusterLeaseStore
from signal_api.metrics import ALERT_DELIVERIES, SCANNER_LAST_FINISHED, SCANNER_ROUNDS, TELEGRAM_MESSAGES
from signal_api.security.auth import is_loopback

if TYPE_CHECKING:
    import contextlib

    from persistence.db import Database
    from signal_api.container import Container
    from signal_api.settings import Settings

log = structlog.get_logger(__name__)


@dataclass
class AlertsRuntime:
    service: AlertService
    outbox: TelegramOutbox | None = None
    scanner: Scanner | None = None

    def view(self) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """``/health``'s ``alerts`` section and its reasons (code, detail) to report ``degraded``."""
        reasons: list[tuple[str, str]] = []
        stats = self.service.stats
        telegram: dict[str, Any] | str = "disabled: set TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_IDS"
        if self.outbox is not None:
            t = self.outbox.stats
            telegram = {
                "chats": len(self.outbox.chat_ids),
                "pending": self.outbox.pending,
                "sent": t.sent,
                "failed": t.failed,
                "rateLimited": t.rate_limited,
                "dropped": t.dropped,
                "duplicates": t.duplicates,
                "failuresByReason": dict(t.failures_by_reason),
                "failing": t.failing,
                "lastError": t.last_error,
            }
            if t.failing:  # only while the latest messages fail: one sent message clears it
                reasons.append(
                    ("telegram_failing", f"{t.failing} message(s) not sent since the last one; {t.last_error}")
                )
        body: dict[str, Any] = {
            "telegram": telegram,
            "fired": stats.fired,
            "delivered": dict(stats.delivered),
            "failed": dict(stats.failed),
            "duplicates": stats.duplicates,
            "lastError": stats.last_error,
            "scanner": self.scanner.status.to_json() if self.scanner is not None else "disabled: set SCANNER_ENABLED",
        }
        return body, reasons

    def export_metrics(self) -> None:
        if self.outbox is not None:
            t = self.outbox.stats
            for state, value in (
                ("sent", t.sent),
                ("failed", t.failed),
                ("rate_limited", t.rate_limited),
                ("dropped", t.dropped),
                ("duplicates", t.duplicates),
                ("pending", self.outbox.pending),
            ):
                TELEGRAM_MESSAGES.labels(state).set(value)
        for outcome, counts in (("delivered", self.service.stats.delivered), ("failed", self.service.stats.failed)):
            for channel, value in counts.items():
                ALERT_DELIVERIES.labels(channel, outcome).set(value)
        if self.scanner is not None:
            status = self.scanner.status
            SCANNER_ROUNDS.labels("run").set(status.rounds)
            SCANNER_ROUNDS.labels("skipped").set(status.skipped_rounds)
            if status.last_finished_at is not None:
                SCANNER_LAST_FINISHED.set(status.last_finished_at.timestamp())

    async def aclose(self) -> None:
        if self.scanner is not None:
            await self.scanner.aclose()
        if self.outbox is not None:
            await self.outbox.aclose()


async def open_alerts(
    stack: contextlib.AsyncExitStack,
    container: Container,
    settings: Settings,
    database: Database | None,
    *,
    replayed: bool,
) -> AlertsRuntime:
    """Build and start the outbox and (with ``SCANNER_ENABLED``) the scanner; attach the service to the
    container's services. ``settings`` are the effective ones (replay points Telegram at the cassette)."""
    outbox: TelegramOutbox | None = None
    token = settings.telegram_bot_token
    if token is not None and settings.telegram_chat_ids:
        api = TelegramBotApi(
            container.http,
            settings.telegram_base_url,
            token.get_secret_value(),
            timeout_seconds=settings.upstream_timeout_seconds,
        )
        outbox = TelegramOutbox(api, settings.telegram_chat_ids, queue_size=settings.telegram_outbox_size)
        await outbox.start()
    rules = AlertRuleRepository(database) if database is not None else None
    service = AlertService(
        rules,
        telegram=outbox,
        http=container.http,
        replayed=replayed,
        allow_internal_webhooks=settings.alert_webhooks_allow_internal,
        broker=container.cluster.broker if container.cluster is not None else None,
        anonymous_rules=is_loopback(settings.host),
    )
    container.services = dataclasses.replace(container.services, alerts=service)
    runtime = AlertsRuntime(service, outbox)
    stack.push_async_callback(runtime.aclose)
    if settings.scanner_enabled:
        if database is None:
            log.warning("scanner not started: alert rules and leases need the history database")
        else:
            runtime.scanner = Scanner(
                lambda: container.services,
                service,
                # REDIS_URL: the lease on Redis, taken over within seconds of its holder dying
                ClusterLeaseStore(container.cluster.leases)
                if container.cluster is not None
                else LeaseRepository(database),
                symbols=settings.scanner_symbols,
                modes=[Mode.parse(m) for m in settings.scanner_modes],
                timeframe=Timeframe(settings.scanner_timeframe.lower()),
                interval_seconds=settings.scanner_interval_seconds,
                screener=(
                    (ScreenKind(settings.scanner_screener), settings.scanner_screener_limit)
                    if settings.scanner_screener is not None
                    else None
                ),
            )
            await runtime.scanner.start()
    container.alerts = runtime
    return runtime
