"""Alert rules: typed conditions over one judged signal, plus an optional expression over named values.

A rule fires when every condition it sets holds (an unset condition holds). A condition on a value the
signal does not carry (no verdict, no MSS tier, no spike z-score) does not hold, and the reason says the
value was missing: a rule never fires on a neutral default.

Expressions (``score > 70 and confidence >= 60 or spike_z > 3``) are checked twice. First statically,
here: the source is parsed with :mod:`ast` and every node must be on a short whitelist (boolean logic,
comparisons, arithmetic, the names of :data:`EXPRESSION_NAMES`, calls of :data:`EXPRESSION_FUNCTIONS`,
small literals); attribute access, subscripts, lambdas, comprehensions, dunder names, huge exponents,
long strings and long or deep sources are refused with an :class:`ExpressionRefused` carrying a code. Then
at evaluation, with simpleeval and the same operators and functions only (its own power and string
limits still apply). Errors at evaluation (division by zero, comparing a missing value) make the rule not
fire, with the reason.
"""

from __future__ import annotations

import ast
import math
import operator
from dataclasses import dataclass, field
from datetime import datetime  # noqa: TC003 - a dataclass field type
from typing import Any

from simpleeval import EvalWithCompoundTypes

MAX_EXPRESSION_CHARS = 300
MAX_EXPRESSION_NODES = 80
MAX_STRING_CHARS = 32
MAX_EXPONENT = 8
MAX_ABS_NUMBER = 1e12

EXPRESSION_NAMES: dict[str, str] = {
    "score": "signal score, 0..100",
    "confidence": "signal confidence, 0..100",
    "price": "last price",
    "data_quality": "data quality score, 0..100",
    "spike_z": "spike z-score of the symbol (null when unknown)",
    "symbol": "canonical symbol, e.g. BTCUSDT",
    "recommendation": "LONG, SHORT or NEUTRAL",
    "verdict": "judge verdict CONFIRM, DOWNSIZE, SKIP or WAIT (null when not judged)",
    "mss_tier": "market structure score tier (null when unknown)",
    "timeframe": "the signal's timeframe: 15m, 1h, 4h or 1d",
    "mode": "the signal's mode: conservative, aggressive, ultra or calibrated",
}
"""The only names an expression may read, with what they hold."""

EXPRESSION_FUNCTIONS: dict[str, Any] = {"abs": abs, "min": min, "max": max, "round": round}

_BINARY: dict[type[ast.operator], Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Any] = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_COMPARE: dict[type[ast.cmpop], Any] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_STRUCTURAL = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp)
_CONTAINERS = (ast.Tuple, ast.List, ast.Load)


class ExpressionRefused(ValueError):
    """An expression that will never be evaluated; ``code`` says why (stable, machine-readable)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class RuleExpression:
    """A checked expression, parsed once; build it with :func:`compile_expression`."""

    source: str
    parsed: ast.AST = field(repr=False, compare=False)  # simpleeval's parse of ``source``
    evaluator: EvalWithCompoundTypes = field(repr=False, compare=False)

    def evaluate(self, values: dict[str, Any]) -> bool:
        """True or False; raises :class:`ArithmeticError`, :class:`TypeError` or :class:`ValueError`
        when the values make it meaningless (the caller does not fire the rule). Synchronous: the
        evaluator is this expression's own (building one costs more than evaluating a short expression)
        and only its names change per call."""
        evaluator = self.evaluator
        evaluator.names = values
        result = evaluator.eval(self.source, previously_parsed=self.parsed)
        if not isinstance(result, bool):
            raise TypeError(f"the expression gave {type(result).__name__}, not true or false")
        return result


def _numeric_mul(left: Any, right: Any) -> Any:
    """Numbers only: ``"a" * 10**8`` would build a huge string."""
    if isinstance(left, str | list | tuple) or isinstance(right, str | list | tuple):
        raise TypeError("only numbers multiply in rule expressions")
    return operator.mul(left, right)


def _bounded_power(base: Any, exponent: Any) -> Any:
    if isinstance(exponent, int | float) and abs(exponent) > MAX_EXPONENT:
        raise ValueError(f"exponent {exponent} is over {MAX_EXPONENT}")
    if isinstance(base, int | float) and abs(base) > MAX_ABS_NUMBER:
        raise ValueError("power of a number over 1e12")
    return operator.pow(base, exponent)


_OPERATORS: dict[Any, Any] = {**_BINARY, **_UNARY, **_COMPARE, ast.Pow: _bounded_power, ast.Mult: _numeric_mul}


def compile_expression(source: str) -> RuleExpression:
    """Check ``source`` against the whitelist; raise :class:`ExpressionRefused` (with a code) otherwise."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionRefused("EXPRESSION_EMPTY", "the expression is empty")
    if len(source) > MAX_EXPRESSION_CHARS:
        raise ExpressionRefused(
            "EXPRESSION_TOO_LONG", f"the expression has {len(source)} characters; at most {MAX_EXPRESSION_CHARS}"
        )
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionRefused(
            "EXPRESSION_SYNTAX", f"the expression does not parse: {exc.__class__.__name__}"
        ) from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_EXPRESSION_NODES:
        raise ExpressionRefused(
            "EXPRESSION_TOO_LARGE", f"the expression has {len(nodes)} nodes; at most {MAX_EXPRESSION_NODES}"
        )
    for node in nodes:
        _check_node(node)
    text = source.strip()
    # tuples for `in`; comprehensions, attributes and everything else were refused by the check above
    evaluator = EvalWithCompoundTypes(operators=_OPERATORS, functions=EXPRESSION_FUNCTIONS, names={})
    return RuleExpression(text, evaluator.parse(text), evaluator)


def _check_node(node: ast.AST) -> None:
    if isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise ExpressionRefused(
                "EXPRESSION_FORBIDDEN", f"names starting with an underscore are refused ({node.id})"
            )
        if node.id not in EXPRESSION_NAMES and node.id not in EXPRESSION_FUNCTIONS and node.id not in ("True", "False"):
            known = ", ".join(sorted(EXPRESSION_NAMES))
            raise ExpressionRefused("EXPRESSION_UNKNOWN_NAME", f"unknown name {node.id!r}; known: {known}")
        return
    if isinstance(node, ast.Constant):
        _check_constant(node.value)
        return
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in EXPRESSION_FUNCTIONS:
            allowed = ", ".join(sorted(EXPRESSION_FUNCTIONS))
            raise ExpressionRefused("EXPRESSION_FORBIDDEN", f"only these functions may be called: {allowed}")
        if node.keywords or len(node.args) > 4 or any(isinstance(a, ast.Starred) for a in node.args):
            raise ExpressionRefused("EXPRESSION_FORBIDDEN", "calls take at most 4 plain arguments")
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise ExpressionRefused("EXPRESSION_FORBIDDEN", f"operator {type(node.op).__name__} is refused")
        if isinstance(node.op, ast.Mult) and any(
            isinstance(side, ast.Constant) and isinstance(side.value, str) for side in (node.left, node.right)
        ):
            raise ExpressionRefused("EXPRESSION_FORBIDDEN", "strings do not multiply in rule expressions")
        if isinstance(node.op, ast.Pow):
            exponent = node.right
            if not isinstance(exponent, ast.Constant) or not isinstance(exponent.value, int | float):
                raise ExpressionRefused("EXPRESSION_FORBIDDEN", "an exponent must be a number literal")
            if abs(exponent.value) > MAX_EXPONENT:
                raise ExpressionRefused("EXPRESSION_TOO_LARGE", f"exponent {exponent.value} is over {MAX_EXPONENT}")
        return
    if isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise ExpressionRefused("EXPRESSION_FORBIDDEN", f"operator {type(node.op).__name__} is refused")
        return
    if isinstance(node, ast.Compare):
        if any(type(op) not in _COMPARE for op in node.ops):
            raise ExpressionRefused("EXPRESSION_FORBIDDEN", "only ==, !=, <, <=, >, >=, in and not in compare")
        return
    if isinstance(node, (*_STRUCTURAL, *_CONTAINERS)) or type(node) in _BINARY or type(node) in _UNARY:
        if isinstance(node, ast.Tuple | ast.List) and len(node.elts) > 16:
            raise ExpressionRefused("EXPRESSION_TOO_LARGE", "a list holds at most 16 items")
        return
    if type(node) in _COMPARE:
        return
    what = {
        ast.Attribute: "attribute access",
        ast.Subscript: "subscripts",
        ast.Lambda: "lambdas",
        ast.ListComp: "comprehensions",
        ast.SetComp: "comprehensions",
        ast.DictComp: "comprehensions",
        ast.GeneratorExp: "comprehensions",
        ast.NamedExpr: "assignments",
        ast.JoinedStr: "f-strings",
    }.get(type(node), type(node).__name__)
    raise ExpressionRefused("EXPRESSION_FORBIDDEN", f"refused in rule expressions: {what}")


def _check_constant(value: object) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        if len(value) > MAX_STRING_CHARS:
            raise ExpressionRefused(
                "EXPRESSION_TOO_LARGE", f"a string literal holds at most {MAX_STRING_CHARS} characters"
            )
        return
    if isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > MAX_ABS_NUMBER:
            raise ExpressionRefused("EXPRESSION_TOO_LARGE", "number literals must be finite and at most 1e12")
        return
    raise ExpressionRefused("EXPRESSION_FORBIDDEN", f"{type(value).__name__} literals are refused")


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What a rule is matched against: one judged signal and what else is known of its symbol."""

    symbol: str
    recommendation: str
    score: float
    confidence: float
    price: float
    data_quality: float
    timeframe: str
    mode: str
    verdict: str | None = None
    mss_tier: str | None = None
    spike_z: float | None = None

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in EXPRESSION_NAMES}


@dataclass(frozen=True, slots=True)
class AlertCondition:
    """The typed conditions of a rule; ``None`` (or empty) means "any"."""

    symbols: frozenset[str] = frozenset()
    recommendations: frozenset[str] = frozenset()
    min_score: float | None = None
    min_confidence: float | None = None
    verdicts: frozenset[str] = frozenset()
    mss_tiers: frozenset[str] = frozenset()
    min_spike_z: float | None = None
    expression: RuleExpression | None = None


@dataclass(frozen=True, slots=True)
class RuleMatch:
    matched: bool
    reasons: tuple[str, ...] = field(default=())  # why it did not match (empty when it did)


def match_rule(condition: AlertCondition, facts: AlertFacts) -> RuleMatch:
    """Every set condition must hold; a condition on a missing value does not."""
    reasons: list[str] = []
    if condition.symbols and facts.symbol not in condition.symbols:
        reasons.append(f"symbol {facts.symbol} not in the rule's set")
    if condition.recommendations and facts.recommendation not in condition.recommendations:
        reasons.append(f"recommendation {facts.recommendation} not wanted")
    if condition.min_score is not None and facts.score < condition.min_score:
        reasons.append(f"score {facts.score:g} < {condition.min_score:g}")
    if condition.min_confidence is not None and facts.confidence < condition.min_confidence:
        reasons.append(f"confidence {facts.confidence:g} < {condition.min_confidence:g}")
    if condition.verdicts:
        if facts.verdict is None:
            reasons.append("verdict missing (the signal was not judged)")
        elif facts.verdict not in condition.verdicts:
            reasons.append(f"verdict {facts.verdict} not wanted")
    if condition.mss_tiers:
        if facts.mss_tier is None:
            reasons.append("MSS tier missing")
        elif facts.mss_tier not in condition.mss_tiers:
            reasons.append(f"MSS tier {facts.mss_tier} not wanted")
    if condition.min_spike_z is not None:
        if facts.spike_z is None:
            reasons.append("spike z-score missing")
        elif facts.spike_z < condition.min_spike_z:
            reasons.append(f"spike z-score {facts.spike_z:g} < {condition.min_spike_z:g}")
    if condition.expression is not None and not reasons:
        try:
            if not condition.expression.evaluate(facts.values()):
                reasons.append("expression is false")
        except Exception as exc:  # simpleeval raises its own classes too; none of them may fire a rule
            reasons.append(f"expression not evaluable: {exc.__class__.__name__}")
    return RuleMatch(not reasons, tuple(reasons))


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One rule fired on one signal: what every channel (Telegram, webhook, subscription) delivers."""

    rule_id: str
    rule_name: str
    facts: AlertFacts
    generated_at: datetime
    top_factors: tuple[tuple[str, float], ...] = ()  # (factor, score) strongest first
    plan: tuple[tuple[str, str], ...] = ()  # (label, value) of the trade plan, empty when none
    replayed: bool = False  # from a replayed cassette, not the live market
    risk_mode: str | None = None  # the deciding verdict's risk mode (None: not judged)
    decided_by: str | None = None  # AI or RULES (None: not judged)
    fallback_reason: str | None = None  # why the rules stood in for the AI; None when the AI decided or is off

    @property
    def dedup_key(self) -> str:
        """The same rule on the same signal (symbol, call, timeframe, mode, moment) is one alert."""
        f = self.facts
        return f"{self.rule_id}|{f.symbol}|{f.recommendation}|{f.timeframe}|{f.mode}|{self.generated_at.isoformat()}"

    def to_json(self) -> dict[str, Any]:
        """The webhook body (and the subscription's source): plain JSON values."""
        f = self.facts
        return {
            "ruleId": self.rule_id,
            "ruleName": self.rule_name,
            "dedupKey": self.dedup_key,
            "symbol": f.symbol,
            "recommendation": f.recommendation,
            "score": f.score,
            "confidence": f.confidence,
            "price": f.price,
            "timeframe": f.timeframe,
            "mode": f.mode,
            "verdict": f.verdict,
            "riskMode": self.risk_mode,
            "decidedBy": self.decided_by,
            "fallbackReason": self.fallback_reason,
            "mssTier": f.mss_tier,
            "spikeZ": f.spike_z,
            "generatedAt": self.generated_at.isoformat(),
            "topFactors": [{"name": n, "score": s} for n, s in self.top_factors],
            "plan": [{"label": k, "value": v} for k, v in self.plan],
            "replayed": self.replayed,
        }
