"""The tradable-symbol list (USDT perpetuals from the first listing venue that answers), and the check every
one-coin field makes of its ``symbol`` argument against it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from providers.symbols import InvalidSymbolFormat, parse_symbol
from resolvers.gateway import SymbolNotListed
from resolvers.problems import InvalidArgument, UnknownSymbol, UpstreamDown

if TYPE_CHECKING:
    from engine.market import SymbolInfo
    from providers.symbols import Instrument
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


async def listed_instrument(ctx: RequestContext, symbol: str) -> Instrument | InvalidArgument | UnknownSymbol:
    """The parsed symbol, once the listing sources do not say it is unknown: ``INVALID_INPUT`` for a
    malformed spelling, ``SYMBOL_NOT_FOUND`` only when a listing source answered without it."""
    try:
        instrument = parse_symbol(symbol)
    except InvalidSymbolFormat as exc:
        return InvalidArgument("symbol", str(exc))
    try:
        await ctx.services.gateway.check_listed(instrument, ctx.loaders)
    except SymbolNotListed as exc:
        return UnknownSymbol(exc.symbol, str(exc))
    return instrument
