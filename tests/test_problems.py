"""Every domain problem a resolver returns has its GraphQL union member, with the same code and message."""

from __future__ import annotations

import pytest

from resolvers import problems
from schema.errors import problem

CASES: list[tuple[problems.Problem, str, dict[str, object]]] = [
    (problems.InvalidArgument("limit", "limit must be between 1 and 1000"), "InvalidInput", {"field": "limit"}),
    (problems.UnknownSymbol("FOOUSDT", "no venue lists FOOUSDT"), "SymbolNotFound", {"symbol": "FOOUSDT"}),
    (
        problems.NotEnoughData("NO_PRICE", "no price", "BTCUSDT", ("price: 451",), None),
        "InsufficientData",
        {"symbol": "BTCUSDT", "missing": ["price: 451"], "data_quality": None},
    ),
    (
        problems.UpstreamDown("okx did not answer", ("okx.funding: timeout",)),
        "UpstreamUnavailable",
        {"failed_sources": ["okx.funding: timeout"]},
    ),
    (
        problems.UnsupportedCapability("coinapi", "funding", "coinapi serves no funding"),
        "CapabilityUnsupported",
        {"exchange": "coinapi", "capability": "funding"},
    ),
    (problems.UnknownExchange("kraken", "unknown exchange 'kraken'"), "ExchangeNotFound", {"name": "kraken"}),
]


@pytest.mark.parametrize(("domain", "member", "fields"), CASES, ids=[c[1] for c in CASES])
def test_each_problem_becomes_its_union_member(
    domain: problems.Problem, member: str, fields: dict[str, object]
) -> None:
    converted = problem(domain)  # type: ignore[call-overload]  # the base class: every overload at once
    assert type(converted).__name__ == member
    assert (converted.code, converted.message) == (domain.code, domain.message)
    for name, value in fields.items():
        assert getattr(converted, name) == value


def _area_cases() -> list[tuple[problems.Problem, str, object]]:
    """Problems an area converts itself (its own union members), with the area's converter's answer."""
    from resolvers.alerts import AlertRuleProblem
    from resolvers.watchlist import WatchlistRefused, WatchlistUnavailable
    from schema.alerts import refused
    from schema.mss import _problem as watchlist_problem

    rule = AlertRuleProblem("TOO_MANY_ALERT_RULES", "at most 100 rules per key", "name")
    full = WatchlistRefused("WATCHLIST_FULL", "at most 100 coins per key", "symbol")
    off = WatchlistUnavailable("the watchlist needs the history database")
    return [
        (rule, "AlertRuleRefused", refused(rule)),
        (full, "WatchlistRefusedProblem", watchlist_problem(full)),
        (off, "HistoryUnavailable", watchlist_problem(off)),
    ]


def test_area_problems_become_their_areas_union_members() -> None:
    for domain, member, converted in _area_cases():
        assert type(converted).__name__ == member
        assert (converted.code, converted.message) == (domain.code, domain.message)  # type: ignore[attr-defined]


def test_every_problem_class_has_a_case() -> None:
    """A new Problem subclass needs a case in schema.errors.problem, or in its area's converter (alert rules,
    the watchlist; checked above); streams' refusals are GraphQL errors. Every resolver module is imported
    first, so the answer does not depend on which tests ran before."""
    import importlib
    import pkgutil

    import resolvers
    from resolvers.streams import StreamRefused

    for module in pkgutil.iter_modules(resolvers.__path__):
        importlib.import_module(f"resolvers.{module.name}")

    def subclasses(cls: type[problems.Problem]) -> set[type[problems.Problem]]:
        found: set[type[problems.Problem]] = set()
        for child in cls.__subclasses__():
            found |= {child, *subclasses(child)}
        return found

    covered = {type(domain) for domain, _, _ in CASES} | {type(domain) for domain, _, _ in _area_cases()}
    assert subclasses(problems.Problem) - {StreamRefused} == covered
