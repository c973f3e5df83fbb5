"""LunarCrush API v4 (keyed: ``Authorization: Bearer <key>``): social metrics of coins and topics.

Docs: https://lunarcrush.com/developers/api/endpoints. Answers are ``{"config": {...}, "data": ...}``;
``config.generated`` is the epoch second the snapshot was built. The normalized social score is the
Galaxy Score™, a 0..100 composite of social and market health; AltRank™ (1 = best) and sentiment
(percent of positive posts, 0..100) are kept on the raw model for callers that want more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from engine.market import SocialSentiment
from providers.errors import AuthenticationFailed, InvalidRequest, InvalidSymbol, UpstreamError
from providers.venue import Capability, MarketProvider

if TYPE_CHECKING:
    from providers.config import CacheTtls
    from providers.http import ProviderHttp
    from providers.symbols import Instrument
    from providers.venue import ProviderDeps

PROVIDER = "lunarcrush"
DEFAULT_BASE_URL = "https://lunarcrush.com/api4"
KEY_SETTING = "LUNARCRUSH_API_KEY"
# Pricing / API docs (https://lunarcrush.com/pricing): the Individual plan allows 10 requests per
# minute and 2,000 per day; design for that floor. Social answers are cached for minutes anyway.
RATE_LIMIT_PER_SECOND = 10 / 60
GALAXY_SCORE_KIND = "lunarcrush_galaxy_score"


def lunarcrush_error_hook(provider: str, endpoint: str, status: int, payload: Any) -> UpstreamError | None:
    """Errors arrive as ``{"error": "..."}``; 401 / 402 / 403 mean a bad key or a plan without access.

    429 and 5xx fall through to :func:`providers.errors.classify_status` (retryable, ``Retry-After``).
    """
    if status == 429 or status >= 500:
        return None
    message = ""
    if isinstance(payload, dict):
        error = payload.get("error")
        message = str(error) if error else ""
    if status in (401, 402, 403):
        return AuthenticationFailed(provider, endpoint, f"HTTP {status}: {message or 'key rejected'}", status=status)
    if status == 404:
        return InvalidSymbol(provider, endpoint, f"HTTP 404: {message or 'not found'}", status=status)
    if message:
        lowered = message.lower()
        if "not found" in lowered or "unknown" in lowered or "invalid coin" in lowered:
            return InvalidSymbol(provider, endpoint, f"HTTP {status}: {message}", status=status)
        return InvalidRequest(provider, endpoint, f"HTTP {status}: {message}", status=status)
    return None


# --------------------------------------------------------------------------------------------------
# venue models and parsers


@dataclass(frozen=True, slots=True)
class LunarCrushCoin:
    """A coin's social and market snapshot; social fields are ``None`` where LunarCrush has none."""

    id: int
    symbol: str
    name: str
    galaxy_score: float | None  # 0..100
    alt_rank: int | None  # 1 = strongest momentum
    sentiment: float | None  # % of positive posts, 0..100
    price: float | None
    market_cap_rank: int | None
    percent_change_24h: float | None
    social_dominance: float | None = None
    interactions_24h: float | None = None
    generated: datetime | None = None


@dataclass(frozen=True, slots=True)
class LunarCrushTopicSummary:
    topic: str
    title: str
    topic_rank: int
    topic_rank_24h_previous: int | None
    num_contributors: int
    num_posts: int
    interactions_24h: float


@dataclass(frozen=True, slots=True)
class LunarCrushTopic:
    topic: str
    title: str
    topic_rank: int
    trend: str | None  # "up", "down" or "flat"
    interactions_24h: float
    num_contributors: int
    num_posts: int
    types_sentiment: dict[str, float]  # post type → % positive
    related_topics: tuple[str, ...]
    categories: tuple[str, ...]


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _generated(payload: dict[str, Any]) -> datetime | None:
    config = payload.get("config")
    if isinstance(config, dict) and config.get("generated") is not None:
        return datetime.fromtimestamp(int(config["generated"]), tz=UTC)
    return None


def _coin(row: dict[str, Any], generated: datetime | None) -> LunarCrushCoin:
    return LunarCrushCoin(
        id=int(row["id"]),
        symbol=str(row["symbol"]),
        name=str(row["name"]),
        galaxy_score=_opt_float(row.get("galaxy_score")),
        alt_rank=_opt_int(row.get("alt_rank")),
        sentiment=_opt_float(row.get("sentiment")),
        price=_opt_float(row.get("price")),
        market_cap_rank=_opt_int(row.get("market_cap_rank")),
        percent_change_24h=_opt_float(row.get("percent_change_24h")),
        social_dominance=_opt_float(row.get("social_dominance")),
        interactions_24h=_opt_float(row.get("interactions_24h")),
        generated=generated,
    )


def parse_coin(payload: dict[str, Any]) -> LunarCrushCoin:
    """``GET /public/coins/{coin}/v1`` (``coin`` = symbol such as ``BTC`` or the numeric id).

    Sample: ``{"config": {"id": "$btc", "name": "Bitcoin", "symbol": "BTC", "topic": "bitcoin",
    "generated": 1764473870},  # epoch seconds
    "data": {"id": 1, "name": "Bitcoin", "symbol": "BTC", "price": 90753.83890560888,
    "percent_change_24h": 0.043154121945,  # percent
    "market_cap_rank": 1, "galaxy_score": 48.5,  # 0..100
    "alt_rank": 104, "volatility": 0.0049, ...}}``
    """
    data = payload["data"]
    if not isinstance(data, dict):
        raise TypeError(f"data is {type(data).__name__}, expected an object")
    return _coin(data, _generated(payload))


def parse_coins_list(payload: dict[str, Any]) -> tuple[LunarCrushCoin, ...]:
    """``GET /public/coins/list/v2?sort=galaxy_score&limit=100``: the tracked coins, real time.

    Sample: ``{"config": {"sort": "market_cap_rank", "limit": 100, "page": 0, "total_rows": 4500,
    "generated": 1764473870}, "data": [{"id": 1, "symbol": "BTC", "name": "Bitcoin", "price": 90753.8,
    "percent_change_24h": 0.04, "market_cap_rank": 1, "interactions_24h": 120456789,
    "social_volume_24h": 180345, "social_dominance": 21.3, "galaxy_score": 48.5,
    "galaxy_score_previous": 51.0, "alt_rank": 104, "alt_rank_previous": 87, "sentiment": 79, ...}]}``
    """
    rows = payload["data"]
    if not isinstance(rows, list):
        raise TypeError(f"data is {type(rows).__name__}, expected a list")
    generated = _generated(payload)
    return tuple(_coin(r, generated) for r in rows)


def parse_topic(payload: dict[str, Any]) -> LunarCrushTopic:
    """``GET /public/topic/{topic}/v1`` (lower-case topic, e.g. ``bitcoin``): a social topic's summary.

    Sample: ``{"config": {"topic": "bitcoin", "generated": 1764473870}, "data": {"topic": "bitcoin",
    "title": "Bitcoin", "topic_rank": 2, "related_topics": ["ethereum", "crypto"],
    "types_count": {"tweet": 61234, ...}, "types_interactions": {"tweet": 98123456, ...},
    "types_sentiment": {"tweet": 78, "reddit-post": 71},  # % positive by post type
    "types_sentiment_detail": {"tweet": {"positive": 40123, "neutral": 15012, "negative": 6099}},
    "interactions_24h": 150123456, "num_contributors": 98765, "num_posts": 123456,
    "categories": ["cryptocurrencies"], "trend": "up"}}``
    """
    data = payload["data"]
    if not isinstance(data, dict):
        raise TypeError(f"data is {type(data).__name__}, expected an object")
    return LunarCrushTopic(
        topic=str(data["topic"]),
        title=str(data["title"]),
        topic_rank=int(data["topic_rank"]),
        trend=data.get("trend"),
        interactions_24h=float(data["interactions_24h"]),
        num_contributors=int(data["num_contributors"]),
        num_posts=int(data["num_posts"]),
        types_sentiment={str(k): float(v) for k, v in (data.get("types_sentiment") or {}).items()},
        related_topics=tuple(str(t) for t in data.get("related_topics") or ()),
        categories=tuple(str(c) for c in data.get("categories") or ()),
    )


def parse_topics_list(payload: dict[str, Any]) -> tuple[LunarCrushTopicSummary, ...]:
    """``GET /public/topics/list/v1``: trending social topics.

    Sample: ``{"data": [{"topic": "youtube", "title": "YouTube", "topic_rank": 1,
    "topic_rank_1h_previous": 1, "topic_rank_24h_previous": 1, "num_contributors": 335952,
    "num_posts": 733220, "interactions_24h": 3296046298}]}``
    """
    rows = payload["data"]
    if not isinstance(rows, list):
        raise TypeError(f"data is {type(rows).__name__}, expected a list")
    return tuple(
        LunarCrushTopicSummary(
            topic=str(r["topic"]),
            title=str(r["title"]),
            topic_rank=int(r["topic_rank"]),
            topic_rank_24h_previous=_opt_int(r.get("topic_rank_24h_previous")),
            num_contributors=int(r["num_contributors"]),
            num_posts=int(r["num_posts"]),
            interactions_24h=float(r["interactions_24h"]),
        )
        for r in rows
    )


def to_social(coin: LunarCrushCoin) -> SocialSentiment:
    if coin.galaxy_score is None:
        raise InvalidSymbol(PROVIDER, "coins", f"LunarCrush has no Galaxy Score for {coin.symbol}")
    return SocialSentiment(score=coin.galaxy_score, kind=GALAXY_SCORE_KIND)


# --------------------------------------------------------------------------------------------------
# raw client


class LunarCrushClient:
    def __init__(self, http: ProviderHttp, ttls: CacheTtls) -> None:
        self._http = http
        self._ttls = ttls

    async def coin(self, coin: str) -> LunarCrushCoin:
        return await self._http.get(
            f"/public/coins/{coin}/v1", None, endpoint="coins", ttl=self._ttls.social, parse=parse_coin
        )

    async def coins_list(
        self, *, sort: str | None = None, limit: int | None = None, desc: bool = False, page: int | None = None
    ) -> tuple[LunarCrushCoin, ...]:
        params: dict[str, str | int] = {}
        if sort is not None:
            params["sort"] = sort
        if limit is not None:
            params["limit"] = limit
        if desc:
            params["desc"] = "true"
        if page is not None:
            params["page"] = page
        return await self._http.get(
            "/public/coins/list/v2", params, endpoint="coins.list", ttl=self._ttls.social, parse=parse_coins_list
        )

    async def topic(self, topic: str) -> LunarCrushTopic:
        return await self._http.get(
            f"/public/topic/{topic.lower()}/v1", None, endpoint="topic", ttl=self._ttls.social, parse=parse_topic
        )

    async def topics_list(self) -> tuple[LunarCrushTopicSummary, ...]:
        return await self._http.get(
            "/public/topics/list/v1", None, endpoint="topics.list", ttl=self._ttls.social, parse=parse_topics_list
        )


# --------------------------------------------------------------------------------------------------
# normalized provider


class LunarCrushMarket(MarketProvider):
    name = PROVIDER
    capabilities = frozenset({Capability.SOCIAL})
    keyed = True

    def __init__(self, client: LunarCrushClient) -> None:
        self.raw = client

    async def social(self, instrument: Instrument) -> SocialSentiment:
        return to_social(await self.raw.coin(instrument.for_provider(PROVIDER)))


def build(deps: ProviderDeps) -> MarketProvider | None:
    """``None`` without a key: the caller reports LunarCrush as disabled."""
    key = deps.key(PROVIDER)
    if not key:
        return None
    http = deps.http(PROVIDER, lunarcrush_error_hook, {"Authorization": f"Bearer {key}"})
    return LunarCrushMarket(LunarCrushClient(http, deps.ttls))
