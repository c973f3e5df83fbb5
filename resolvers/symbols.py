"""The tradable-symbol list: USDT perpetuals from the first listing venue that answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from schema.errors import UpstreamUnavailable
from schema.types import SymbolList, SymbolType

if TYPE_CHECKING:
    from resolvers.context import RequestContext


async def resolve_symbols(ctx: RequestContext, search: str | None) -> SymbolList | UpstreamUnavailable:
    """The first listing source that answers (in the gateway's source order), every failure named."""
    reading = await ctx.services.gateway.symbol_list()
    listed = reading.value
    if listed is None:
        return UpstreamUnavailable(
            code="UPSTREAM_UNAVAILABLE",
            message=f"cannot list symbols: {reading.error}",
            failed_sources=list(reading.failed),
        )
    needle = (search or "").strip().upper()
    rows = [SymbolType.of(s) for s in sorted(listed.values(), key=lambda s: s.symbol) if needle in s.symbol]
    return SymbolList(symbols=rows, count=len(rows))
