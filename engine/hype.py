"""Social hype: how much attention a coin draws, 0..100, whether that is a spike against its own past,
and whether attention and price disagree ("hype rising, price flat").

The score is a weighted mean of the attention measures that were read, renormalized over them (a
missing one is named, never counted as zero):

    component       weight  0..100 from
    trending        0.30    CoinGecko search/trending position p (0 = most searched): 100 - 50 p / 14;
                            a coin not in the list scores 0 (the list was read: that is a measurement)
    galaxy_score    0.40    LunarCrush Galaxy Score, as is
    alt_rank        0.30    LunarCrush AltRank r (1 = strongest): 100 (1 - log10 r / log10 5000), floored at 0

Sentiment and CoinGecko community numbers are reported beside the score, not in it: they say how people
feel or how many follow, not how much attention is new.

Spike: the score against this coin's own earlier scores (at least :data:`MIN_HISTORY`): a spike when it is
at least :data:`SPIKE_Z` standard deviations and :data:`SPIKE_MIN_POINTS` points above their mean.
Divergence: the score's change since the oldest kept reading against the 24 h price change. The two windows
differ (the hype one is as long as this server has kept readings of the coin, a day at most by default), so
the detail states both: "hype +12.0 points over 3.2 h, price +0.40% in 24 h".
"""

from __future__ import annotations

import enum
import math
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import datetime

    from engine.inputs import Reading

WEIGHTS: Mapping[str, float] = {"trending": 0.30, "galaxy_score": 0.40, "alt_rank": 0.30}
TRENDING_SLOTS = 15  # CoinGecko's trending list has 15 coins
ALT_RANK_FLOOR = 5000  # about how many coins LunarCrush ranks; rank at or past it scores 0
MIN_HISTORY = 5
SPIKE_Z = 2.0
SPIKE_MIN_POINTS = 10.0
DIVERGENCE_HYPE_POINTS = 10.0  # a hype change this large is "rising" / "fading"
FLAT_PRICE_PCT = 2.0  # a 24 h price move smaller than this is "flat"


@dataclass(frozen=True, slots=True)
class SocialMetrics:
    """A venue's social numbers for one coin, ``None`` where it has none (normalized by the provider).

    LunarCrush: Galaxy Score (0..100), AltRank (1 = strongest), sentiment (% positive posts), social
    volume and interactions over 24 h. CoinGecko (keyless): sentiment as the % of up-votes and the
    community counts (``community``: reddit subscribers and active accounts, telegram members, watchlist
    users). ``time`` is when the venue built the numbers.
    """

    venue: str
    galaxy_score: float | None = None
    alt_rank: float | None = None
    sentiment_pct: float | None = None
    social_volume_24h: float | None = None
    interactions_24h: float | None = None
    community: Mapping[str, float] = field(default_factory=dict)
    time: datetime | None = None
    topic: str | None = None  # LunarCrush's social topic of the coin (``bitcoin``)
    topic_trend: str | None = None  # the topic's trend: "up", "down" or "flat"
    topic_rank: float | None = None  # the topic's rank among all topics (1 = most talked about)
    topic_error: str | None = None  # why the topic was not read, when asked for


@dataclass(frozen=True, slots=True)
class TrendingCoin:
    """One entry of a venue's trending list, most searched first (``position`` 0)."""

    symbol: str  # upper case, as the venue spells the coin
    name: str
    position: int
    price_change_24h_pct: float | None = None


class Divergence(enum.Enum):
    HYPE_RISING_PRICE_FLAT = "HYPE_RISING_PRICE_FLAT"
    HYPE_RISING_PRICE_FALLING = "HYPE_RISING_PRICE_FALLING"
    PRICE_RISING_HYPE_FADING = "PRICE_RISING_HYPE_FADING"
    ALIGNED = "ALIGNED"


@dataclass(frozen=True, slots=True)
class HypeComponent:
    name: str
    raw_value: float | None
    score: float | None  # 0..100; None when missing
    weight: float
    source: str | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class HypeReport:
    symbol: str
    score: float | None  # None when no component was read
    components: tuple[HypeComponent, ...]
    context: tuple[HypeComponent, ...]  # reported, not scored (sentiment, community)
    spike: bool | None  # None: too little history to judge
    spike_detail: str
    history_points: int
    hype_change: float | None
    hype_change_hours: float | None  # the span hype_change covers: from the oldest kept reading to now
    price_change_24h_pct: float | None
    divergence: Divergence | None
    divergence_detail: str

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(f"{c.name}: {c.error}" for c in self.components if c.score is None)


def trending_score(position: int | None) -> float:
    """``position`` 0-based in the trending list, ``None`` when the coin is not in it."""
    if position is None:
        return 0.0
    return max(0.0, 100.0 - 50.0 * position / (TRENDING_SLOTS - 1))


def alt_rank_score(rank: float) -> float:
    if rank < 1:
        raise ValueError(f"AltRank {rank!r} is below 1")
    return max(0.0, 100.0 * (1.0 - math.log10(rank) / math.log10(ALT_RANK_FLOOR)))


def _component(name: str, reading: Reading[float] | None, to_score: Callable[[float], float]) -> HypeComponent:
    weight = WEIGHTS[name]
    if reading is None or reading.value is None:
        error = (reading.error if reading is not None else None) or "not fetched"
        return HypeComponent(name, None, None, weight, reading.source if reading else None, error)
    value = float(reading.value)
    if not math.isfinite(value):
        return HypeComponent(name, None, None, weight, reading.source, "not finite")
    try:
        score = to_score(value)
    except ValueError as exc:
        return HypeComponent(name, value, None, weight, reading.source, str(exc))
    return HypeComponent(name, value, round(score, 2), weight, reading.source)


def _spike(score: float | None, history: Sequence[float]) -> tuple[bool | None, str]:
    if score is None:
        return None, "no hype score to compare"
    if len(history) < MIN_HISTORY:
        return None, f"needs {MIN_HISTORY} earlier readings of this coin, has {len(history)}"
    mean = statistics.fmean(history)
    spread = statistics.pstdev(history)
    above = score - mean
    z = above / spread if spread > 0 else (math.inf if above > 0 else 0.0)
    spike = above >= SPIKE_MIN_POINTS and z >= SPIKE_Z
    z_text = "inf" if math.isinf(z) else f"{z:.1f}"
    detail = f"{score:.1f} vs mean {mean:.1f} of {len(history)} earlier readings (z {z_text})"
    return spike, detail


def span_text(hours: float) -> str:
    """A time span as a trader reads it: minutes under an hour, else hours with one decimal."""
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"


def _divergence(
    change: float | None, price_pct: float | None, span_hours: float | None
) -> tuple[Divergence | None, str]:
    if change is None:
        return None, "no earlier hype reading of this coin yet"
    if price_pct is None or not math.isfinite(price_pct):
        return None, "no 24 h price change"
    over = f" over {span_text(span_hours)}" if span_hours is not None else ""
    text = f"hype {change:+.1f} points{over}, price {price_pct:+.2f}% in 24 h"
    rising, fading = change >= DIVERGENCE_HYPE_POINTS, change <= -DIVERGENCE_HYPE_POINTS
    if rising and abs(price_pct) < FLAT_PRICE_PCT:
        return Divergence.HYPE_RISING_PRICE_FLAT, text
    if rising and price_pct <= -FLAT_PRICE_PCT:
        return Divergence.HYPE_RISING_PRICE_FALLING, text
    if fading and price_pct >= FLAT_PRICE_PCT:
        return Divergence.PRICE_RISING_HYPE_FADING, text
    return Divergence.ALIGNED, text


def score_hype(
    symbol: str,
    readings: Mapping[str, Reading[float]],
    context: Sequence[HypeComponent] = (),
    history: Sequence[float] = (),
    price_change_24h_pct: float | None = None,
    history_span_hours: float | None = None,
) -> HypeReport:
    """``readings``: ``trending`` (0-based position; value ``-1`` = read, not listed), ``galaxy_score``,
    ``alt_rank``; ``history``: this coin's earlier scores, oldest first; ``history_span_hours``: how long ago
    the oldest of them was read (the window the hype change covers)."""
    if history_span_hours is not None and not (math.isfinite(history_span_hours) and history_span_hours >= 0):
        raise ValueError(f"history_span_hours must be finite and not negative, not {history_span_hours!r}")
    components = (
        _component("trending", readings.get("trending"), lambda p: trending_score(None if p < 0 else int(p))),
        _component("galaxy_score", readings.get("galaxy_score"), lambda g: min(100.0, max(0.0, g))),
        _component("alt_rank", readings.get("alt_rank"), alt_rank_score),
    )
    scored = [(c.score, c.weight) for c in components if c.score is not None]
    total_weight = sum(w for _, w in scored)
    score = round(sum(s * w for s, w in scored) / total_weight, 2) if scored else None
    spike, spike_detail = _spike(score, history)
    change = round(score - history[0], 2) if score is not None and history else None
    span = round(history_span_hours, 2) if change is not None and history_span_hours is not None else None
    divergence, divergence_detail = _divergence(change, price_change_24h_pct, span)
    return HypeReport(
        symbol=symbol,
        score=score,
        components=components,
        context=tuple(context),
        spike=spike,
        spike_detail=spike_detail,
        history_points=len(history),
        hype_change=change,
        hype_change_hours=span,
        price_change_24h_pct=price_change_24h_pct,
        divergence=divergence,
        divergence_detail=divergence_detail,
    )
