"""LunarCrush v4: the coin parser over the shared live capture (``public_coins_BTC_v1.json``), the other
raw endpoints over payloads written with the field names of LunarCrush's documentation (no fixture of
them is shared), the error hook, the keyed ``build`` and the provider end to end over real HTTP.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from engine.market import CandleInterval, SocialSentiment
from providers.cache import MemoryCache
from providers.config import CacheTtls
from providers.errors import AuthenticationFailed, InvalidRequest, InvalidSymbol, MalformedPayload
from providers.lunarcrush.domain import GALAXY_SCORE_KIND, parse_coin, to_social
from providers.lunarcrush.models import Answer, LunarCrushCoin, LunarCrushTopic, LunarCrushTopicSummary
from providers.lunarcrush.raw import LunarCrushClient, lunarcrush_error_hook
from providers.lunarcrush.venue import DEFAULT_BASE_URL, KEY_SETTING, RATE_LIMIT_PER_SECOND, LunarCrushMarket, build
from providers.replay import Cassette, ReplayApp
from providers.symbols import parse_symbol
from providers.venue import Capability, CapabilityNotSupported, ProviderDeps
from tests.providers_helpers import fixture_json, served_deps

if TYPE_CHECKING:
    import contextlib
    from collections.abc import Mapping

    from starlette.requests import Request

    from providers.http import ErrorHook, ProviderHttp

BTC = parse_symbol("BTC")
KEY = "lc-test-key"


def parse_coins_list(payload: dict[str, Any]) -> tuple[LunarCrushCoin, ...]:
    return Answer[tuple[LunarCrushCoin, ...]].model_validate(payload).data


def parse_topic(payload: dict[str, Any]) -> LunarCrushTopic:
    return Answer[LunarCrushTopic].model_validate(payload).data


def parse_topics_list(payload: dict[str, Any]) -> tuple[LunarCrushTopicSummary, ...]:
    return Answer[tuple[LunarCrushTopicSummary, ...]].model_validate(payload).data


# /public/coins/list/v2: documented fields (config: sort, limit, page, total_rows, generated)
COINS_LIST_V2 = {
    "config": {
        "sort": "galaxy_score",
        "desc": True,
        "limit": 2,
        "page": 0,
        "total_rows": 4530,
        "generated": 1764473870,
    },
    "data": [
        {
            "id": 1,
            "symbol": "BTC",
            "name": "Bitcoin",
            "price": 90753.83890560888,
            "price_btc": 1,
            "volume_24h": 37439172014.05,
            "volatility": 0.0049,
            "circulating_supply": 19955575,
            "max_supply": 21000000,
            "percent_change_1h": 0.1,
            "percent_change_24h": 0.043154121945,
            "percent_change_7d": 5.403515275849,
            "market_cap": 1811045038818.8,
            "market_cap_rank": 1,
            "interactions_24h": 120456789,
            "social_volume_24h": 180345,
            "social_dominance": 21.3,
            "market_dominance": 58.2,
            "galaxy_score": 48.5,
            "galaxy_score_previous": 51,
            "alt_rank": 104,
            "alt_rank_previous": 87,
            "sentiment": 79,
            "categories": "layer-1,bitcoin-ecosystem",
            "topic": "bitcoin",
        },
        {
            "id": 99,
            "symbol": "NEWCOIN",
            "name": "New Coin",
            "price": 0.01,
            "market_cap_rank": None,
            "galaxy_score": None,
            "alt_rank": None,
            "sentiment": None,
        },
    ],
}
# /public/topic/:topic/v1
TOPIC_V1 = {
    "config": {"topic": "bitcoin", "generated": 1764473870},
    "data": {
        "topic": "bitcoin",
        "title": "Bitcoin",
        "topic_rank": 2,
        "related_topics": ["ethereum", "crypto", "etf"],
        "types_count": {"tweet": 61234, "reddit-post": 812},
        "types_interactions": {"tweet": 98123456, "reddit-post": 123456},
        "types_sentiment": {"tweet": 78, "reddit-post": 71},
        "types_sentiment_detail": {"tweet": {"positive": 40123, "neutral": 15012, "negative": 6099}},
        "interactions_24h": 150123456,
        "num_contributors": 98765,
        "num_posts": 123456,
        "categories": ["cryptocurrencies"],
        "trend": "up",
    },
}
# /public/topics/list/v1: the documentation's example response, verbatim
TOPICS_LIST_V1 = {
    "data": [
        {
            "topic": "youtube",
            "title": "YouTube",
            "topic_rank": 1,
            "topic_rank_1h_previous": 1,
            "topic_rank_24h_previous": 1,
            "num_contributors": 335952,
            "num_posts": 733220,
            "interactions_24h": 3296046298,
        }
    ]
}


def btc_coin() -> Any:
    return fixture_json("lunarcrush", "public_coins_BTC_v1.json")


# --------------------------------------------------------------------------------------------------
# parsers


def test_coin_from_the_live_capture() -> None:
    raw = btc_coin()
    coin = parse_coin(raw)
    assert coin.id == 1 and coin.symbol == "BTC" and coin.name == "Bitcoin"
    assert coin.galaxy_score == raw["data"]["galaxy_score"] == 48.5
    assert coin.alt_rank == 104
    assert coin.price == 90753.83890560888
    assert coin.percent_change_24h == 0.043154121945
    assert coin.market_cap_rank == 1
    assert coin.sentiment is None  # not in this answer
    assert coin.generated == datetime(2025, 11, 30, 3, 37, 50, tzinfo=UTC)  # config.generated 1764473870


def test_social_score_is_the_galaxy_score() -> None:
    social = to_social(parse_coin(btc_coin()))
    assert social == SocialSentiment(score=48.5, kind=GALAXY_SCORE_KIND)
    assert social.kind == "lunarcrush_galaxy_score"
    assert 0.0 <= social.score <= 100.0


def test_coin_without_a_galaxy_score_is_an_unknown_symbol() -> None:
    raw = btc_coin()
    del raw["data"]["galaxy_score"]
    with pytest.raises(InvalidSymbol):
        to_social(parse_coin(raw))


def test_coin_with_null_data_is_malformed_shape() -> None:
    with pytest.raises(TypeError):
        parse_coin({"config": {}, "data": None})


def test_coins_list_v2() -> None:
    coins = parse_coins_list(COINS_LIST_V2)
    assert [c.symbol for c in coins] == ["BTC", "NEWCOIN"]
    btc = coins[0]
    assert (btc.galaxy_score, btc.alt_rank, btc.sentiment) == (48.5, 104, 79.0)
    assert btc.social_dominance == 21.3 and btc.interactions_24h == 120456789.0
    assert btc.generated == datetime.fromtimestamp(1764473870, tz=UTC)
    assert (coins[1].galaxy_score, coins[1].alt_rank, coins[1].market_cap_rank) == (None, None, None)


def test_topic_v1() -> None:
    topic = parse_topic(TOPIC_V1)
    assert (topic.topic, topic.title, topic.topic_rank, topic.trend) == ("bitcoin", "Bitcoin", 2, "up")
    assert topic.types_sentiment == {"tweet": 78.0, "reddit-post": 71.0}
    assert topic.related_topics == ("ethereum", "crypto", "etf")
    assert (topic.num_contributors, topic.num_posts, topic.interactions_24h) == (98765, 123456, 150123456.0)


def test_topics_list_v1() -> None:
    (youtube,) = parse_topics_list(TOPICS_LIST_V1)
    assert youtube.topic == "youtube" and youtube.title == "YouTube"
    assert youtube.topic_rank == 1 and youtube.topic_rank_24h_previous == 1
    assert (youtube.num_contributors, youtube.num_posts, youtube.interactions_24h) == (335952, 733220, 3296046298.0)


# --------------------------------------------------------------------------------------------------
# error hook, build, constants


def test_error_hook() -> None:
    assert isinstance(
        lunarcrush_error_hook("lunarcrush", "coins", 401, {"error": "Unauthorized"}), AuthenticationFailed
    )
    assert isinstance(lunarcrush_error_hook("lunarcrush", "coins", 402, {"error": "Upgrade"}), AuthenticationFailed)
    assert isinstance(lunarcrush_error_hook("lunarcrush", "coins", 403, None), AuthenticationFailed)
    assert isinstance(lunarcrush_error_hook("lunarcrush", "coins", 404, None), InvalidSymbol)
    not_found = lunarcrush_error_hook("lunarcrush", "coins", 200, {"error": "Coin not found"})
    assert isinstance(not_found, InvalidSymbol)
    other = lunarcrush_error_hook("lunarcrush", "coins", 400, {"error": "invalid sort"})
    assert isinstance(other, InvalidRequest) and not isinstance(other, InvalidSymbol)
    assert lunarcrush_error_hook("lunarcrush", "coins", 429, {"error": "slow down"}) is None
    assert lunarcrush_error_hook("lunarcrush", "coins", 503, None) is None
    assert lunarcrush_error_hook("lunarcrush", "coins", 200, btc_coin()) is None


def _never_called(
    provider: str, base_url: str, error_hook: ErrorHook | None, headers: Mapping[str, str] | None
) -> ProviderHttp:
    raise AssertionError("no HTTP client without a key")


@pytest.mark.parametrize("keys", [{}, {"lunarcrush": None}, {"lunarcrush": ""}])
def test_build_without_a_key_is_disabled(keys: dict[str, str | None]) -> None:
    deps = ProviderDeps(
        base_urls={"lunarcrush": DEFAULT_BASE_URL},
        keys=keys,
        ttls=CacheTtls(),
        cache=MemoryCache(),
        http_factory=_never_called,
    )
    assert build(deps) is None


def test_module_constants() -> None:
    assert KEY_SETTING == "LUNARCRUSH_API_KEY"
    assert DEFAULT_BASE_URL == "https://lunarcrush.com/api4"
    assert 0 < RATE_LIMIT_PER_SECOND <= 10 / 60
    assert LunarCrushMarket.keyed
    assert LunarCrushMarket.capabilities == frozenset({Capability.SOCIAL, Capability.SOCIAL_METRICS})


# --------------------------------------------------------------------------------------------------
# end to end over real HTTP


def _deps_for(app: Any, keys: Mapping[str, str | None]) -> contextlib.AbstractAsyncContextManager[ProviderDeps]:
    return served_deps(app, "lunarcrush", keys)


def _entry(path: str, body: Any, match: Mapping[str, str] | None = None, status: int = 200) -> dict[str, Any]:
    return {
        "provider": "lunarcrush",
        "method": "GET",
        "path": path,
        "match": dict(match or {}),
        "status": status,
        "body": body,
    }


async def test_end_to_end_over_replay() -> None:
    cassette = Cassette.model_validate(
        {
            "version": 1,
            "clock": 1764473870000,
            "http": [
                _entry("/public/coins/BTC/v1", btc_coin()),
                _entry("/public/coins/NOPE/v1", {"error": "Coin not found"}, status=404),
                _entry("/public/coins/EMPTY/v1", {"config": {}, "data": None}),
                _entry("/public/coins/list/v2", COINS_LIST_V2, {"sort": "galaxy_score", "desc": "true"}),
                _entry("/public/topic/bitcoin/v1", TOPIC_V1),
                _entry("/public/topics/list/v1", TOPICS_LIST_V1),
            ],
        }
    )
    replay = ReplayApp(cassette)
    async with _deps_for(replay.app, {"lunarcrush": KEY}) as deps:
        provider = build(deps)
        assert isinstance(provider, LunarCrushMarket)
        assert await provider.social(BTC) == SocialSentiment(score=48.5, kind="lunarcrush_galaxy_score")

        assert isinstance(provider.raw, LunarCrushClient)
        coins = await provider.raw.coins_list(sort="galaxy_score", desc=True, limit=2)
        assert coins[0].galaxy_score == 48.5
        topic = await provider.raw.topic("Bitcoin")  # topics are lower case on the wire
        assert topic.trend == "up"
        topics = await provider.raw.topics_list()
        assert topics[0].interactions_24h == 3296046298.0

        with pytest.raises(InvalidSymbol):
            await provider.social(parse_symbol("NOPE"))
        with pytest.raises(MalformedPayload):
            await provider.social(parse_symbol("EMPTY"))
        with pytest.raises(CapabilityNotSupported):
            await provider.candles(BTC, CandleInterval.H1, 10)
        assert replay.calls["lunarcrush GET /public/coins/NOPE/v1"] == 1  # not retried


async def test_bearer_key_is_sent_and_a_bad_key_is_fatal() -> None:
    seen: list[str | None] = []

    async def coin(request: Request) -> JSONResponse:
        auth = request.headers.get("Authorization")
        seen.append(auth)
        if auth != f"Bearer {KEY}":
            return JSONResponse({"error": "Unauthorized"}, status_code=401)
        return JSONResponse(btc_coin())

    app = Starlette(routes=[Route("/lunarcrush/public/coins/BTC/v1", coin)])
    async with _deps_for(app, {"lunarcrush": KEY}) as deps:
        provider = build(deps)
        assert provider is not None
        assert (await provider.social(BTC)).score == 48.5
    async with _deps_for(app, {"lunarcrush": "revoked"}) as deps:
        provider = build(deps)
        assert provider is not None
        with pytest.raises(AuthenticationFailed):
            await provider.social(BTC)
    assert seen == [f"Bearer {KEY}", "Bearer revoked"]
