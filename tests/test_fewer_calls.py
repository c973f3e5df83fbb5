"""Fewer upstream calls for several symbols in one request, over the real HTTP path (a replay server on
127.0.0.1 counts the calls): OKX open interest from its one all-swaps answer, Binance funding intervals
from one ``fundingInfo`` answer instead of one funding history per symbol (and the history again when
``fundingInfo`` fails)."""

from __future__ import annotations

import asyncio
from typing import Any

from providers.errors import InvalidSymbol
from providers.registry import Registry
from providers.replay import Cassette, ReplayApp
from providers.symbols import parse_symbol
from providers.venue import Capability
from resolvers.loaders import Loaders
from tests.providers_helpers import cassette_entry, fixture_json, served_deps


async def test_okx_open_interest_of_several_symbols_is_one_all_swaps_call() -> None:
    from providers.okx.venue import build as build_okx

    # OKX's documented example row (https://www.okx.com/docs-v5/en/#public-data-rest-api-get-open-interest)
    rows = fixture_json("okx", "api_v5_public_open_interest.docs.json")["data"]
    documented = {**rows[0], "oiUsd": "50000000"}
    http = [
        cassette_entry(
            "okx", "/api/v5/public/open-interest", {"code": "0", "msg": "", "data": [documented]}, {"instType": "SWAP"}
        ),
    ]
    replay = ReplayApp(Cassette.model_validate({"version": 1, "clock": 1597026383085, "http": http}))
    async with served_deps(replay.app, "okx", {}) as deps:
        okx = build_okx(deps)
        assert okx.supports(Capability.OPEN_INTERESTS)
        loaders = Loaders(Registry(providers={"okx": okx}, status={"okx": "enabled"}))
        loader = loaders.open_interest(okx)
        btc, eth, sol = await asyncio.gather(
            *(loader.load(parse_symbol(s)) for s in ("BTC", "ETH", "SOL")), return_exceptions=True
        )
    assert not isinstance(btc, BaseException) and (btc.coins, btc.usd) == (555.55, 50000000.0)
    assert isinstance(eth, InvalidSymbol) and isinstance(sol, InvalidSymbol)  # not in the all-swaps answer
    assert dict(replay.calls) == {"okx GET /api/v5/public/open-interest": 1}


def _binance_cassette(with_funding_info: bool) -> dict[str, Any]:
    btc = fixture_json("binance", "fapi_v1_premiumIndex.json")  # a live BTCUSDT row
    eth = {**btc, "symbol": "ETHUSDT"}  # the same row relabelled: a second listed symbol
    history = fixture_json("binance", "fapi_v1_fundingRate.json")  # live BTCUSDT history, 8 h apart
    http = [
        cassette_entry("binance", "/fapi/v1/premiumIndex", [btc, eth]),
        cassette_entry("binance", "/fapi/v1/fundingRate", history, {"symbol": "BTCUSDT"}),
        cassette_entry(
            "binance", "/fapi/v1/fundingRate", [{**h, "symbol": "ETHUSDT"} for h in history], {"symbol": "ETHUSDT"}
        ),
    ]
    if with_funding_info:
        info = [  # Binance's documented row shape; ETHUSDT adjusted to 4 h (hand-made values), BTCUSDT absent: 8 h
            {"symbol": "ETHUSDT", "adjustedFundingRateCap": "0.03000000", "adjustedFundingRateFloor": "-0.03000000",
             "fundingIntervalHours": 4, "disclaimer": False},
        ]  # fmt: skip
        http.append(cassette_entry("binance", "/fapi/v1/fundingInfo", info))
    return {"version": 1, "clock": 1785676356000, "http": http}


async def test_binance_funding_of_several_symbols_takes_two_calls_with_funding_info() -> None:
    from providers.binance.venue import build as build_binance

    replay = ReplayApp(Cassette.model_validate(_binance_cassette(with_funding_info=True)))
    async with served_deps(replay.app, "binance", {}) as deps:
        rates = await build_binance(deps).fundings([parse_symbol("BTC"), parse_symbol("ETH"), parse_symbol("NOPE")])
    assert set(rates) == {"BTCUSDT", "ETHUSDT"}
    assert (rates["BTCUSDT"].interval_hours, rates["ETHUSDT"].interval_hours) == (8.0, 4.0)
    assert rates["BTCUSDT"].rate == 0.00009145 and rates["BTCUSDT"].interval_note is None
    assert dict(replay.calls) == {"binance GET /fapi/v1/premiumIndex": 1, "binance GET /fapi/v1/fundingInfo": 1}


async def test_binance_funding_falls_back_to_each_history_without_funding_info() -> None:
    from providers.binance.venue import build as build_binance

    replay = ReplayApp(Cassette.model_validate(_binance_cassette(with_funding_info=False)))
    async with served_deps(replay.app, "binance", {}) as deps:
        rates = await build_binance(deps).fundings([parse_symbol("BTC"), parse_symbol("ETH")])
    assert (rates["BTCUSDT"].interval_hours, rates["ETHUSDT"].interval_hours) == (8.0, 8.0)  # from the spacing
    assert replay.calls["binance GET /fapi/v1/fundingInfo"] == 1  # tried once (404 here), then the histories
    assert replay.calls["binance GET /fapi/v1/fundingRate"] == 2
