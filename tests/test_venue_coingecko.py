"""CoinGecko: the markets / search / trending parsers over the official OpenAPI examples in
``shared/fixtures/coingecko``, and the ``coingecko`` MarketProvider (SOCIAL over the community votes)
end to end over real HTTP, with and without the optional demo key.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from engine.market import CandleInterval, SocialSentiment
from providers.coingecko.domain import CoinGeckoClient, parse_markets, parse_search, parse_trending
from providers.coingecko.venue import (
    DEFAULT_BASE_URL,
    DEMO_KEY_HEADER,
    KEY_SETTING,
    RATE_LIMIT_PER_SECOND,
    CoinGeckoVenue,
    build,
)
from providers.errors import InvalidSymbol, MalformedPayload
from providers.replay import Cassette, ReplayApp
from providers.symbols import parse_symbol
from providers.venue import Capability, CapabilityNotSupported, ProviderDeps
from tests.providers_helpers import fixture_json, served_deps

if TYPE_CHECKING:
    import contextlib
    from collections.abc import Mapping

    from starlette.requests import Request


BTC = parse_symbol("BTC")


def cg(name: str) -> Any:
    return fixture_json("coingecko", name)


# --------------------------------------------------------------------------------------------------
# parsers


def test_markets() -> None:
    raw = cg("coins_markets.json")
    (btc,) = parse_markets(raw)
    assert (btc.id, btc.symbol, btc.name) == ("bitcoin", "btc", "Bitcoin")
    assert btc.current_price == 77671.0
    assert btc.market_cap == 1555886872303.0 and btc.market_cap_rank == 1
    assert btc.total_volume == 33235034316.0
    assert (btc.high_24h, btc.low_24h) == (78419.0, 76696.0)
    assert btc.price_change_percentage_24h == -0.95302  # percent, as sent
    assert btc.circulating_supply == 20030493.0
    assert btc.last_updated == datetime(2026, 5, 18, 12, 49, 21, 599000, tzinfo=UTC)


def test_markets_null_fields_stay_none() -> None:
    raw = copy.deepcopy(cg("coins_markets.json"))
    raw[0].update({"current_price": None, "market_cap_rank": None, "last_updated": None})
    (btc,) = parse_markets(raw)
    assert (btc.current_price, btc.market_cap_rank, btc.last_updated) == (None, None, None)


def test_search_reads_coins_only() -> None:
    (eth,) = parse_search(cg("search.json"))
    assert (eth.id, eth.name, eth.symbol, eth.market_cap_rank) == ("ethereum", "Ethereum", "ETH", 2)


def test_trending() -> None:
    (bonk,) = parse_trending(cg("search_trending.json"))
    assert (bonk.id, bonk.name, bonk.symbol) == ("bonk", "Bonk", "BONK")
    assert bonk.market_cap_rank == 103 and bonk.score == 0
    assert bonk.price_usd == 5.938674704566297e-06
    assert bonk.price_change_percentage_24h_usd == -3.2712597351582655


def test_trending_is_ordered_by_score() -> None:
    raw = copy.deepcopy(cg("search_trending.json"))
    second = copy.deepcopy(raw["coins"][0])
    second["item"].update({"id": "other", "score": 1})
    raw["coins"] = [second, raw["coins"][0]]
    assert [c.id for c in parse_trending(raw)] == ["bonk", "other"]


# --------------------------------------------------------------------------------------------------
# the provider


def test_module_constants() -> None:
    assert DEFAULT_BASE_URL == "https://api.coingecko.com/api/v3"
    assert KEY_SETTING == "COINGECKO_API_KEY"
    assert 0 < RATE_LIMIT_PER_SECOND <= 0.25
    assert CoinGeckoVenue.name == "coingecko"
    assert CoinGeckoVenue.capabilities == frozenset(
        {
            Capability.SOCIAL,
            Capability.COIN_MARKETS,
            Capability.COIN_DETAILS,
            Capability.SOCIAL_METRICS,
            Capability.TRENDING,
        }
    )
    assert not CoinGeckoVenue.keyed


def _deps_for(app: Any, keys: Mapping[str, str | None]) -> contextlib.AbstractAsyncContextManager[ProviderDeps]:
    return served_deps(app, "coingecko", keys)


def _entry(path: str, body: Any, match: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"provider": "coingecko", "method": "GET", "path": path, "match": dict(match or {}), "body": body}


async def test_end_to_end_over_replay() -> None:
    coin = cg("coins_id.json")
    no_votes = copy.deepcopy(coin)
    no_votes["sentiment_votes_up_percentage"] = None
    cassette = Cassette.model_validate(
        {
            "version": 1,
            "clock": 1747572561599,
            "http": [
                _entry("/coins/bitcoin", coin),
                _entry("/coins/ethereum", no_votes),
                _entry("/coins/markets", cg("coins_markets.json"), {"vs_currency": "usd", "ids": "bitcoin"}),
                _entry("/search", cg("search.json"), {"query": "ethereum"}),
                _entry("/search/trending", cg("search_trending.json")),
            ],
        }
    )
    replay = ReplayApp(cassette)
    async with _deps_for(replay.app, {}) as deps:
        provider = build(deps)  # keyless: always built
        assert isinstance(provider, CoinGeckoVenue)
        social = await provider.social(BTC)
        assert social == SocialSentiment(
            score=float(coin["sentiment_votes_up_percentage"]),
            kind="coingecko_sentiment_votes_up_pct",
            time=datetime.fromisoformat(coin["last_updated"]),  # the votes are as old as the coin's update
        )
        assert social.score == 84.07

        assert isinstance(provider.raw, CoinGeckoClient)
        (market,) = await provider.raw.markets(["bitcoin"])
        assert market.current_price == 77671.0
        (hit,) = await provider.raw.search("ethereum")
        assert hit.id == "ethereum"
        (trend,) = await provider.raw.trending()
        assert trend.id == "bonk"

        with pytest.raises(MalformedPayload):  # nobody voted
            await provider.social(parse_symbol("ETH"))
        with pytest.raises(InvalidSymbol):  # no CoinGecko id known: no request at all
            await provider.social(parse_symbol("NOTACOIN"))
        with pytest.raises(CapabilityNotSupported):
            await provider.candles(BTC, CandleInterval.H1, 10)
        assert sum(replay.calls.values()) == 5


@pytest.mark.parametrize(("keys", "expected"), [({}, None), ({"coingecko": "CG-demo"}, "CG-demo")])
async def test_demo_key_header_only_when_configured(keys: dict[str, str], expected: str | None) -> None:
    seen: list[str | None] = []

    async def coin(request: Request) -> JSONResponse:
        seen.append(request.headers.get(DEMO_KEY_HEADER))
        return JSONResponse(cg("coins_id.json"))

    app = Starlette(routes=[Route("/coingecko/coins/bitcoin", coin)])
    async with _deps_for(app, keys) as deps:
        provider = build(deps)
        assert provider is not None
        assert (await provider.social(BTC)).score == 84.07
    assert seen == [expected]
