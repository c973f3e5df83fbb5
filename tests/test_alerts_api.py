"""Alert rules over GraphQL with API keys: a key owns what it creates, another key cannot see or touch it
(answered like an unknown id), an admin key sees every rule, a key without the read scope is refused,
and bad input is a typed AlertRuleRefused naming the field (never an error)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx2

from tests.test_auth import bearer, codes, keyed_service, post_graphql

if TYPE_CHECKING:
    from pathlib import Path

CREATE = """mutation { createAlertRule(rule: %s) {
  __typename ... on AlertRuleCreated { webhookSecret rule { id owner name } }
  ... on AlertRuleRefused { code message field } } }"""
LIST = "{ alertRules { __typename ... on AlertRuleList { count rules { id name owner paused } } } }"


async def call(base: str, query: str, key: str | None) -> dict[str, Any]:
    response = await post_graphql(base, query, bearer(key) if key else None)
    assert response.status_code in (200, 403), response.text
    body: dict[str, Any] = response.json()
    return body


async def test_owner_admin_and_refusals(tmp_path: Path) -> None:
    async with keyed_service(tmp_path) as served:
        base = served.base_url
        reader, historian, admin = served.key("reader"), served.key("historian"), served.key("admin")
        created = await call(base, CREATE % '{name: "mine", channels: [SUBSCRIPTION], minScore: 70}', reader)
        made = created["data"]["createAlertRule"]
        assert made["__typename"] == "AlertRuleCreated" and made["webhookSecret"] is None
        rule_id, owner = made["rule"]["id"], made["rule"]["owner"]
        assert owner == str(served.keys["reader"].record.id)
        await call(base, CREATE % '{name: "theirs", channels: [SUBSCRIPTION]}', historian)

        mine = (await call(base, LIST, reader))["data"]["alertRules"]
        assert [r["name"] for r in mine["rules"]] == ["mine"]
        everyone = (await call(base, LIST, admin))["data"]["alertRules"]
        assert {r["name"] for r in everyone["rules"]} == {"mine", "theirs"}

        # another key: like an unknown id
        pause = 'mutation { pauseAlertRule(id: "%s") { __typename ... on AlertRuleRefused { code field } } }'
        refused = (await call(base, pause % rule_id, historian))["data"]["pauseAlertRule"]
        assert refused == {"__typename": "AlertRuleRefused", "code": "ALERT_RULE_NOT_FOUND", "field": "id"}
        paused = await call(
            base, pause.replace("__typename", "__typename ... on AlertRule { paused }") % rule_id, admin
        )
        assert paused["data"]["pauseAlertRule"] == {"__typename": "AlertRule", "paused": True}
        bad_id = (await call(base, pause % "not-a-uuid", reader))["data"]["pauseAlertRule"]
        assert bad_id == {"__typename": "AlertRuleRefused", "code": "INVALID_INPUT", "field": "id"}
        delete = 'mutation { deleteAlertRule(id: "%s") { __typename } }'
        assert (await call(base, delete % rule_id, reader))["data"]["deleteAlertRule"][
            "__typename"
        ] == "AlertRuleDeleted"
        assert (await call(base, LIST, reader))["data"]["alertRules"]["count"] == 0

        # the streamer key has no read scope: the mutation is refused before it runs
        forbidden = await call(base, CREATE % '{name: "x", channels: [SUBSCRIPTION]}', served.key("streamer"))
        assert codes(forbidden) == ["FORBIDDEN"]

        for rule, field, code in (
            ('{name: "w", channels: [WEBHOOK]}', "webhookUrl", "INVALID_INPUT"),
            ('{name: "w", channels: [TELEGRAM], webhookUrl: "http://127.0.0.1/x"}', "webhookUrl", "INVALID_INPUT"),
            ('{name: "w", channels: [WEBHOOK], webhookUrl: "ftp://x/y"}', "webhookUrl", "INVALID_INPUT"),
            ('{name: "s", channels: [TELEGRAM], minScore: 150}', "minScore", "INVALID_INPUT"),
            ('{name: "", channels: [TELEGRAM]}', "name", "INVALID_INPUT"),
            ('{name: "c", channels: []}', "channels", "INVALID_INPUT"),
            ('{name: "v", channels: [TELEGRAM], verdicts: ["MAYBE"]}', "verdicts", "INVALID_INPUT"),
            ('{name: "n", channels: [TELEGRAM], recommendations: [NEUTRAL]}', "recommendations", "INVALID_INPUT"),
            (
                '{name: "e", channels: [TELEGRAM], expression: "__import__(\\"os\\")"}',
                "expression",
                "EXPRESSION_FORBIDDEN",
            ),
            ('{name: "e", channels: [TELEGRAM], expression: "9 ** 99"}', "expression", "EXPRESSION_TOO_LARGE"),
        ):
            answer = (await call(base, CREATE % rule, reader))["data"]["createAlertRule"]
            assert (answer["__typename"], answer["field"], answer["code"]) == ("AlertRuleRefused", field, code), rule
        # a webhook rule: its secret is shown once, never listed
        hooked = await call(
            base, CREATE % '{name: "h", channels: [WEBHOOK], webhookUrl: "https://example.com/hook"}', reader
        )
        secret = hooked["data"]["createAlertRule"]["webhookSecret"]
        assert isinstance(secret, str) and len(secret) >= 40
        listed = await post_graphql(
            base, "{ alertRules { ... on AlertRuleList { rules { webhookUrl } } } }", bearer(reader)
        )
        assert secret not in listed.text and "https://example.com/hook" in listed.text
        # REST for apps (not in the GPT schema): the same list, the same owner
        async with httpx2.AsyncClient(timeout=20) as client:
            rest = await client.get(f"{base}/v1/alerts/rules", headers=bearer(reader))
        assert rest.status_code == 200, rest.text
        assert secret not in rest.text and rest.json()["data"]["count"] == 1


async def test_anonymous_callers_need_a_key_for_rules_on_a_public_address(tmp_path: Path) -> None:
    """ALLOW_ANONYMOUS=true on a public address serves anonymous reads, but an alert rule (which messages the
    operator's Telegram chats or posts webhooks) needs a key: refused as data, with its code."""
    async with keyed_service(tmp_path, host="0.0.0.0", allow_anonymous=True) as served:
        base = served.base_url
        anonymous = (await call(base, CREATE % '{name: "a", channels: [TELEGRAM]}', None))["data"]
        assert anonymous["createAlertRule"]["__typename"] == "AlertRuleRefused"
        assert anonymous["createAlertRule"]["code"] == "ALERT_RULES_NEED_A_KEY"
        listed = (await call(base, "{ alertRules { __typename ... on AlertRuleRefused { code } } }", None))["data"]
        assert listed["alertRules"] == {"__typename": "AlertRuleRefused", "code": "ALERT_RULES_NEED_A_KEY"}
        keyed = (await call(base, CREATE % '{name: "k", channels: [TELEGRAM]}', served.key("reader")))["data"]
        assert keyed["createAlertRule"]["__typename"] == "AlertRuleCreated"
