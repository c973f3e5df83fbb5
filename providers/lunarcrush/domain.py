"""LunarCrush venue models → :class:`~engine.market.SocialSentiment`: the normalized social score is the
Galaxy Score™ (0..100); AltRank™ and sentiment stay on the venue model for callers that want more."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.hype import SocialMetrics
from engine.market import SocialSentiment
from providers.errors import InvalidSymbol
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
    )


async def social_metrics(client: LunarCrushClient, instrument: Instrument) -> SocialMetrics:
    """The instrument's coin answer (the same cached call as :func:`galaxy_score`), every number kept."""
    return to_metrics(await client.coin(instrument.for_provider(PROVIDER)))


async def galaxy_score(client: LunarCrushClient, instrument: Instrument) -> SocialSentiment:
    """The instrument's coin answer, as its Galaxy Score."""
    return to_social(await client.coin(instrument.for_provider(PROVIDER)))


def parse_coin(payload: Mapping[str, Any]) -> LunarCrushCoin:
    """A ``/public/coins/{coin}/v1`` answer's coin (``generated`` from its config)."""
    return Answer[LunarCrushCoin].model_validate(payload).data
