"""The history's configuration: plain values the composition root builds from its settings (never read
from the environment here). Its defaults are the only place those numbers are written; the settings
(``signal_api/settings.py``) take theirs from here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

# The dedup rule (SignalRepository): a signal is not stored again when one with the same dedup key lies
# less than the window away in time and less than the tolerance away in score.
DEDUP_WINDOW_SECONDS = 900.0
DEDUP_SCORE_TOLERANCE = 0.5
SPOOL_MAX_BYTES = 256 * 1024 * 1024  # rows past the cap are refused and counted, never silently dropped


@dataclass(frozen=True, slots=True)
class HistoryConfig:
    """What :func:`persistence.runtime.open_history` runs with. ``data_dir`` has no default here: the
    composition root decides it (the embedded database and the spool live below it)."""

    data_dir: Path
    database_url: str | None = None
    pool_min: int = 2
    pool_max: int = 10
    dedup_window_seconds: float = DEDUP_WINDOW_SECONDS
    dedup_score_tolerance: float = DEDUP_SCORE_TOLERANCE
    outcome_interval_seconds: float = 300.0
    replay_interval_seconds: float = 10.0
    run_outcome_job: bool = True
    spool_max_bytes: int | None = SPOOL_MAX_BYTES  # None: unbounded
    commit_timeout_seconds: float = 2.0  # longest a request waits for its group commit before spooling
    supervisor_interval_seconds: float = 5.0
    replayed: bool = False  # serve --replay --record-history: rows stored by this process are tagged replayed
