"""The hype-versus-price divergence states the span its hype change covers (from the oldest kept reading),
beside the price change's 24 h: in the engine, and end to end over the real keyless fixtures with the
service clock moved on between two readings."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from engine.hype import Divergence, score_hype, span_text
from engine.inputs import Reading
from tests.conftest import running_service
from tests.test_mss import mss_cassette

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime


def trending(position: int) -> dict[str, Reading[float]]:
    return {"trending": Reading(float(position), "coingecko.search.trending")}


QUIET = [20.0, 21.0, 19.0, 20.0, 20.5]


def test_the_detail_names_the_hype_window_and_the_price_window() -> None:
    report = score_hype("XUSDT", trending(0), history=QUIET, price_change_24h_pct=0.8, history_span_hours=3.2)
    assert report.divergence is Divergence.HYPE_RISING_PRICE_FLAT
    assert report.hype_change == 80.0 and report.hype_change_hours == 3.2
    assert report.divergence_detail == "hype +80.0 points over 3.2 h, price +0.80% in 24 h"
    short = score_hype("XUSDT", trending(0), history=QUIET, price_change_24h_pct=-4.0, history_span_hours=0.75)
    assert short.divergence_detail == "hype +80.0 points over 45 min, price -4.00% in 24 h"


def test_no_history_has_no_window_and_a_bad_span_is_refused() -> None:
    first = score_hype("XUSDT", trending(0), price_change_24h_pct=0.8, history_span_hours=None)
    assert first.hype_change is None and first.hype_change_hours is None
    assert first.divergence_detail == "no earlier hype reading of this coin yet"
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="history_span_hours"):
            score_hype("XUSDT", trending(0), history=QUIET, history_span_hours=bad)
    assert (span_text(0.5), span_text(1.0), span_text(23.96)) == ("30 min", "1.0 h", "24.0 h")


HYPE = """query %s { socialHype(symbol: "BTC") { __typename ... on SocialHype {
  score historyPoints hypeChange hypeChangeHours priceChange24hPct divergence divergenceDetail } } }"""


async def test_social_hype_states_how_long_its_hype_change_covers(graphql: Callable[..., Any]) -> None:
    cassette = mss_cassette(lunarcrush=False)
    from providers.replay import Cassette

    start: datetime = Cassette.model_validate(cassette).now
    now = [start]
    async with running_service(cassette, clock=lambda: now[0]) as (base, _):
        _, first = await graphql(base, HYPE % "First")
        now[0] = start + timedelta(hours=3, minutes=12)
        _, later = await graphql(base, HYPE % "Later")  # another document: not the response cache's first answer
    before, after = first["data"]["socialHype"], later["data"]["socialHype"]
    assert before["historyPoints"] == 0 and before["hypeChangeHours"] is None
    assert before["divergenceDetail"] == "no earlier hype reading of this coin yet"
    assert after["historyPoints"] == 1 and after["hypeChangeHours"] == 3.2
    assert after["hypeChange"] == round(after["score"] - before["score"], 2)
    price = after["priceChange24hPct"]
    assert isinstance(price, float)
    assert (
        after["divergenceDetail"] == f"hype {after['hypeChange']:+.1f} points over 3.2 h, price {price:+.2f}% in 24 h"
    )
