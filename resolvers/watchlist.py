"""Watchlist resolvers: read, add (with a first MSS measurement) and remove; domain values or problems out.

The watchlist lives in the history database (``Services.discovery.watchlist``); without it, or while it
does not answer, every field answers :class:`WatchlistUnavailable` (code ``HISTORY_UNAVAILABLE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from persistence.db import DATABASE_ERRORS
from persistence.watchlist import MssPoint, WatchEntry
from providers.symbols import InvalidSymbolFormat, parse_symbol
from resolvers.mss import mss_point, resolve_mss
from resolvers.problems import InvalidArgument, Problem, UnknownSymbol

if TYPE_CHECKING:
    from persistence.watchlist import WatchlistRepository
    from resolvers.context import RequestContext

# the stored values schema.mss reads (schema does not import persistence)
__all__ = [
    "MAX_HISTORY_POINTS",
    "MssPoint",
    "WatchEntry",
    "WatchedCoin",
    "WatchlistUnavailable",
    "watchlist",
    "watchlist_add",
    "watchlist_remove",
]

NO_WATCHLIST = "the watchlist needs the history database, which is off or not answering on this server"
MAX_HISTORY_POINTS = 100
MAX_NOTE = 200


class WatchlistUnavailable(Problem):
    code = "HISTORY_UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class WatchedCoin:
    entry: WatchEntry
    history: tuple[MssPoint, ...]


def _repo(ctx: RequestContext) -> WatchlistRepository:
    repo = ctx.services.discovery.watchlist
    if repo is None:
        raise WatchlistUnavailable(NO_WATCHLIST)
    return repo


async def watchlist(
    ctx: RequestContext, history_points: int
) -> list[WatchedCoin] | InvalidArgument | WatchlistUnavailable:
    if not 0 <= history_points <= MAX_HISTORY_POINTS:
        return InvalidArgument("historyPoints", f"historyPoints must be 0..{MAX_HISTORY_POINTS}, not {history_points}")
    try:
        repo = _repo(ctx)
        entries = await repo.entries()
        history = await repo.history([e.symbol for e in entries], history_points) if history_points else {}
    except WatchlistUnavailable as exc:
        return exc
    except DATABASE_ERRORS:
        return WatchlistUnavailable(NO_WATCHLIST)
    return [WatchedCoin(e, history.get(e.symbol, ())) for e in entries]


async def watchlist_add(
    ctx: RequestContext, symbol: str, note: str | None
) -> WatchedCoin | InvalidArgument | UnknownSymbol | WatchlistUnavailable:
    """Watch the coin and store its first MSS measurement (the coin must be a listed perpetual)."""
    if note is not None and len(note) > MAX_NOTE:
        return InvalidArgument("note", f"note must be at most {MAX_NOTE} characters")
    try:
        instrument = parse_symbol(symbol)
        repo = _repo(ctx)
    except InvalidSymbolFormat as exc:
        return InvalidArgument("symbol", str(exc))
    except WatchlistUnavailable as exc:
        return exc
    computed = await resolve_mss(ctx, instrument.canonical, record=False)
    if isinstance(computed, Problem):
        return computed
    try:
        entry = await repo.add(instrument.canonical, note)
        await repo.record(mss_point(computed[0], ctx.services.gateway.now()))
        history = await repo.history([entry.symbol], 1)
    except DATABASE_ERRORS:
        return WatchlistUnavailable(NO_WATCHLIST)
    return WatchedCoin(entry, history.get(entry.symbol, ()))


async def watchlist_remove(
    ctx: RequestContext, symbol: str
) -> tuple[str, bool] | InvalidArgument | WatchlistUnavailable:
    """``(canonical symbol, whether it was watched)``; its MSS history goes with it."""
    try:
        instrument = parse_symbol(symbol)
        repo = _repo(ctx)
    except InvalidSymbolFormat as exc:
        return InvalidArgument("symbol", str(exc))
    except WatchlistUnavailable as exc:
        return exc
    try:
        return instrument.canonical, await repo.remove(instrument.canonical)
    except DATABASE_ERRORS:
        return WatchlistUnavailable(NO_WATCHLIST)
