"""OKX funding for several symbols in one request is one ``funding-rate?instId=ANY`` call, over the real HTTP
path (a replay server on 127.0.0.1 counts the calls): the ``market`` query for 20 symbols made 20."""

from __future__ import annotations

import asyncio

from providers.errors import InvalidSymbol
from providers.registry import Registry
from providers.replay import Cassette, ReplayApp
from providers.symbols import parse_symbol
from providers.venue import Capability
from resolvers.loaders import Loaders
from tests.providers_helpers import cassette_entry, fixture_json, served_deps


async def test_okx_funding_of_several_symbols_is_one_all_swaps_call() -> None:
    from providers.okx.venue import build as build_okx

    # OKX's documented example row (https://www.okx.com/docs-v5/en/#public-data-rest-api-get-funding-rate),
    # relabelled for a second USDT swap and for a coin-margined swap (which the USDT view never reads)
    btc = fixture_json("okx", "api_v5_public_funding_rate.docs.json")["data"][0]
    eth = {**btc, "instId": "ETH-USDT-SWAP", "fundingRate": "-0.0001"}
    inverse = {**btc, "instId": "BTC-USD-SWAP", "fundingRate": "0.0003"}
    body = {"code": "0", "msg": "", "data": [btc, inverse, eth]}
    http = [cassette_entry("okx", "/api/v5/public/funding-rate", body, {"instId": "ANY"})]
    replay = ReplayApp(Cassette.model_validate({"version": 1, "clock": 1703070685309, "http": http}))
    async with served_deps(replay.app, "okx", {}) as deps:
        okx = build_okx(deps)
        assert okx.supports(Capability.FUNDINGS)
        loader = Loaders(Registry(providers={"okx": okx}, status={"okx": "enabled"})).funding(okx)
        got_btc, got_eth, got_sol = await asyncio.gather(
            *(loader.load(parse_symbol(s)) for s in ("BTC", "ETH", "SOL")), return_exceptions=True
        )
    assert not isinstance(got_btc, BaseException) and not isinstance(got_eth, BaseException)
    assert (got_btc.symbol, got_btc.rate, got_btc.interval_hours) == ("BTCUSDT", 0.000079238688534, 8.0)
    assert (got_eth.symbol, got_eth.rate) == ("ETHUSDT", -0.0001)  # its own row, not the coin-margined one
    assert isinstance(got_sol, InvalidSymbol)  # not in the all-swaps answer: named, never a neutral default
    assert dict(replay.calls) == {"okx GET /api/v5/public/funding-rate": 1}


def test_the_all_swaps_parse_validates_only_usdt_swaps() -> None:
    from providers.okx.raw import parse_fundings

    btc = fixture_json("okx", "api_v5_public_funding_rate.docs.json")["data"][0]
    rows = parse_fundings({"code": "0", "msg": "", "data": [{**btc, "instId": "BTC-USD-SWAP"}, btc]})
    assert [r.instId for r in rows] == ["BTC-USDT-SWAP"]
    try:
        parse_fundings({"code": "0", "msg": "", "data": ["not a row"]})
    except (TypeError, ValueError):
        pass  # a row that is not an object still fails, so the HTTP layer reports MalformedPayload
    else:
        raise AssertionError("a malformed row was accepted")
