"""alternative.me venue models → :class:`~engine.market.FearGreed`, oldest-first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.market import FearGreed, utc_from_ms
from providers.alternative_me.models import FngAnswer
from providers.alternative_me.raw import AlternativeMeRawClient

if TYPE_CHECKING:
    from providers.config import CacheTtls
    from providers.http import ProviderHttp

PROVIDER = "alternative_me"


def to_fear_greed(answer: FngAnswer) -> tuple[FearGreed, ...]:
    """The wire is newest-first; ours is oldest-first. ``timestamp`` is epoch seconds."""
    points = (
        FearGreed(value=p.value, classification=p.value_classification, time=utc_from_ms(p.timestamp * 1000))
        for p in answer.data
    )
    return tuple(sorted(points, key=lambda p: p.time))


def parse_fng(payload: dict[str, Any]) -> tuple[FearGreed, ...]:
    return to_fear_greed(FngAnswer.model_validate(payload))


class AlternativeMeClient:
    """The Fear & Greed series and its latest value; ``raw`` is the venue-shaped client."""

    def __init__(self, http: ProviderHttp, ttls: CacheTtls) -> None:
        self.raw = AlternativeMeRawClient(http, ttls)

    async def fear_greed(self, limit: int = 1) -> tuple[FearGreed, ...]:
        return to_fear_greed(await self.raw.fng(limit))

    async def latest(self) -> FearGreed:
        return (await self.fear_greed(limit=1))[-1]
