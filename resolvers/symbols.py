"""The tradable-symbol list (Binance USD-M USDT perpetuals)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from providers.errors import UpstreamError
from schema.errors import UpstreamUnavailable
from schema.types import SymbolList, SymbolType

if TYPE_CHECKING:
    from resolvers.context import RequestContext


async def resolve_symbols(ctx: RequestContext, search: str | None) -> SymbolList | UpstreamUnavailable:
    try:
        listed = await ctx.loaders.listed_symbols()
    except UpstreamError as exc:
        return UpstreamUnavailable(
            code="UPSTREAM_UNAVAILABLE",
            message=f"cannot list symbols: {exc.describe()}",
            failed_sources=[exc.describe()],
        )
    needle = (search or "").strip().upper()
    rows = [SymbolType.of(s) for s in sorted(listed.values(), key=lambda s: s.symbol) if needle in s.symbol]
    return SymbolList(symbols=rows, count=len(rows))
