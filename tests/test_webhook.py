"""Webhooks: the signature a receiver checks, and internal destinations refused (SSRF) by default."""

from __future__ import annotations

import pytest

from providers.webhook import internal_destination, internal_literal, sign, verify
from resolvers.alerts import AlertRuleProblem, RuleSpec, validate_rule


def test_signature_covers_timestamp_and_body() -> None:
    body = b'{"symbol":"BTCUSDT"}'
    header = sign("k3y", 1752264000, body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify("k3y", 1752264000, body, header)
    assert not verify("k3y", 1752264001, body, header)  # another timestamp
    assert not verify("k3y", 1752264000, body + b" ", header)  # another body
    assert not verify("other", 1752264000, body, header)  # another secret


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST.",
        "api.localhost",
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.10",
        "169.254.169.254",
        "::1",
        "[fd00::1]",
        "0.0.0.0",
    ],
)
async def test_internal_hosts_are_refused(host: str) -> None:
    assert internal_literal(host)
    assert await internal_destination(host, 443) is not None


async def test_public_literals_pass() -> None:
    assert not internal_literal("93.184.216.34") and not internal_literal("example.com")
    assert await internal_destination("93.184.216.34", 443) is None


def test_a_rule_with_an_internal_webhook_is_refused_unless_allowed() -> None:
    spec = RuleSpec(name="w", channels=("WEBHOOK",), webhook_url="http://169.254.169.254/latest/meta-data")
    with pytest.raises(AlertRuleProblem) as refused:
        validate_rule(spec)
    assert refused.value.code == "INVALID_INPUT" and refused.value.field == "webhookUrl"
    assert validate_rule(spec, allow_internal_webhooks=True)["symbols"] == []
