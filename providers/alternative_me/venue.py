"""alternative.me's Crypto Fear & Greed Index on the common :class:`~providers.venue.MarketProvider`
interface: the ``FEAR_GREED`` capability, so the gateway reaches it through the registry like any venue."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from providers.alternative_me.domain import PROVIDER, AlternativeMeClient
from providers.alternative_me.raw import alternative_me_error_hook
from providers.venue import Capability, MarketProvider

if TYPE_CHECKING:
    from engine.market import FearGreed
    from providers.venue import ProviderDeps

DEFAULT_BASE_URL = "https://api.alternative.me"
# The API page asks for no more than 60 requests a minute over 10 minutes; the index changes daily and
# answers are cached (``ttls.fear_greed``), so one a second is far more than we ever send.
RATE_LIMIT_PER_SECOND = 1.0


class AlternativeMeVenue(MarketProvider):
    """The latest index value (0..100), timed by the answer's own ``timestamp``."""

    name = PROVIDER
    capabilities = frozenset({Capability.FEAR_GREED})
    endpoints = MappingProxyType({Capability.FEAR_GREED: "fng"})

    def __init__(self, client: AlternativeMeClient) -> None:
        self.client = client

    async def fear_greed(self) -> FearGreed:
        return await self.client.latest()


def build(deps: ProviderDeps) -> MarketProvider:
    """Keyless: always built."""
    return AlternativeMeVenue(AlternativeMeClient(deps.http(PROVIDER, alternative_me_error_hook), deps.ttls))
