"""Alert rules as a service: create, list, pause, resume and delete them for their owner, and fire them on
judged signals into their channels (Telegram outbox, signed webhook, the ``alerts`` subscription).

Ownership: the caller is read from the request's principal (an API key id, or none for an anonymous
caller); a caller with the admin scope sees and manages every rule, any other caller only its own. The
check runs in SQL (:mod:`persistence.alerts`), so a rule id of someone else answers ``ALERT_RULE_NOT_FOUND``
exactly like an unknown id.

Firing (:meth:`AlertService.fire`, called by the scanner): each active rule is matched
(:func:`engine.alert_rules.match_rule`); a match is claimed once per channel in the database
(``alert_deliveries``), so the same alert is never delivered twice, across restarts and replicas. Telegram
is queued on the outbox (never waits); a webhook is posted with a bounded timeout, at most
``MAX_CONCURRENT_WEBHOOKS`` at once; the subscription gets it through the stream broker (in-process, or
with ``REDIS_URL`` the cluster's: every replica's subscribers, whichever replica fired it).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import structlog

from engine.alert_rules import AlertCondition, AlertEvent, AlertFacts, ExpressionRefused, compile_expression
from engine.alert_rules import match_rule as match_condition
from persistence.alerts import NewRule, StoredRule, TooManyRules
from persistence.db import DATABASE_ERRORS
from providers.telegram.message import format_alert
from providers.webhook import internal_destination, internal_literal, post_webhook
from resolvers.broker import InProcessBroker
from resolvers.problems import Problem

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence

    import httpx2

    from engine import Signal
    from persistence.alerts import AlertRuleRepository
    from providers.telegram.outbox import TelegramOutbox
    from resolvers.broker import Broker

log = structlog.get_logger(__name__)

__all__ = ["AlertRuleProblem", "AlertService", "Caller", "Judged", "RuleSpec", "StoredRule", "caller_of"]

CHANNELS = ("TELEGRAM", "WEBHOOK", "SUBSCRIPTION")
RECOMMENDATIONS = frozenset({"LONG", "SHORT"})  # a NEUTRAL is neither judged nor stored: nothing to alert
VERDICTS = frozenset({"CONFIRM", "DOWNSIZE", "SKIP", "WAIT"})
MAX_SYMBOLS = 50
MAX_CONCURRENT_WEBHOOKS = 8
WEBHOOK_TIMEOUT_SECONDS = 5.0
RULES_TTL_SECONDS = 5.0  # the dispatcher re-reads the active rules at most this often
_SYMBOL = re.compile(r"^[A-Z0-9]{2,20}$")
_TIER = re.compile(r"^[A-Z_]{1,20}$")
ALERTS_TOPIC = "alerts"


class AlertRuleProblem(Problem):
    """A refused rule operation; ``code`` is stable (``EXPRESSION_*``, ``INVALID_INPUT``,
    ``ALERT_RULE_NOT_FOUND``, ``TOO_MANY_ALERT_RULES``, ``ALERTS_UNAVAILABLE``, ``ALERT_RULES_NEED_A_KEY``),
    ``field`` the argument."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


@dataclass(frozen=True, slots=True)
class Caller:
    """Who manages rules: ``owner`` is the API key id (None: anonymous); admins see every rule."""

    owner: str | None
    admin: bool


def caller_of(context: Any) -> Caller:
    """The caller from the principal the authentication middleware put on the request scope (read by
    attribute: this layer does not import the composition root); no principal is an anonymous caller."""
    request = getattr(context, "request", None)
    scope = getattr(request, "scope", None)
    principal = (scope.get("state") or {}).get("principal") if isinstance(scope, dict) else None
    if principal is None:
        return Caller(owner=None, admin=False)
    key_id = getattr(principal, "key_id", None)
    scopes = {str(s) for s in getattr(principal, "scopes", ())}
    return Caller(owner=None if key_id is None else str(key_id), admin="admin" in scopes)


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A rule as a client asks for it (validated by :func:`validate_rule`)."""

    name: str
    channels: tuple[str, ...]
    symbols: tuple[str, ...] = ()
    recommendations: tuple[str, ...] = ()
    min_score: float | None = None
    min_confidence: float | None = None
    verdicts: tuple[str, ...] = ()
    mss_tiers: tuple[str, ...] = ()
    min_spike_z: float | None = None
    expression: str | None = None
    webhook_url: str | None = None


@dataclass(frozen=True, slots=True)
class CreatedRule:
    rule: StoredRule
    webhook_secret: str | None  # shown once, at creation; never again


def _bounded(name: str, value: float | None, low: float, high: float) -> None:
    if value is not None and not (low <= value <= high):
        raise AlertRuleProblem("INVALID_INPUT", f"{name} must be between {low:g} and {high:g}", name)


def validate_rule(spec: RuleSpec, *, allow_internal_webhooks: bool = False) -> dict[str, Any]:
    """The stored ``conditions`` of a valid spec; raises :class:`AlertRuleProblem` naming the field."""
    name = spec.name.strip()
    if not 1 <= len(name) <= 80:
        raise AlertRuleProblem("INVALID_INPUT", "name must have 1 to 80 characters", "name")
    if not spec.channels or len(set(spec.channels)) != len(spec.channels):
        raise AlertRuleProblem("INVALID_INPUT", "give each channel once, at least one", "channels")
    if ("WEBHOOK" in spec.channels) != (spec.webhook_url is not None):
        raise AlertRuleProblem("INVALID_INPUT", "webhookUrl is required with, and only with, WEBHOOK", "webhookUrl")
    if spec.webhook_url is not None:
        parts = urlsplit(spec.webhook_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or len(spec.webhook_url) > 500:
            raise AlertRuleProblem(
                "INVALID_INPUT", "webhookUrl must be an http(s) URL of at most 500 chars", "webhookUrl"
            )
        if parts.username or parts.password:
            raise AlertRuleProblem("INVALID_INPUT", "webhookUrl must not carry credentials", "webhookUrl")
        if not allow_internal_webhooks and internal_literal(parts.hostname):
            raise AlertRuleProblem(
                "INVALID_INPUT",
                "webhookUrl must be a public address (ALERT_WEBHOOKS_ALLOW_INTERNAL=true allows internal ones)",
                "webhookUrl",
            )
    symbols = tuple(dict.fromkeys(s.strip().upper().replace("-", "").replace("/", "") for s in spec.symbols))
    if len(symbols) > MAX_SYMBOLS or not all(_SYMBOL.match(s) for s in symbols):
        raise AlertRuleProblem("INVALID_INPUT", f"at most {MAX_SYMBOLS} symbols like BTCUSDT", "symbols")
    symbols = tuple(s if s.endswith("USDT") else s + "USDT" for s in symbols)
    if not set(spec.recommendations) <= RECOMMENDATIONS:
        raise AlertRuleProblem(
            "INVALID_INPUT", "recommendations are LONG or SHORT (a NEUTRAL never alerts)", "recommendations"
        )
    if not set(spec.verdicts) <= VERDICTS:
        raise AlertRuleProblem("INVALID_INPUT", "verdicts are CONFIRM, DOWNSIZE, SKIP or WAIT", "verdicts")
    if len(spec.mss_tiers) > 10 or not all(_TIER.match(t) for t in spec.mss_tiers):
        raise AlertRuleProblem("INVALID_INPUT", "MSS tiers are up to 10 upper-case names", "mssTiers")
    _bounded("minScore", spec.min_score, 0, 100)
    _bounded("minConfidence", spec.min_confidence, 0, 100)
    _bounded("minSpikeZ", spec.min_spike_z, -100, 100)
    if spec.expression is not None:
        try:
            compile_expression(spec.expression)
        except ExpressionRefused as refused:
            raise AlertRuleProblem(refused.code, refused.message, "expression") from None
    return {
        "symbols": list(symbols),
        "recommendations": sorted(set(spec.recommendations)),
        "min_score": spec.min_score,
        "min_confidence": spec.min_confidence,
        "verdicts": sorted(set(spec.verdicts)),
        "mss_tiers": sorted(set(spec.mss_tiers)),
        "min_spike_z": spec.min_spike_z,
    }


def condition_of(rule: StoredRule) -> AlertCondition:
    c = rule.conditions
    return AlertCondition(
        symbols=frozenset(c.get("symbols") or ()),
        recommendations=frozenset(c.get("recommendations") or ()),
        min_score=c.get("min_score"),
        min_confidence=c.get("min_confidence"),
        verdicts=frozenset(c.get("verdicts") or ()),
        mss_tiers=frozenset(c.get("mss_tiers") or ()),
        min_spike_z=c.get("min_spike_z"),
        expression=compile_expression(rule.expression) if rule.expression else None,
    )


@dataclass(frozen=True, slots=True)
class Judged:
    """What the judge and the other areas add to a signal for the rules (None: not known)."""

    verdict: str | None = None
    plan: tuple[tuple[str, str], ...] = ()
    risk_mode: str | None = None  # the deciding verdict's
    decided_by: str | None = None  # AI or RULES
    fallback_reason: str | None = None  # why the rules stood in for the AI
    mss_tier: str | None = None
    spike_z: float | None = None


@dataclass(slots=True)
class DispatchStats:
    fired: int = 0  # (rule, signal) matches
    delivered: dict[str, int] = field(default_factory=dict)  # by channel
    failed: dict[str, int] = field(default_factory=dict)  # by channel
    duplicates: int = 0  # deliveries already claimed (same alert again)
    last_error: str | None = None


class AlertService:
    def __init__(
        self,
        rules: AlertRuleRepository | None,
        *,
        telegram: TelegramOutbox | None = None,
        http: httpx2.AsyncClient | None = None,
        replayed: bool = False,
        allow_internal_webhooks: bool = False,
        clock: Callable[[], float] = time.time,
        broker: Broker | None = None,
        anonymous_rules: bool = True,
    ) -> None:
        self._rules = rules
        self.telegram = telegram
        self._http = http
        self._replayed = replayed
        self._allow_internal = allow_internal_webhooks
        self._clock = clock
        # the stream broker: with REDIS_URL the cluster's, so an alert fired by the replica holding the
        # scanner lease reaches `alerts` subscribers on every replica (events are pickled onto Redis)
        self._broker: Broker = broker if broker is not None else InProcessBroker()
        # anonymous callers may manage (their shared, ownerless) rules only on a loopback-bound service: on a
        # public address a rule that messages the operator's Telegram chats or posts webhooks needs a key
        self._anonymous_rules = anonymous_rules
        self._webhooks = asyncio.Semaphore(MAX_CONCURRENT_WEBHOOKS)
        self._cached: tuple[float, list[tuple[StoredRule, AlertCondition]]] | None = None
        self.stats = DispatchStats()

    # -- management ------------------------------------------------------------------------------------

    def _repo(self, caller: Caller) -> AlertRuleRepository:
        if caller.owner is None and not caller.admin and not self._anonymous_rules:
            raise AlertRuleProblem(
                "ALERT_RULES_NEED_A_KEY",
                "alert rules are managed with an API key here (its owner, or an admin key); anonymous callers "
                "read signals only",
            )
        if self._rules is None:
            raise AlertRuleProblem("ALERTS_UNAVAILABLE", "alert rules need the history database, which is not open")
        return self._rules

    async def create(self, caller: Caller, spec: RuleSpec) -> CreatedRule:
        repo = self._repo(caller)
        conditions = validate_rule(spec, allow_internal_webhooks=self._allow_internal)
        secret = secrets.token_urlsafe(32) if spec.webhook_url is not None else None
        new = NewRule(
            owner=caller.owner,
            name=spec.name.strip(),
            conditions=conditions,
            expression=spec.expression.strip() if spec.expression else None,
            channels=spec.channels,
            webhook_url=spec.webhook_url,
            webhook_secret=secret,
        )
        try:
            stored = await repo.create(new)
        except TooManyRules as exc:
            raise AlertRuleProblem("TOO_MANY_ALERT_RULES", str(exc)) from None
        except DATABASE_ERRORS as exc:
            raise self._down(exc) from None
        self._cached = None
        return CreatedRule(stored.public(), secret)

    async def list_rules(self, caller: Caller) -> list[StoredRule]:
        try:
            rules = await self._repo(caller).list_rules(admin=caller.admin, owner=caller.owner)
        except DATABASE_ERRORS as exc:
            raise self._down(exc) from None
        return [r.public() for r in rules]

    async def set_paused(self, caller: Caller, rule_id: str, paused: bool) -> StoredRule:
        repo = self._repo(caller)
        try:
            stored = await repo.set_paused(_rule_id(rule_id), paused, admin=caller.admin, owner=caller.owner)
        except DATABASE_ERRORS as exc:
            raise self._down(exc) from None
        if stored is None:
            raise AlertRuleProblem("ALERT_RULE_NOT_FOUND", f"no alert rule {rule_id} of yours", "id")
        self._cached = None
        return stored.public()

    async def delete(self, caller: Caller, rule_id: str) -> str:
        repo = self._repo(caller)
        try:
            deleted = await repo.delete(_rule_id(rule_id), admin=caller.admin, owner=caller.owner)
        except DATABASE_ERRORS as exc:
            raise self._down(exc) from None
        if not deleted:
            raise AlertRuleProblem("ALERT_RULE_NOT_FOUND", f"no alert rule {rule_id} of yours", "id")
        self._cached = None
        return rule_id

    @staticmethod
    def _down(exc: BaseException) -> AlertRuleProblem:
        log.warning("alert rules: database call failed", error=repr(exc))
        return AlertRuleProblem("ALERTS_UNAVAILABLE", "the alert rules database did not answer; try again")

    # -- the subscription --------------------------------------------------------------------------------

    async def subscribe(self, caller: Caller) -> AsyncIterator[AlertEvent]:
        """Alerts of the caller's rules (every rule for an admin) as they fire, until the client leaves."""
        subscription = self._broker.subscribe(ALERTS_TOPIC, maxsize=256)
        try:
            async for item in subscription:
                owner, event = cast("tuple[str | None, AlertEvent]", item)
                if caller.admin or owner == caller.owner:
                    yield event
        finally:
            subscription.close()

    # -- firing ------------------------------------------------------------------------------------------

    async def _active(self) -> list[tuple[StoredRule, AlertCondition]]:
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < RULES_TTL_SECONDS:
            return self._cached[1]
        assert self._rules is not None  # needs() and fire() return early without a database
        rules = await self._rules.active()
        compiled: list[tuple[StoredRule, AlertCondition]] = []
        for rule in rules:
            try:
                compiled.append((rule, condition_of(rule)))
            except ExpressionRefused as refused:  # stored before a stricter check: skipped, said once
                log.warning("alert rule skipped: its expression is refused now", rule=str(rule.id), code=refused.code)
        self._cached = (now, compiled)
        return compiled

    async def needs(self) -> frozenset[str]:
        """Which costly facts (``mss_tier``, ``spike_z``) the active rules read, so the scanner computes
        them only then (an MSS report costs a CoinGecko and a LunarCrush read per symbol)."""
        if self._rules is None:
            return frozenset()
        wanted: set[str] = set()
        for rule, condition in await self._active():
            source = rule.expression or ""
            if condition.mss_tiers or "mss_tier" in source:
                wanted.add("mss_tier")
            if condition.min_spike_z is not None or "spike_z" in source:
                wanted.add("spike_z")
        return frozenset(wanted)

    async def fire(self, signal: Signal, judged: Judged) -> list[AlertEvent]:
        """Match every active rule against ``signal`` and deliver each match once per channel."""
        if self._rules is None:
            return []
        facts = AlertFacts(
            symbol=signal.symbol,
            recommendation=signal.recommendation.value,
            score=signal.score,
            confidence=signal.confidence,
            price=signal.price,
            data_quality=signal.data_quality.score,
            timeframe=signal.timeframe.value,
            mode=signal.mode.value,
            verdict=judged.verdict,
            mss_tier=judged.mss_tier,
            spike_z=judged.spike_z,
        )
        # the engine's own top factors (hardest pull from neutral 50), as Signal.topFactors shows them; a
        # contribution (score x weight) would rank a neutral 50 above a bearish 20 on a SHORT
        top = tuple((f.name.value, float(f.score)) for f in signal.top_factors if f.score is not None)
        fired: list[AlertEvent] = []
        for rule, condition in await self._active():
            if not match_condition(condition, facts).matched:
                continue
            event = AlertEvent(
                rule_id=str(rule.id),
                rule_name=rule.name,
                facts=facts,
                generated_at=signal.generated_at,
                top_factors=top,
                plan=judged.plan,
                replayed=self._replayed,
                risk_mode=judged.risk_mode,
                decided_by=judged.decided_by,
                fallback_reason=judged.fallback_reason,
            )
            delivered = await self._deliver(rule, event)
            if delivered:
                self.stats.fired += 1
                fired.append(event)
                await self._rules.count_fired(rule.id)
        return fired

    async def _deliver(self, rule: StoredRule, event: AlertEvent) -> bool:
        assert self._rules is not None
        any_new = False
        for channel in rule.channels:
            if not await self._rules.claim(event.dedup_key, channel, rule.id):
                self.stats.duplicates += 1
                continue
            any_new = True
            error = await self._send(rule, channel, event)
            bucket = self.stats.failed if error else self.stats.delivered
            bucket[channel] = bucket.get(channel, 0) + 1
            if error:
                self.stats.last_error = f"{channel}: {error}"
                log.warning("alert not delivered", rule=str(rule.id), channel=channel, error=error)
        return any_new

    async def _send(self, rule: StoredRule, channel: str, event: AlertEvent) -> str | None:
        if channel == "SUBSCRIPTION":
            self._broker.publish(ALERTS_TOPIC, (rule.owner, event))
            return None
        if channel == "TELEGRAM":
            if self.telegram is None:
                return "Telegram is not configured (TELEGRAM_BOT_TOKEN, TELEGRAM_CHAT_IDS)"
            queued = self.telegram.offer(event.dedup_key, format_alert(event))
            return None if queued else "not queued (duplicate or outbox full)"
        if channel == "WEBHOOK":
            if self._http is None or rule.webhook_url is None or rule.webhook_secret is None:
                return "webhook not configured"
            if not self._allow_internal:
                parts = urlsplit(rule.webhook_url)
                refused = await internal_destination(
                    parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
                )
                if refused is not None:
                    return f"webhook refused: {refused}"
            async with self._webhooks:
                return await post_webhook(
                    self._http,
                    rule.webhook_url,
                    rule.webhook_secret,
                    event.to_json(),
                    timestamp=int(self._clock()),
                    timeout_seconds=WEBHOOK_TIMEOUT_SECONDS,
                )
        return f"unknown channel {channel}"


def _rule_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise AlertRuleProblem("INVALID_INPUT", "id must be an alert rule id (a UUID)", "id") from None


def channels_of(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(n.upper() for n in names)
