"""LunarCrush API v4 REST (``Authorization: Bearer <key>``), one method per endpoint, shaped like the venue.

Docs: https://lunarcrush.com/developers/api/endpoints. Every method returns the venue's own models
(:mod:`providers.lunarcrush.models`); normalization happens in :mod:`providers.lunarcrush.domain`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from providers.errors import AuthenticationFailed, InvalidRequest, InvalidSymbol, UpstreamError
from providers.lunarcrush.models import Answer, LunarCrushCoin, LunarCrushTopic, LunarCrushTopicSummary
from providers.venue import RawClient

if TYPE_CHECKING:
    from collections.abc import Mapping


D = TypeVar("D")
DOCS = "https://lunarcrush.com/developers/api/endpoints"


def lunarcrush_error_hook(provider: str, endpoint: str, status: int, payload: Any) -> UpstreamError | None:
    """Errors arrive as ``{"error": "..."}``; 401 / 402 / 403 mean a bad key or a plan without access.

    429 and 5xx fall through to :func:`providers.errors.classify_status` (retryable, ``Retry-After``).
    """
    if status == 429 or status >= 500:
        return None
    message = str(payload.get("error") or "") if isinstance(payload, dict) else ""
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


class LunarCrushClient(RawClient):
    """Raw client: routes and parameters as LunarCrush documents them (every answer cached as social)."""

    async def _data(
        self, path: str, endpoint: str, shape: type[Answer[D]], params: Mapping[str, Any] | None = None
    ) -> D:
        answer = await self._http.get(
            path, params, endpoint=endpoint, ttl=self._ttls.social, parse=shape.model_validate
        )
        return answer.data

    async def coin(self, coin: str) -> LunarCrushCoin:
        """``GET /public/coins/{coin}/v1`` (``coin`` = symbol such as ``BTC`` or the numeric id); see :data:`DOCS`.

        Sample: ``{"config": {"id": "$btc", "name": "Bitcoin", "symbol": "BTC", "topic": "bitcoin",
        "generated": 1764473870},  # epoch seconds
        "data": {"id": 1, "name": "Bitcoin", "symbol": "BTC", "price": 90753.83890560888,
        "percent_change_24h": 0.043154121945,  # percent
        "market_cap_rank": 1, "galaxy_score": 48.5,  # 0..100
        "alt_rank": 104, "volatility": 0.0049, ...}}``
        """
        return await self._data(f"/public/coins/{coin}/v1", "coins", Answer[LunarCrushCoin])

    async def coins_list(
        self, *, sort: str | None = None, limit: int | None = None, desc: bool = False, page: int | None = None
    ) -> tuple[LunarCrushCoin, ...]:
        """``GET /public/coins/list/v2?sort=galaxy_score&limit=100``: the tracked coins, real time.

        Sample: ``{"config": {"sort": "market_cap_rank", "limit": 100, "page": 0, "total_rows": 4500,
        "generated": 1764473870}, "data": [{"id": 1, "symbol": "BTC", "name": "Bitcoin", "price": 90753.8,
        "percent_change_24h": 0.04, "market_cap_rank": 1, "interactions_24h": 120456789,
        "social_volume_24h": 180345, "social_dominance": 21.3, "galaxy_score": 48.5,
        "galaxy_score_previous": 51.0, "alt_rank": 104, "alt_rank_previous": 87, "sentiment": 79, ...}]}``
        """
        given = {"sort": sort, "limit": limit, "desc": "true" if desc else None, "page": page}
        params = {name: value for name, value in given.items() if value is not None}
        return await self._data("/public/coins/list/v2", "coins.list", Answer[tuple[LunarCrushCoin, ...]], params)

    async def topic(self, topic: str) -> LunarCrushTopic:
        """``GET /public/topic/{topic}/v1`` (lower-case topic, e.g. ``bitcoin``): a social topic's summary.

        Sample: ``{"config": {"topic": "bitcoin", "generated": 1764473870}, "data": {"topic": "bitcoin",
        "title": "Bitcoin", "topic_rank": 2, "related_topics": ["ethereum", "crypto"],
        "types_sentiment": {"tweet": 78, "reddit-post": 71},  # % positive by post type
        "interactions_24h": 150123456, "num_contributors": 98765, "num_posts": 123456,
        "categories": ["cryptocurrencies"], "trend": "up"}}``
        """
        return await self._data(f"/public/topic/{topic.lower()}/v1", "topic", Answer[LunarCrushTopic])

    async def topics_list(self) -> tuple[LunarCrushTopicSummary, ...]:
        """``GET /public/topics/list/v1``: trending social topics.

        Sample: ``{"data": [{"topic": "youtube", "title": "YouTube", "topic_rank": 1,
        "topic_rank_1h_previous": 1, "topic_rank_24h_previous": 1, "num_contributors": 335952,
        "num_posts": 733220, "interactions_24h": 3296046298}]}``
        """
        return await self._data("/public/topics/list/v1", "topics.list", Answer[tuple[LunarCrushTopicSummary, ...]])
