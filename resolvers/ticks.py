"""A symbol's price increment (tick size), read from the cached listings the gateway already keeps.

The tick belongs to the venue whose price is shown, so the venue that answered the price is asked first;
then the other listing sources in order. No extra upstream call: ``instruments()`` is the cached listing
that decides whether a symbol exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from providers.errors import UpstreamError

if TYPE_CHECKING:
    from resolvers.gateway import MarketGateway


async def resolve_tick_size(gateway: MarketGateway, symbol: str, price_source: str | None) -> float | None:
    """``symbol``'s tick on the venue named by ``price_source`` (``venue.endpoint``) if it lists one, else on
    the first listing source that does; None when no answering listing carries a tick."""
    venues = gateway.sources("listing")
    preferred = price_source.partition(".")[0] if price_source else None
    ordered = sorted(venues, key=lambda v: v.name != preferred)
    for venue in ordered:
        try:
            listing = await venue.instruments()
        except UpstreamError:
            continue
        info = listing.get(symbol)
        if info is not None and info.tick_size is not None and info.tick_size > 0:
            return info.tick_size
    return None
