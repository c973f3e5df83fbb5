"""The helpers that several areas now share instead of each writing its own (the P3 de-duplication):
``resolvers.symbols.listed_instrument`` behind ``socialHype``, ``TradePlan.to_json`` behind the stored plan
and the AI's payload, and ``judge_gate``'s one ``GateVerdict`` on the branch no other test reaches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from engine.backtest import ALWAYS_LONG, MOMENTUM_ONLY
from engine.calibrated_fit import CALIBRATED, judge_gate
from engine.evaluation import call_figures
from engine.modes import Recommendation
from engine.plan import RiskMode, TradePlan
from tests.conftest import running_service
from tests.test_mss import mss_cassette

if TYPE_CHECKING:
    from collections.abc import Callable

HYPE = "query ($s: String!) { socialHype(symbol: $s) { __typename ... on Problem { code } "
HYPE += "... on InvalidInput { field } ... on SymbolNotFound { symbol } } }"


async def test_social_hype_checks_its_symbol_like_every_one_coin_field(graphql: Callable[..., Any]) -> None:
    async with running_service(mss_cassette(lunarcrush=False)) as (base, replay):
        _, bad = await graphql(base, HYPE, {"s": "BTC USDT!"})
        _, unknown = await graphql(base, HYPE, {"s": "NOTACOIN"})
        calls = dict(replay.calls)
    assert bad["data"]["socialHype"] == {"__typename": "InvalidInput", "code": "INVALID_INPUT", "field": "symbol"}
    assert unknown["data"]["socialHype"] == {
        "__typename": "SymbolNotFound",
        "code": "SYMBOL_NOT_FOUND",
        "symbol": "NOTACOINUSDT",  # the canonical pair that no listing source has
    }
    # only the listing was read: a refused symbol costs no trending, social or ticker call
    assert any(k.startswith("binance GET /fapi/v1/exchangeInfo") for k in calls), calls
    assert not any(k.startswith(("coingecko", "lunarcrush")) for k in calls), calls


PLAN = TradePlan(
    side=Recommendation.SHORT,
    entry=111126.7,
    stop=112900.1,
    take_profit=106693.2,
    atr=709.36,
    atr_pct=0.6383,
    size_multiplier=0.5,
    risk_mode=RiskMode.REDUCED,
    tick_size=0.1,
)


def test_a_plan_has_one_json_form_and_it_reads_back_as_the_same_graphql_plan() -> None:
    from schema.judge import TradePlan as GraphQLPlan

    stored = PLAN.to_json()
    assert stored == {
        "entry": 111126.7,
        "stop": 112900.1,
        "take_profit": 106693.2,
        "atr": 709.36,
        "atr_pct": 0.6383,
        "size_multiplier": 0.5,
        "risk_mode": "REDUCED",
    }
    assert GraphQLPlan.from_json(stored) == GraphQLPlan.of(PLAN)


def test_the_gate_with_too_few_calibrated_calls_does_not_pass_and_still_names_the_baselines() -> None:
    hours = 24.0
    net: dict[tuple[str, float], list[float | None]] = {
        (CALIBRATED, hours): [0.5, None, -0.2, None],
        (ALWAYS_LONG, hours): [0.1, 0.2, -0.3, 0.4],
        (MOMENTUM_ONLY, hours): [0.3, 0.3, 0.3, None],
    }
    figures = [call_figures(s, h, values) for (s, h), values in net.items()]
    gate = judge_gate(figures, net, hours, min_calls=3)
    assert not gate.passes
    assert "CALIBRATED made 2 calls out of sample (fewer than 3)" in gate.statement
    assert gate.horizon_hours == hours
    assert gate.calibrated_mean == pytest.approx(0.15) and gate.always_long_mean == pytest.approx(0.1)
    assert gate.best_factor == MOMENTUM_ONLY and gate.best_factor_mean == pytest.approx(0.3)
    assert gate.vs_always_long is None and gate.vs_best_factor is None
    # with no single factor over the minimum, the gate says so instead of naming one
    gate = judge_gate(figures, net, hours, min_calls=4)
    assert gate.best_factor is None and gate.best_factor_mean is None and not gate.passes
