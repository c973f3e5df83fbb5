"""The tradable-symbol list: USDT perpetuals from the first listing venue that answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from resolvers.problems import UpstreamDown

if TYPE_CHECKING:
    from engine.market import SymbolInfo
    from resolvers.context import RequestContext


async def resolve_symbols(ctx: RequestContext, search: str | None) -> list[SymbolInfo] | UpstreamDown:
    """The first listing source that answers (in the gateway's source order), every failure named;
    symbols containing ``search`` (case-insensitive), sorted."""
    reading = await ctx.services.gateway.symbol_list()
    listed = reading.value
    if listed is None:
        return UpstreamDown(f"cannot list symbols: {reading.error}", tuple(reading.failed))
    needle = (search or "").strip().upper()
    return [s for s in sorted(listed.values(), key=lambda s: s.symbol) if needle in s.symbol]
