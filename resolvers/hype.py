"""The ``socialHype`` resolver: the attention a coin draws, read keyless from CoinGecko (trending, community)
and from LunarCrush when its key is set (Galaxy Score, AltRank, social volume), in one concurrent round."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from engine.hype import HypeComponent, HypeReport, score_hype
from engine.inputs import Reading
from engine.listings import coin_symbol
from resolvers.problems import InvalidArgument, Problem, UnknownSymbol
from resolvers.symbols import listed_instrument

if TYPE_CHECKING:
    from engine.hype import SocialMetrics, TrendingCoin
    from engine.mss import CoinDetails
    from resolvers.context import RequestContext


TOPIC_TRENDS = {"up": 1.0, "flat": 0.0, "down": -1.0}


def _trending_position(reading: Reading[tuple[TrendingCoin, ...]], base: str) -> Reading[float]:
    """The coin's 0-based place in the trending list, ``-1`` when the list was read and it is not there."""
    if reading.value is None:
        return Reading.missing(reading.error or "no trending list", source=reading.source, failed=reading.failed)
    position = next((c.position for c in reading.value if c.symbol == base), -1)
    return Reading(value=float(position), source=reading.source)


def _metric(reading: Reading[SocialMetrics], value: float | None, name: str) -> Reading[float]:
    if reading.value is None:
        return Reading.missing(reading.error or "no answer", source=reading.source, failed=reading.failed)
    if value is None:
        return Reading.missing(f"{reading.source} has no {name}", source=reading.source)
    return Reading(value=value, source=reading.source)


def _context(details: Reading[CoinDetails], keyed: Reading[SocialMetrics]) -> tuple[HypeComponent, ...]:
    """Sentiment and community numbers, reported beside the score (weight 0)."""
    out: list[HypeComponent] = []
    if keyed.value is not None:
        for name, value in (
            ("lunarcrush_sentiment_pct", keyed.value.sentiment_pct),
            ("social_volume_24h", keyed.value.social_volume_24h),
            ("interactions_24h", keyed.value.interactions_24h),
        ):
            if value is not None:
                out.append(HypeComponent(name, value, None, 0.0, keyed.source))
        metrics = keyed.value
        if metrics.topic_trend is not None:  # up +1, flat 0, down -1
            trend = TOPIC_TRENDS.get(metrics.topic_trend)
            error = None if trend is not None else f"unknown trend {metrics.topic_trend!r}"
            out.append(HypeComponent("lunarcrush_topic_trend", trend, None, 0.0, "lunarcrush.topic", error))
        if metrics.topic_rank is not None:
            out.append(HypeComponent("lunarcrush_topic_rank", metrics.topic_rank, None, 0.0, "lunarcrush.topic"))
        if metrics.topic_error is not None:
            out.append(
                HypeComponent("lunarcrush_topic_trend", None, None, 0.0, "lunarcrush.topic", metrics.topic_error)
            )
    if details.value is not None:
        social = details.value.social
        if social.sentiment_pct is not None:
            out.append(HypeComponent("coingecko_up_votes_pct", social.sentiment_pct, None, 0.0, details.source))
        for name, value in sorted(social.community.items()):
            out.append(HypeComponent(name, value, None, 0.0, details.source))
    else:
        out.append(HypeComponent("coingecko_community", None, None, 0.0, details.source, details.error))
    return tuple(out)


async def resolve_hype(ctx: RequestContext, symbol: str) -> HypeReport | InvalidArgument | UnknownSymbol:
    instrument = await listed_instrument(ctx, symbol)
    if isinstance(instrument, Problem):
        return instrument
    gateway = ctx.services.gateway
    trending, keyed, details, ticker = await asyncio.gather(
        gateway.trending(),
        gateway.social_metrics(instrument, keyed_only=True, topic=True),
        gateway.coin_details(instrument),
        gateway.ticker_24h(instrument, ctx.loaders),
    )
    readings = {
        "trending": _trending_position(trending, coin_symbol(instrument.base)),
        "galaxy_score": _metric(keyed, keyed.value.galaxy_score if keyed.value else None, "Galaxy Score"),
        "alt_rank": _metric(keyed, keyed.value.alt_rank if keyed.value else None, "AltRank"),
    }
    history = ctx.services.discovery.hype_history
    now = gateway.now()
    kept = history.earlier_readings(instrument.canonical, now)
    span_hours = (now - kept[0][0]).total_seconds() / 3600 if kept else None  # what the hype change covers
    price_change = ticker.value.price_change_pct if ticker.value is not None else None
    report = score_hype(
        instrument.canonical,
        readings,
        _context(details, keyed),
        tuple(score for _, score in kept),
        price_change,
        history_span_hours=span_hours,
    )
    if report.score is not None:
        history.record(instrument.canonical, gateway.now(), report.score)
    return report
