"""alternative.me wire models, shaped like the ``/fng/`` JSON (numbers and epoch seconds as strings)."""

from __future__ import annotations

from pydantic import field_validator

from providers._shared import VenueModel


class FngPoint(VenueModel):
    value: float  # "27": 0..100
    value_classification: str  # "Fear"
    timestamp: int  # "1785628800": epoch *seconds*


class FngAnswer(VenueModel):
    """``{"name": "Fear and Greed Index", "data": [...newest first...], "metadata": {"error": null}}``."""

    data: tuple[FngPoint, ...]

    @field_validator("data")
    @classmethod
    def _not_empty(cls, data: tuple[FngPoint, ...]) -> tuple[FngPoint, ...]:
        if not data:
            raise ValueError("empty data list")
        return data
