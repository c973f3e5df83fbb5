"""What a backtest worker process runs: load a symbol's history (once per process) and replay the engine.

Kept apart from :mod:`resolvers.backtest` so a freshly spawned worker imports only the engine and the
history loader, not Strawberry. Everything crossing the process boundary is picklable: the arguments,
the :class:`~engine.backtest.BacktestReport`, and :class:`Unavailable`, which replaces the loader's
exceptions with a message that names no server path (the detail stays in the server log).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.backtest import BacktestConfig, BacktestReport, run_backtest
from providers.history_files import HistoryFormatError, HistoryNotAvailable, load_history

if TYPE_CHECKING:
    from datetime import datetime

    from engine import Mode
    from engine.backtest import MarketHistory

_histories: dict[tuple[str, str], MarketHistory] = {}  # per worker process: (directory, base) → history


@dataclass(frozen=True, slots=True)
class Unavailable:
    """No history to replay: ``message`` and ``missing`` (file names, never paths) are for the client,
    ``detail`` (which may name paths) for the server log only."""

    message: str
    missing: tuple[str, ...]
    detail: str


def unavailable(directory: Path, base: str, exc: HistoryNotAvailable | HistoryFormatError) -> Unavailable:
    """The client-facing form of a loader failure."""
    if isinstance(exc, HistoryFormatError):
        return Unavailable(f"the recorded history for {base} is unreadable on this server", (), str(exc))
    if not directory.is_dir():
        return Unavailable("no recorded history is installed on this server", (), exc.message)
    missing = tuple(name for name in exc.missing if "/" not in name and "\\" not in name)
    listed = f": missing {', '.join(missing)}" if missing else ""
    return Unavailable(f"the recorded history for {base} is incomplete on this server{listed}", missing, exc.message)


def history(directory: Path, base: str) -> MarketHistory:
    """This process's copy of ``base``'s history; raises what :func:`load_history` raises."""
    key = (str(directory), base)
    cached = _histories.get(key)
    if cached is None:
        cached = _histories[key] = load_history(directory, base)
    return cached


def run(
    directory: str,
    base: str,
    mode: Mode,
    horizon_bars: tuple[int, ...],
    start: datetime | None,
    end: datetime | None,
    walk_forward: bool,
) -> BacktestReport | Unavailable:
    """One backtest. ``ValueError`` (e.g. a window too short to walk forward) propagates to the caller."""
    path = Path(directory)
    try:
        loaded = history(path, base)
    except (HistoryNotAvailable, HistoryFormatError) as exc:
        return unavailable(path, base, exc)
    config = BacktestConfig(horizon_bars=horizon_bars, start=start, end=end)
    return run_backtest(loaded, mode, config, with_walk_forward=walk_forward)


def ready() -> bool:
    """A no-op the pool runs once so its worker starts (imports done) before the first real run."""
    return True
