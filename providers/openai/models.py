"""The answer the AI judge must give, as a pydantic model: the SDK turns it into a strict JSON schema
(``response_format``), so the model can only answer these fields and these values."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

VerdictName = Literal["CONFIRM", "DOWNSIZE", "SKIP", "WAIT"]
RiskModeName = Literal["AVOID", "REDUCED", "NORMAL", "AGGRESSIVE"]


class AiVerdictAnswer(BaseModel):
    """One verdict on one call. ``reason`` is free text for the trader (trimmed by the caller)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    verdict: VerdictName
    risk_mode: RiskModeName
    reason: str
