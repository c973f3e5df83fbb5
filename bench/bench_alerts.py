"""Alert rules: what matching one judged signal against every rule costs, and the price of the safety.

For 1, 100 and 1,000 rules (typed conditions plus an expression each, all matching so every condition
and the whole expression run), the time to match one signal against all of them:

- ours: ``engine.alert_rules.match_rule`` (typed checks, then the checked expression through simpleeval,
  with its bounded operators);
- baseline: the same typed checks, then the expression as Python bytecode compiled once and run with
  ``eval`` and no builtins: the fastest simple way, and unsafe (it is what the system we replace did);
- compile: checking and compiling one expression (``compile_expression``), paid once per rule creation.

    .venv/bin/python bench/bench_alerts.py
"""

from __future__ import annotations

import time
from typing import Any

from engine.alert_rules import AlertCondition, AlertFacts, compile_expression, match_rule

EXPRESSION = "score >= 60 and confidence > 50 and (spike_z or 0) > 1 and recommendation in ('LONG', 'SHORT')"
FACTS = AlertFacts("BTCUSDT", "LONG", 72.5, 64.0, 117_250.5, 88.0, "4h", "aggressive", "CONFIRM", None, 2.4)


def _fields(condition: AlertCondition) -> dict[str, Any]:
    return {name: getattr(condition, name) for name in condition.__slots__}


def per_signal(fn: Any, rules: int, reps: int) -> float:
    """Microseconds to match one signal against ``rules`` rules (best of 5 runs of ``reps``)."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(reps):
            for _ in range(rules):
                fn()
        best = min(best, (time.perf_counter() - started) / reps)
    return best * 1e6


def main() -> None:
    condition = AlertCondition(
        symbols=frozenset({"BTCUSDT", "ETHUSDT"}),
        recommendations=frozenset({"LONG", "SHORT"}),
        min_score=60,
        min_confidence=50,
        expression=compile_expression(EXPRESSION),
    )
    assert match_rule(condition, FACTS).matched
    code = compile(EXPRESSION, "<rule>", "eval")
    plain = AlertCondition(**{**_fields(condition), "expression": None})

    def ours() -> bool:
        return match_rule(condition, FACTS).matched

    def baseline() -> bool:
        return match_rule(plain, FACTS).matched and bool(eval(code, {"__builtins__": {}}, FACTS.values()))

    assert ours() and baseline()
    print(f"expression: {EXPRESSION}")
    print(f"{'rules':>6} {'ours µs/signal':>15} {'baseline µs/signal':>19} {'ratio':>6}")
    for rules in (1, 100, 1_000):
        reps = max(1, 2_000 // rules)
        a, b = per_signal(ours, rules, reps), per_signal(baseline, rules, reps)
        print(f"{rules:>6} {a:>15,.1f} {b:>19,.1f} {a / b:>6.1f}")
    started = time.perf_counter()
    for _ in range(1_000):
        compile_expression(EXPRESSION)
    print(f"compile_expression: {(time.perf_counter() - started) * 1e3:.1f} µs per rule creation")


if __name__ == "__main__":
    main()
