"""The CALIBRATED model in the service: loaded once at start-up from its JSON artifact, never refitted here.

The composition root calls :func:`load_state` with the artifact's path (the committed
``signal_api/models/calibrated_btc_4h.json`` unless ``CALIBRATED_MODEL_PATH`` says otherwise) and puts
the :class:`ModelState` in ``Services.model``. A missing or malformed file does not stop the service: the
state then carries the reason, mode CALIBRATED answers the problem ``MODEL_NOT_AVAILABLE`` saying it (as
it does for a symbol or timeframe the model was not fitted on: an answer, not a fault), and the ``model``
query returns ``ModelNotAvailable``. Refitting is ``signal-api model fit`` (a command, never a request).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.calibrated import CalibratedModel, ModelFormatError

if TYPE_CHECKING:
    from pathlib import Path

    from engine.market import Timeframe
    from providers.symbols import Instrument


class ModelNotAvailable(Exception):
    """No usable model: ``message`` says why, naming the file but never a server path."""

    code = "MODEL_NOT_AVAILABLE"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class ModelState:
    """The loaded model, or why there is none (``problem``); ``file_name`` is the artifact's name only."""

    model: CalibratedModel | None
    file_name: str
    problem: str | None = None

    def require(self) -> CalibratedModel:
        if self.model is None:
            raise ModelNotAvailable(self.problem or "no calibrated model is loaded")
        return self.model

    def for_signal(self, instrument: Instrument, timeframe: Timeframe) -> CalibratedModel | None:
        """The model when it was fitted on this symbol and bar, else ``None`` (no probabilityUp)."""
        m = self.model
        if m is None or m.symbol != instrument.canonical or m.timeframe != timeframe.value:
            return None
        return m

    def refusal(self, instrument: Instrument, timeframe: Timeframe) -> str | None:
        """Why mode CALIBRATED cannot answer for this symbol and bar, or ``None`` when it can."""
        if self.model is None:
            return f"mode CALIBRATED is unavailable: {self.problem or 'no model loaded'}"
        m = self.model
        if m.timeframe != timeframe.value:
            return f"mode CALIBRATED is fitted on {m.timeframe} bars only; ask timeframe H4 or another mode"
        if m.symbol != instrument.canonical:
            return (
                f"mode CALIBRATED is fitted and evaluated on {m.symbol} only; it has not been tested on "
                f"{instrument.canonical}, so it does not answer for it (use another mode)"
            )
        return None


def read_model(path: Path) -> CalibratedModel:
    """Parse the artifact at ``path``; :class:`ModelNotAvailable` (naming the file only) on any failure."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelNotAvailable(f"model file {path.name} not found; run `signal-api model fit`") from None
    except (OSError, ValueError) as exc:
        raise ModelNotAvailable(f"model file {path.name} is unreadable: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise ModelNotAvailable(f"model file {path.name} is not a JSON object")
    try:
        return CalibratedModel.from_json(data)
    except ModelFormatError as exc:
        raise ModelNotAvailable(f"model file {path.name}: {exc}") from None


def write_model(model: CalibratedModel, path: Path) -> None:
    """Write the artifact deterministically (sorted keys, fixed indent): the same fit gives the same file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(model.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def load_state(path: Path) -> ModelState:
    try:
        return ModelState(read_model(path), path.name)
    except ModelNotAvailable as exc:
        return ModelState(None, path.name, exc.message)
