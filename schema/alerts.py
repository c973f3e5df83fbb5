"""Alert rules in GraphQL: the ``alertRules`` query, the rule mutations and the ``alerts`` subscription.

The work is :mod:`resolvers.alerts` (validation, ownership, delivery); this module converts its results
and its refusals (``AlertRuleProblem``) into types and the ``AlertRuleRefused`` union member.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator  # noqa: TC003 - strawberry reads resolver annotations at runtime
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import Info  # noqa: TC002 - strawberry reads annotations at runtime

from engine import Recommendation
from resolvers.alerts import AlertRuleProblem, RuleSpec, caller_of
from resolvers.context import RequestContext  # noqa: TC001
from schema.enums import RecommendationEnum, described
from schema.errors import Problem

if TYPE_CHECKING:
    from engine.alert_rules import AlertEvent
    from resolvers.alerts import AlertService, StoredRule


class AlertChannel(enum.Enum):
    TELEGRAM = "TELEGRAM"
    WEBHOOK = "WEBHOOK"
    SUBSCRIPTION = "SUBSCRIPTION"


AlertChannelEnum = described(
    AlertChannel,
    "AlertChannel",
    "Where a fired alert rule delivers.",
    {
        AlertChannel.TELEGRAM: "A Telegram message to the server's TELEGRAM_CHAT_IDS (HTML, escaped).",
        AlertChannel.WEBHOOK: "A JSON POST to webhookUrl, signed: X-Signal-Signature = sha256=HMAC(secret, "
        "timestamp + '.' + body), X-Signal-Timestamp.",
        AlertChannel.SUBSCRIPTION: "The `alerts` subscription of the rule's owner (and of admins).",
    },
)


@strawberry.input(description="A new alert rule: every condition set must hold for it to fire; unset means any.")
class AlertRuleInput:
    name: str = strawberry.field(description="A name for the rule, 1 to 80 characters.")
    channels: list[AlertChannelEnum] = strawberry.field(  # type: ignore[valid-type]
        description="Where it delivers, each once: TELEGRAM, WEBHOOK, SUBSCRIPTION."
    )
    symbols: list[str] | None = strawberry.field(
        default=None, description="Only these USDT perpetuals (BTC, ETHUSDT ...; at most 50); null: any symbol."
    )
    recommendations: list[RecommendationEnum] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Only these calls, LONG or SHORT (a NEUTRAL never alerts); null: both."
    )
    min_score: float | None = strawberry.field(default=None, description="Lowest score, 0..100; null: any.")
    min_confidence: float | None = strawberry.field(default=None, description="Lowest confidence, 0..100; null: any.")
    verdicts: list[str] | None = strawberry.field(
        default=None,
        description="Only these judge verdicts (CONFIRM, DOWNSIZE, SKIP, WAIT); an unjudged signal does not match.",
    )
    mss_tiers: list[str] | None = strawberry.field(
        default=None, description="Only these MSS tiers (upper-case names); a signal without a tier does not match."
    )
    min_spike_z: float | None = strawberry.field(
        default=None, description="Lowest spike z-score; a symbol without one does not match. Null: any."
    )
    expression: str | None = strawberry.field(
        default=None,
        description="Optional, at most 300 characters, over score, confidence, price, data_quality, spike_z, symbol, "
        "recommendation, verdict, mss_tier, timeframe, mode with and/or/not, comparisons, + - * / % ** (exponent "
        "≤ 8) and abs/min/max/round, e.g. `score >= 70 and confidence > 60`. Anything else is refused.",
    )
    webhook_url: str | None = strawberry.field(
        default=None, description="The http(s) URL for the WEBHOOK channel (required with it, refused without)."
    )


@strawberry.type(description="The conditions of a rule as stored (empty lists and nulls mean any).")
class AlertRuleConditions:
    symbols: list[str] = strawberry.field(description="Symbols the rule is limited to; empty: any.")
    recommendations: list[str] = strawberry.field(description="Calls the rule is limited to; empty: any.")
    min_score: float | None = strawberry.field(description="Lowest score; null: any.")
    min_confidence: float | None = strawberry.field(description="Lowest confidence; null: any.")
    verdicts: list[str] = strawberry.field(description="Judge verdicts the rule is limited to; empty: any.")
    mss_tiers: list[str] = strawberry.field(description="MSS tiers the rule is limited to; empty: any.")
    min_spike_z: float | None = strawberry.field(description="Lowest spike z-score; null: any.")
    expression: str | None = strawberry.field(description="The checked expression; null: none.")


@strawberry.type(description="A stored alert rule. Its webhook secret is never answered back after creation.")
class AlertRule:
    id: strawberry.ID = strawberry.field(description="The rule's id.")
    name: str = strawberry.field(description="The rule's name.")
    owner: str | None = strawberry.field(description="The API key id that owns it; null: created anonymously.")
    channels: list[AlertChannelEnum] = strawberry.field(description="Where it delivers.")  # type: ignore[valid-type]
    conditions: AlertRuleConditions = strawberry.field(description="What must hold for it to fire.")
    webhook_url: str | None = strawberry.field(description="The WEBHOOK channel's URL; null without it.")
    paused: bool = strawberry.field(description="A paused rule never fires until resumed.")
    created_at: datetime = strawberry.field(description="When it was created (UTC).")
    fired_count: int = strawberry.field(description="How many alerts it has delivered.")
    last_fired_at: datetime | None = strawberry.field(description="When it last fired (UTC); null: never.")

    @classmethod
    def of(cls, rule: StoredRule) -> AlertRule:
        c = rule.conditions
        return cls(
            id=strawberry.ID(str(rule.id)),
            name=rule.name,
            owner=rule.owner,
            channels=[AlertChannel(ch) for ch in rule.channels],
            conditions=AlertRuleConditions(
                symbols=list(c.get("symbols") or []),
                recommendations=list(c.get("recommendations") or []),
                min_score=c.get("min_score"),
                min_confidence=c.get("min_confidence"),
                verdicts=list(c.get("verdicts") or []),
                mss_tiers=list(c.get("mss_tiers") or []),
                min_spike_z=c.get("min_spike_z"),
                expression=rule.expression,
            ),
            webhook_url=rule.webhook_url,
            paused=rule.paused,
            created_at=rule.created_at,
            fired_count=rule.fired_count,
            last_fired_at=rule.last_fired_at,
        )


@strawberry.type(description="A rule just created; the webhook secret is shown here once and never again.")
class AlertRuleCreated:
    rule: AlertRule = strawberry.field(description="The stored rule.")
    webhook_secret: str | None = strawberry.field(
        description="The WEBHOOK channel's HMAC-SHA256 key (verifies X-Signal-Signature); null without it."
    )


@strawberry.type(description="A rule that was deleted.")
class AlertRuleDeleted:
    id: strawberry.ID = strawberry.field(description="The deleted rule's id.")


@strawberry.type(description="The caller's alert rules (every rule for an admin key).")
class AlertRuleList:
    rules: list[AlertRule] = strawberry.field(description="Oldest first, at most 500.")
    count: int = strawberry.field(description="How many rules are listed.")


@strawberry.type(
    description="An alert rule operation was refused: INVALID_INPUT, EXPRESSION_* (the expression's check), "
    "ALERT_RULE_NOT_FOUND (unknown, or not yours), TOO_MANY_ALERT_RULES, ALERTS_UNAVAILABLE (no database)."
)
class AlertRuleRefused(Problem):
    field: str | None = strawberry.field(description="The argument at fault; null when none is.")


def refused(p: AlertRuleProblem) -> AlertRuleRefused:
    return AlertRuleRefused(code=p.code, message=p.message, field=p.field)


CreateAlertRuleResult = Annotated[
    AlertRuleCreated | AlertRuleRefused,
    strawberry.union("CreateAlertRuleResult", description="The created rule, or why it was refused."),
]
AlertRuleResult = Annotated[
    AlertRule | AlertRuleRefused, strawberry.union("AlertRuleResult", description="The rule, or why not.")
]
DeleteAlertRuleResult = Annotated[
    AlertRuleDeleted | AlertRuleRefused,
    strawberry.union("DeleteAlertRuleResult", description="The deleted rule's id, or why not."),
]
AlertRulesResult = Annotated[
    AlertRuleList | AlertRuleRefused,
    strawberry.union("AlertRulesResult", description="The caller's rules, or why they cannot be listed."),
]
RuleIdArg = Annotated[strawberry.ID, strawberry.argument(description="The alert rule's id.")]


def _service(info: Info[RequestContext, None]) -> AlertService:
    service = info.context.services.alerts
    if service is None:
        raise AlertRuleProblem("ALERTS_UNAVAILABLE", "alert rules need the history database, which is off here")
    return service


@strawberry.type
class AlertQuery:
    @strawberry.field(description="Your alert rules (an admin key sees every rule).")
    async def alert_rules(self, info: Info[RequestContext, None]) -> AlertRulesResult:
        try:
            rules = await _service(info).list_rules(caller_of(info.context))
        except AlertRuleProblem as p:
            return refused(p)
        return AlertRuleList(rules=[AlertRule.of(r) for r in rules], count=len(rules))


@strawberry.type
class AlertMutation:
    @strawberry.mutation(
        description="Create an alert rule owned by your API key (anonymously only on a loopback-bound service)."
    )
    async def create_alert_rule(
        self,
        info: Info[RequestContext, None],
        rule: Annotated[AlertRuleInput, strawberry.argument(description="The rule's conditions and channels.")],
    ) -> CreateAlertRuleResult:
        spec = RuleSpec(
            name=rule.name,
            channels=tuple(AlertChannel(c).value for c in rule.channels),
            symbols=tuple(rule.symbols or ()),
            recommendations=tuple(Recommendation(r).value for r in rule.recommendations or ()),
            min_score=rule.min_score,
            min_confidence=rule.min_confidence,
            verdicts=tuple(v.strip().upper() for v in rule.verdicts or ()),
            mss_tiers=tuple(t.strip().upper() for t in rule.mss_tiers or ()),
            min_spike_z=rule.min_spike_z,
            expression=rule.expression,
            webhook_url=rule.webhook_url,
        )
        try:
            created = await _service(info).create(caller_of(info.context), spec)
        except AlertRuleProblem as p:
            return refused(p)
        return AlertRuleCreated(rule=AlertRule.of(created.rule), webhook_secret=created.webhook_secret)

    @strawberry.mutation(description="Pause one of your alert rules: it stops firing until resumed.")
    async def pause_alert_rule(self, info: Info[RequestContext, None], id: RuleIdArg) -> AlertRuleResult:
        return await _set_paused(info, id, True)

    @strawberry.mutation(description="Resume one of your paused alert rules.")
    async def resume_alert_rule(self, info: Info[RequestContext, None], id: RuleIdArg) -> AlertRuleResult:
        return await _set_paused(info, id, False)

    @strawberry.mutation(description="Delete one of your alert rules (its delivery records go with it).")
    async def delete_alert_rule(self, info: Info[RequestContext, None], id: RuleIdArg) -> DeleteAlertRuleResult:
        try:
            deleted = await _service(info).delete(caller_of(info.context), str(id))
        except AlertRuleProblem as p:
            return refused(p)
        return AlertRuleDeleted(id=strawberry.ID(deleted))


async def _set_paused(info: Info[RequestContext, None], rule_id: strawberry.ID, paused: bool) -> AlertRuleResult:
    try:
        rule = await _service(info).set_paused(caller_of(info.context), str(rule_id), paused)
    except AlertRuleProblem as p:
        return refused(p)
    return AlertRule.of(rule)


@strawberry.type(description="A factor of the alerted signal.")
class AlertFactor:
    name: str = strawberry.field(description="Factor name (funding, momentum, smart_money, ...).")
    score: float = strawberry.field(description="Its score, 0..100 (50 neutral, above bullish, below bearish).")


@strawberry.type(description="One line of the alerted signal's trade plan.")
class AlertPlanItem:
    label: str = strawberry.field(description="Entry, Stop, TP, ATR or Size.")
    value: str = strawberry.field(description="The value, formatted.")


@strawberry.type(description="An alert rule fired on a judged signal.")
class Alert:
    rule_id: strawberry.ID = strawberry.field(description="The rule that fired.")
    rule_name: str = strawberry.field(description="Its name.")
    dedup_key: str = strawberry.field(description="Rule, symbol, call, timeframe, mode and moment: one alert.")
    symbol: str = strawberry.field(description="The symbol, canonical (BTCUSDT).")
    recommendation: RecommendationEnum = strawberry.field(description="The call.")  # type: ignore[valid-type]
    score: float = strawberry.field(description="The signal's score, 0..100.")
    confidence: float = strawberry.field(description="The signal's confidence, 0..100.")
    price: float = strawberry.field(description="The price the signal was computed at, in USDT.")
    timeframe: str = strawberry.field(description="The signal's timeframe (15m, 1h, 4h, 1d).")
    mode: str = strawberry.field(description="The signal's mode (conservative, aggressive, ...).")
    verdict: str | None = strawberry.field(description="The judge's verdict; null when not judged.")
    risk_mode: str | None = strawberry.field(
        description="The deciding verdict's risk mode (AVOID, REDUCED, NORMAL, AGGRESSIVE); null when not judged."
    )
    decided_by: str | None = strawberry.field(
        description="Which judge decided the verdict: AI or RULES; null when not judged."
    )
    fallback_reason: str | None = strawberry.field(
        description="Why the rules decided instead of the AI (timeout, refusal, budget ...); null otherwise."
    )
    generated_at: datetime = strawberry.field(description="When the signal was computed (UTC).")
    top_factors: list[AlertFactor] = strawberry.field(
        description="The signal's top factors (hardest pull from neutral), strongest first."
    )
    plan: list[AlertPlanItem] = strawberry.field(description="The trade plan's lines; empty when none.")
    replayed: bool = strawberry.field(description="True when computed from a replayed cassette, not live.")

    @classmethod
    def of(cls, e: AlertEvent) -> Alert:
        f = e.facts
        return cls(
            rule_id=strawberry.ID(e.rule_id),
            rule_name=e.rule_name,
            dedup_key=e.dedup_key,
            symbol=f.symbol,
            recommendation=Recommendation(f.recommendation),
            score=f.score,
            confidence=f.confidence,
            price=f.price,
            timeframe=f.timeframe,
            mode=f.mode,
            verdict=f.verdict,
            risk_mode=e.risk_mode,
            decided_by=e.decided_by,
            fallback_reason=e.fallback_reason,
            generated_at=e.generated_at,
            top_factors=[AlertFactor(name=n, score=s) for n, s in e.top_factors],
            plan=[AlertPlanItem(label=k, value=v) for k, v in e.plan],
            replayed=e.replayed,
        )


async def alerts(info: Info[RequestContext, None]) -> AsyncGenerator[Alert, None]:
    """The ``alerts`` subscription's body: the caller's alerts as they fire (ALERTS_UNAVAILABLE without a
    database, raised before the stream starts)."""
    service = info.context.services.alerts
    if service is None:
        raise GraphQLError(
            "alerts need the history database, which is off here", extensions={"code": "ALERTS_UNAVAILABLE"}
        )
    caller = caller_of(info.context)
    async for event in service.subscribe(caller):
        yield Alert.of(event)
