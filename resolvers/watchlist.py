"""Watchlist resolvers: read, add (with a first MSS measurement) and remove; domain values or problems out.

Each caller has its own list (:func:`resolvers.alerts.caller_of`: the API key's id; anonymous callers share
one list). An admin key reads every owner's entries and may change another owner's list (``owner``);
anyone else only their own. Anonymous callers use their shared list only on a loopback-bound service
(``DiscoveryConfig.watchlist_anonymous``), like alert rules: on a public address it answers
``WATCHLIST_NEEDS_A_KEY``. The list lives in the history database (``Services.discovery.watchlist``);
without it, or while it does not answer, every field answers :class:`WatchlistUnavailable`
(code ``HISTORY_UNAVAILABLE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from persistence.db import DATABASE_ERRORS
from persistence.watchlist import MAX_LISTED, MAX_PER_OWNER, MssPoint, WatchEntry, WatchlistFull
from providers.symbols import InvalidSymbolFormat, parse_symbol
from resolvers.alerts import Caller, caller_of
from resolvers.mss import mss_point, resolve_mss
from resolvers.problems import InvalidArgument, Problem, UnknownSymbol

if TYPE_CHECKING:
    from persistence.watchlist import WatchlistRepository
    from providers.symbols import Instrument
    from resolvers.context import RequestContext

# the stored values schema.mss reads (schema does not import persistence)
__all__ = [
    "ANONYMOUS_OWNER",
    "MAX_HISTORY_POINTS",
    "MAX_PER_OWNER",
    "MssPoint",
    "WatchEntry",
    "WatchedCoin",
    "WatchedCoins",
    "WatchlistRefused",
    "WatchlistUnavailable",
    "watchlist",
    "watchlist_add",
    "watchlist_remove",
]

NO_WATCHLIST = "the watchlist needs the history database, which is off or not answering on this server"
MAX_HISTORY_POINTS = 100
MAX_NOTE = 200
ANONYMOUS_OWNER = "anonymous"  # how an admin names the anonymous callers' shared list in ``owner``


class WatchlistUnavailable(Problem):
    code = "HISTORY_UNAVAILABLE"


class WatchlistRefused(Problem):
    """``WATCHLIST_NEEDS_A_KEY`` (anonymous on a public address), ``WATCHLIST_FULL`` (the owner's cap),
    ``WATCHLIST_NOT_YOURS`` (``owner`` names another owner's list and the key is not an admin's)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


@dataclass(frozen=True, slots=True)
class WatchedCoin:
    entry: WatchEntry
    history: tuple[MssPoint, ...]


@dataclass(frozen=True, slots=True)
class WatchedCoins:
    coins: tuple[WatchedCoin, ...]
    truncated: bool  # an admin's view stopped at MAX_LISTED entries


def _repo(ctx: RequestContext, caller: Caller) -> WatchlistRepository:
    if caller.owner is None and not caller.admin and not ctx.services.discovery.config.watchlist_anonymous:
        raise WatchlistRefused(
            "WATCHLIST_NEEDS_A_KEY",
            "a watchlist belongs to an API key here (anonymous callers share one only on a loopback-bound "
            "service); send your key",
        )
    repo = ctx.services.discovery.watchlist
    if repo is None:
        raise WatchlistUnavailable(NO_WATCHLIST)
    return repo


def _target(caller: Caller, owner: str | None) -> str | None:
    """Whose list a change is for: the caller's own unless an admin names another (a key id or
    ``anonymous``); a non-admin naming anyone but themself is refused."""
    if owner is None:
        return caller.owner
    named = owner.strip()
    target = None if named.lower() == ANONYMOUS_OWNER else named
    if target is not None and not (target.isascii() and target.isdigit() and len(target) <= 20):
        raise InvalidArgument("owner", f"owner is an API key id (digits) or {ANONYMOUS_OWNER!r}, not {owner!r}")
    if not caller.admin and target != caller.owner:
        raise WatchlistRefused("WATCHLIST_NOT_YOURS", "only an admin key changes another owner's watchlist", "owner")
    return target


@dataclass(frozen=True, slots=True)
class _Change:
    """What a watchlist change works on: the coin, whose list, and the store."""

    instrument: Instrument
    target: str | None
    repo: WatchlistRepository


def _change(
    ctx: RequestContext, symbol: str, owner: str | None
) -> _Change | InvalidArgument | WatchlistRefused | WatchlistUnavailable:
    """The checks every change makes first (symbol, whose list, a store the caller may use), as a problem."""
    caller = caller_of(ctx)
    try:
        return _Change(parse_symbol(symbol), _target(caller, owner), _repo(ctx, caller))
    except InvalidSymbolFormat as exc:
        return InvalidArgument("symbol", str(exc))
    except (InvalidArgument, WatchlistRefused, WatchlistUnavailable) as exc:
        return exc


async def watchlist(
    ctx: RequestContext, history_points: int
) -> WatchedCoins | InvalidArgument | WatchlistRefused | WatchlistUnavailable:
    """The caller's coins (an admin's: every owner's, at most ``MAX_LISTED``), each with its history since
    it was added."""
    if not 0 <= history_points <= MAX_HISTORY_POINTS:
        return InvalidArgument("historyPoints", f"historyPoints must be 0..{MAX_HISTORY_POINTS}, not {history_points}")
    caller = caller_of(ctx)
    try:
        repo = _repo(ctx, caller)
        entries = await repo.entries(admin=caller.admin, owner=caller.owner, limit=MAX_LISTED + 1)
        shown = entries[:MAX_LISTED]
        history = await repo.history(shown, history_points)
    except (WatchlistRefused, WatchlistUnavailable) as exc:
        return exc
    except DATABASE_ERRORS:
        return WatchlistUnavailable(NO_WATCHLIST)
    return WatchedCoins(tuple(map(WatchedCoin, shown, history)), truncated=len(entries) > MAX_LISTED)


async def watchlist_add(
    ctx: RequestContext, symbol: str, note: str | None, owner: str | None = None
) -> WatchedCoin | InvalidArgument | UnknownSymbol | WatchlistRefused | WatchlistUnavailable:
    """Watch the coin (a listed perpetual) on the caller's list (or, for an admin, ``owner``'s) and store
    its first MSS measurement."""
    if note is not None and len(note) > MAX_NOTE:
        return InvalidArgument("note", f"note must be at most {MAX_NOTE} characters")
    change = _change(ctx, symbol, owner)
    if not isinstance(change, _Change):
        return change
    instrument, target, repo = change.instrument, change.target, change.repo
    computed = await resolve_mss(ctx, instrument.canonical, record=False)
    if isinstance(computed, Problem):
        return computed
    now = ctx.services.gateway.now()
    try:
        entry = await repo.add(target, instrument.canonical, note, at=now)
        await repo.record(mss_point(computed[0], now))
        history = await repo.history([entry], 1)
    except WatchlistFull as exc:
        return WatchlistRefused("WATCHLIST_FULL", f"{exc}; remove one first", "symbol")
    except DATABASE_ERRORS:
        return WatchlistUnavailable(NO_WATCHLIST)
    return WatchedCoin(entry, history[0])


async def watchlist_remove(
    ctx: RequestContext, symbol: str, owner: str | None = None
) -> tuple[str, str | None, bool] | InvalidArgument | WatchlistRefused | WatchlistUnavailable:
    """``(canonical symbol, owner, whether it was on that list)``; the coin's MSS history goes with the
    last owner watching it."""
    change = _change(ctx, symbol, owner)
    if not isinstance(change, _Change):
        return change
    symbol = change.instrument.canonical
    try:
        return symbol, change.target, await change.repo.remove(change.target, symbol)
    except DATABASE_ERRORS:
        return WatchlistUnavailable(NO_WATCHLIST)
