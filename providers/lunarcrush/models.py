"""LunarCrush v4 wire models. Answers are ``{"config": {...}, "data": ...}``; ``config.generated`` is the
epoch second the snapshot was built and is carried on every coin row as ``generated``.

Social fields are ``None`` where LunarCrush has none: Galaxy Score™ (0..100 composite of social and market
health), AltRank™ (1 = strongest momentum), sentiment (percent of positive posts, 0..100).
"""

from __future__ import annotations

from datetime import datetime  # noqa: TC003 (pydantic reads the annotations at runtime)
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BeforeValidator, Field, model_validator

from providers._shared import OptFloat, OptInt, VenueModel

D = TypeVar("D")


def _none_is_empty(value: Any) -> Any:
    return () if value is None else value


Strings = Annotated[tuple[str, ...], BeforeValidator(_none_is_empty)]


class LunarCrushCoin(VenueModel):
    """A coin's social and market snapshot (``/public/coins/{coin}/v1``, ``/public/coins/list/v2`` rows)."""

    id: int
    symbol: str
    name: str
    galaxy_score: OptFloat = None  # 0..100
    alt_rank: OptInt = None  # 1 = strongest momentum
    sentiment: OptFloat = None  # % of positive posts, 0..100
    price: OptFloat = None
    market_cap_rank: OptInt = None
    percent_change_24h: OptFloat = None
    social_dominance: OptFloat = None
    interactions_24h: OptFloat = None
    social_volume_24h: OptFloat = None  # posts with the coin over 24 h (coins/list/v2 rows)
    generated: datetime | None = None  # the answer's config.generated
    topic: str | None = None  # the answer's config.topic: the coin's social topic (``bitcoin``)


class LunarCrushTopicSummary(VenueModel):
    topic: str
    title: str
    topic_rank: int
    topic_rank_24h_previous: OptInt = None
    num_contributors: int
    num_posts: int
    interactions_24h: float


class LunarCrushTopic(VenueModel):
    topic: str
    title: str
    topic_rank: int
    trend: str | None = None  # "up", "down" or "flat"
    interactions_24h: float
    num_contributors: int
    num_posts: int
    types_sentiment: Annotated[dict[str, float], BeforeValidator(lambda v: v or {})] = Field(
        default_factory=dict
    )  # post type → % positive
    related_topics: Strings = ()
    categories: Strings = ()


class Answer(VenueModel, Generic[D]):
    """The envelope; ``config.generated`` (epoch seconds) is copied onto each row of ``data`` that is an object."""

    data: D

    @model_validator(mode="before")
    @classmethod
    def _stamp_rows(cls, payload: Any) -> Any:
        if not isinstance(payload, dict):
            return payload
        data = payload.get("data")
        if not isinstance(data, dict | list):
            raise TypeError(f"data is {type(data).__name__}, expected an object or a list")
        config = payload.get("config")
        generated = config.get("generated") if isinstance(config, dict) else None
        if generated is None:
            return payload
        if isinstance(data, dict):
            topic = config.get("topic") if isinstance(config, dict) else None
            stamp = {"generated": generated, **({"topic": topic} if isinstance(topic, str) else {})}
            return {**payload, "data": {**stamp, **data}}
        return {**payload, "data": [{"generated": generated, **r} if isinstance(r, dict) else r for r in data]}
