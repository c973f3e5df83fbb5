"""LunarCrush venue models → :class:`~engine.market.SocialSentiment`: the normalized social score is the
Galaxy Score™ (0..100); AltRank™ and sentiment stay on the venue model for callers that want more."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from engine.hype import SocialMetrics
from engine.market import SocialSentiment
from providers.errors import InvalidSymbol, UpstreamError
from providers.lunarcrush.models import Answer, LunarCrushCoin

if TYPE_CHECKING:
    from collections.abc import Mapping

    from providers.lunarcrush.raw import LunarCrushClient
    from providers.symbols import Instrument

PROVIDER = "lunarcrush"
GALAXY_SCORE_KIND = "lunarcrush_galaxy_score"


def to_social(coin: LunarCrushCoin) -> SocialSentiment:
    if coin.galaxy_score is None:
        raise InvalidSymbol(PROVIDER, "coins", f"LunarCrush has no Galaxy Score for {coin.symbol}")
    return SocialSentiment(score=coin.galaxy_score, kind=GALAXY_SCORE_KIND)


def to_metrics(coin: LunarCrushCoin) -> SocialMetrics:
    """Every social number of the coin answer; what LunarCrush did not send stays ``None``."""
    alt_rank = float(coin.alt_rank) if coin.alt_rank is not None else None
    return SocialMetrics(
        venue=PROVIDER,
        galaxy_score=coin.galaxy_score,
        alt_rank=alt_rank,
        sentiment_pct=coin.sentiment,
        social_volume_24h=coin.social_volume_24h,
        interactions_24h=coin.interactions_24h,
        time=coin.generated,
        topic=coin.topic,
    )


async def social_metrics(client: LunarCrushClient, instrument: Instrument, *, topic: bool = False) -> SocialMetrics:
    """The instrument's coin answer (the same cached call as :func:`galaxy_score`), every number kept; with
    ``topic``, also its social topic's trend and rank (``/public/topic/{topic}/v1``, one more call)."""
    coin = await client.coin(instrument.for_provider(PROVIDER))
    metrics = to_metrics(coin)
    if not topic:
        return metrics
    if coin.topic is None:
        return replace(metrics, topic_error="LunarCrush names no topic for this coin")
    try:
        found = await client.topic(coin.topic)
    except UpstreamError as exc:
        return replace(metrics, topic_error=exc.describe())
    return replace(metrics, topic_trend=found.trend, topic_rank=float(found.topic_rank))


async def galaxy_score(client: LunarCrushClient, instrument: Instrument) -> SocialSentiment:
    """The instrument's coin answer, as its Galaxy Score."""
    return to_social(await client.coin(instrument.for_provider(PROVIDER)))


def parse_coin(payload: Mapping[str, Any]) -> LunarCrushCoin:
    """A ``/public/coins/{coin}/v1`` answer's coin (``generated`` from its config)."""
    return Answer[LunarCrushCoin].model_validate(payload).data
