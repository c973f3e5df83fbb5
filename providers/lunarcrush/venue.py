"""LunarCrush on the common :class:`~providers.venue.MarketProvider` interface: the ``SOCIAL`` capability."""

from __future__ import annotations

import functools
from types import MappingProxyType
from typing import TYPE_CHECKING

from providers.lunarcrush.domain import PROVIDER, galaxy_score, social_metrics
from providers.lunarcrush.raw import LunarCrushClient, lunarcrush_error_hook
from providers.venue import Capability, SocialVenue

if TYPE_CHECKING:
    from engine.hype import SocialMetrics
    from providers.symbols import Instrument
    from providers.venue import MarketProvider, ProviderDeps

DEFAULT_BASE_URL = "https://lunarcrush.com/api4"
KEY_SETTING = "LUNARCRUSH_API_KEY"
# Pricing / API docs (https://lunarcrush.com/pricing): the Individual plan allows 10 requests per
# minute and 2,000 per day; design for that floor. Social answers are cached for minutes anyway.
RATE_LIMIT_PER_SECOND = 10 / 60


class LunarCrushMarket(SocialVenue):
    """The Galaxy Score of the coin (see :func:`providers.lunarcrush.domain.to_social`); its other social
    numbers (AltRank, sentiment, social volume) as ``SOCIAL_METRICS`` from the same cached answer."""

    name = PROVIDER
    capabilities = frozenset({Capability.SOCIAL, Capability.SOCIAL_METRICS})
    endpoints = MappingProxyType({Capability.SOCIAL_METRICS: "coins"})
    keyed = True
    raw: LunarCrushClient

    def __init__(self, client: LunarCrushClient) -> None:
        super().__init__(client, functools.partial(galaxy_score, client))

    async def social_metrics(self, instrument: Instrument, *, topic: bool = False) -> SocialMetrics:
        return await social_metrics(self.raw, instrument, topic=topic)


def build(deps: ProviderDeps) -> MarketProvider | None:
    """``None`` without a key: the caller reports LunarCrush as disabled."""
    http = deps.keyed_http(PROVIDER, lunarcrush_error_hook, lambda key: {"Authorization": f"Bearer {key}"})
    return LunarCrushMarket(LunarCrushClient(http, deps.ttls)) if http else None
