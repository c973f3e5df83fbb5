"""engine.alert_rules: typed conditions, and the expression checker against hostile input."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from engine.alert_rules import (
    MAX_EXPRESSION_CHARS,
    AlertCondition,
    AlertEvent,
    AlertFacts,
    ExpressionRefused,
    compile_expression,
    match_rule,
)

FACTS = AlertFacts(
    symbol="BTCUSDT",
    recommendation="LONG",
    score=72.5,
    confidence=64.0,
    price=117_250.5,
    data_quality=88.0,
    timeframe="4h",
    mode="aggressive",
    verdict="CONFIRM",
    mss_tier=None,
    spike_z=2.4,
)

HOSTILE = {
    "attribute access": "score.__class__",
    "attribute on a literal": "().__class__.__bases__[0].__subclasses__()",
    "plain attribute": "symbol.lower()",
    "dunder name": "__import__('os').system('id')",
    "dunder builtins": "__builtins__",
    "underscore name": "_secret > 1",
    "huge exponent": "9 ** 9 ** 9",
    "big exponent": "score ** 100",
    "exponent from a name": "2 ** score",
    "very long source": "score > 1 and " * 40 + "True",
    "very long string": "symbol == '" + "A" * 1000 + "'",
    "string repetition": "'a' * 10",
    "lambda": "(lambda: 1)()",
    "list comprehension": "[x for x in (1, 2, 3)] == [1, 2, 3]",
    "generator": "any(x > 1 for x in (1, 2))",
    "dict comprehension": "{k: 1 for k in 'ab'}",
    "walrus": "(x := 5) > 1",
    "f-string": "f'{score}' == '1'",
    "subscript": "symbol[0] == 'B'",
    "unknown function": "open('/etc/passwd')",
    "unknown name": "balance > 100",
    "keyword arguments": "round(score, ndigits=2) > 1",
    "huge literal": "score > 1e300",
    "bitwise operators": "1 << 10000",
    "syntax error": "score >",
    "empty": "   ",
    "statement": "import os",
}


@pytest.mark.parametrize("source", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_expressions_are_refused_with_a_code(source: str) -> None:
    with pytest.raises(ExpressionRefused) as refused:
        compile_expression(source)
    assert refused.value.code.startswith("EXPRESSION_")
    assert refused.value.message


def test_refusal_codes_say_why() -> None:
    def code(source: str) -> str:
        with pytest.raises(ExpressionRefused) as refused:
            compile_expression(source)
        return refused.value.code

    assert code("x" * (MAX_EXPRESSION_CHARS + 1)) == "EXPRESSION_TOO_LONG"
    assert code("score.real") == "EXPRESSION_FORBIDDEN"
    assert code("score ** 100") == "EXPRESSION_TOO_LARGE"
    assert code("balance > 1") == "EXPRESSION_UNKNOWN_NAME"
    assert code("score >") == "EXPRESSION_SYNTAX"


def test_string_repetition_and_runtime_power_cannot_blow_up() -> None:
    # past the static check, the evaluator's own operators are bounded too
    assert not match_rule(AlertCondition(expression=compile_expression("symbol * 3 == 'x'")), FACTS).matched
    assert (
        "not evaluable"
        in match_rule(AlertCondition(expression=compile_expression("symbol * 3 == 'x'")), FACTS).reasons[0]
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("score >= 70 and confidence > 60", True),
        ("score >= 80 or verdict == 'SKIP'", False),
        ("recommendation in ('LONG', 'SHORT') and abs(spike_z) > 2", True),
        ("max(score, confidence) - min(score, confidence) < 10", True),
        ("round(price / 1000) == 117", True),
        ("score ** 2 > 5000 and not (mode == 'ultra')", True),
        ("timeframe == '4h' and symbol != 'ETHUSDT'", True),
    ],
)
def test_expressions_over_the_named_values(source: str, expected: bool) -> None:
    assert compile_expression(source).evaluate(FACTS.values()) is expected


def test_an_expression_must_give_a_boolean() -> None:
    with pytest.raises(TypeError):
        compile_expression("score + 1").evaluate(FACTS.values())


def test_missing_values_never_match_and_say_why() -> None:
    result = match_rule(AlertCondition(mss_tiers=frozenset({"STRONG"})), FACTS)
    assert not result.matched and result.reasons == ("MSS tier missing",)
    unjudged = dataclasses.replace(FACTS, verdict=None, spike_z=None)
    result = match_rule(AlertCondition(verdicts=frozenset({"CONFIRM"})), unjudged)
    assert not result.matched and "verdict missing" in result.reasons[0]
    assert match_rule(AlertCondition(min_spike_z=1.0), unjudged).reasons == ("spike z-score missing",)
    # a comparison with a missing value is an evaluation error, never a match
    result = match_rule(AlertCondition(expression=compile_expression("spike_z > 1")), unjudged)
    assert not result.matched and "not evaluable" in result.reasons[0]


def test_typed_conditions() -> None:
    rule = AlertCondition(
        symbols=frozenset({"BTCUSDT"}),
        recommendations=frozenset({"LONG"}),
        min_score=70,
        min_confidence=60,
        verdicts=frozenset({"CONFIRM", "DOWNSIZE"}),
        min_spike_z=2.0,
    )
    assert match_rule(rule, FACTS).matched
    assert match_rule(AlertCondition(min_score=80), FACTS).reasons == ("score 72.5 < 80",)
    assert not match_rule(AlertCondition(symbols=frozenset({"ETHUSDT"})), FACTS).matched
    assert not match_rule(AlertCondition(recommendations=frozenset({"SHORT"})), FACTS).matched
    assert not match_rule(AlertCondition(min_spike_z=3.0), FACTS).matched


def test_the_dedup_key_names_rule_signal_and_moment() -> None:
    at = datetime(2025, 7, 11, 20, 0, tzinfo=UTC)
    event = AlertEvent(rule_id="r1", rule_name="n", facts=FACTS, generated_at=at)
    again = AlertEvent(rule_id="r1", rule_name="other name", facts=FACTS, generated_at=at)
    later = AlertEvent(rule_id="r1", rule_name="n", facts=FACTS, generated_at=at.replace(hour=21))
    assert event.dedup_key == again.dedup_key != later.dedup_key
    assert event.to_json()["dedupKey"] == event.dedup_key
