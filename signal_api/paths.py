"""Default locations, decided here in the composition root and passed inward as plain ``Path`` values.

Nothing below ``signal_api`` reads the environment or derives a location from its own ``__file__``:
``persistence`` is handed the data directory, ``providers.history_files`` and the backtest the
history directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

APP_DIR_NAME = "futures-signal-api"
REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout this package runs from
SHARED_HISTORY = Path("..") / "shared" / "fixtures" / "history"


def default_data_dir(environ: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """``$XDG_DATA_HOME/futures-signal-api``, or ``~/.local/share/futures-signal-api`` (XDG base dirs)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or str((home if home is not None else Path.home()) / ".local" / "share")
    return Path(base) / APP_DIR_NAME


def default_model_path(base: str = "btc") -> Path:
    """The CALIBRATED artifact of ``base`` (the committed BTC one is fitted on the shared year; ``signal-api
    model fit`` rewrites it)."""
    return Path(__file__).resolve().parent / "models" / f"calibrated_{base.lower()}_4h.json"


def default_history_dir(repo: Path = REPO_ROOT) -> Path:
    """``<repo>/../shared/fixtures/history``: the recorded history the backtest replays by default."""
    return (repo / SHARED_HISTORY).resolve()
