"""Social sentiment goes stale: CoinGecko's ``last_updated`` dates the community votes, and the engine's
freshness rule (48 h for social, :mod:`engine.freshness`) judges the score by it.

Before the fix the answer's ``last_updated`` was dropped, so a score CoinGecko last updated in April 2024
scored as current in a November 2025 signal. The payloads are the real ones in ``../shared`` (skipped when
absent): the ``/coins/bitcoin`` fixture and the cassettes' recorded answer, unchanged except where a test
moves ``last_updated`` to show that a fresh score is used.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from engine.freshness import MAX_AGES, stale_error
from engine.inputs import Reading
from engine.market import Timeframe, utc_from_ms
from engine.quality import InputName
from providers.coingecko.domain import parse_sentiment
from providers.coingecko.venue import build
from providers.symbols import parse_symbol
from tests.conftest import CASSETTE_NAMES, load_cassette_json, running_service
from tests.providers_helpers import fixture_json, served_deps
from tests.test_e2e_replay import _factor, _signal

if TYPE_CHECKING:
    from starlette.requests import Request

SOCIAL_MAX_AGE = timedelta(hours=48)  # the README's limit for social


def _coin() -> dict[str, Any]:
    data: dict[str, Any] = fixture_json("coingecko", "coins_id.json")
    return data


def test_the_engine_limit_is_the_readmes_48_hours() -> None:
    assert MAX_AGES[InputName.SOCIAL].for_timeframe(Timeframe.H4) == SOCIAL_MAX_AGE


async def test_the_venue_carries_last_updated_into_the_score() -> None:
    coin = _coin()

    async def coins(request: Request) -> JSONResponse:
        return JSONResponse(coin)

    app = Starlette(routes=[Route("/coingecko/coins/bitcoin", coins)])
    async with served_deps(app, "coingecko", {}) as deps:
        provider = build(deps)
        assert provider is not None
        social = await provider.social(parse_symbol("BTC"))
    assert social.score == coin["sentiment_votes_up_percentage"]
    assert social.time == datetime.fromisoformat(coin["last_updated"])
    assert social.time is not None and social.time.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("age", "stale"),
    [(timedelta(hours=47), False), (SOCIAL_MAX_AGE, False), (SOCIAL_MAX_AGE + timedelta(minutes=1), True)],
)
def test_an_unstamped_reading_is_judged_by_last_updated(age: timedelta, stale: bool) -> None:
    social = parse_sentiment(_coin())
    assert social.time is not None
    # the gateway stamps nothing for social: the engine falls back to the time inside the value
    reading = Reading(value=social, source="coingecko.coins")
    error = stale_error(InputName.SOCIAL, reading, social.time + age, Timeframe.H4)
    if stale:
        assert error is not None and error.startswith("stale: observed 2024-04-07T15:24:51.021000+00:00")
    else:
        assert error is None


def _with_coingecko_updated(cassette: dict[str, Any], when: datetime | None) -> dict[str, Any]:
    """The cassette with its ``/coins/bitcoin`` answer's ``last_updated`` moved (``None``: left as recorded)."""
    if when is None:
        return cassette
    changed = copy.deepcopy(cassette)
    for entry in changed["http"]:
        if entry["provider"] == "coingecko" and entry["path"] == "/coins/bitcoin":
            entry["body"]["last_updated"] = when.isoformat().replace("+00:00", "Z")
    return changed


@pytest.mark.parametrize("name", CASSETTE_NAMES)
async def test_the_recorded_months_old_score_is_unavailable_as_stale(name: str, graphql: Any) -> None:
    cassette = load_cassette_json(name)
    coin = next(e["body"] for e in cassette["http"] if e["provider"] == "coingecko" and e["path"] == "/coins/bitcoin")
    updated = datetime.fromisoformat(coin["last_updated"])
    assert utc_from_ms(cassette["clock"]) - updated > SOCIAL_MAX_AGE  # the recorded answer is months old
    async with running_service(cassette) as (base_url, _replay):
        signal = await _signal(graphql, base_url)
    assert signal["__typename"] == "Signal", signal
    social = _factor(signal, "SOCIAL")
    assert social["available"] is False and social["score"] is None and social["effectiveWeight"] == 0
    assert social["source"] == "coingecko.coins"
    assert social["error"].startswith(f"stale: observed {updated.isoformat()}")
    assert [m for m in signal["dataQuality"]["missing"] if m.startswith("social")] == [f"social: {social['error']}"]


async def test_a_fresh_score_in_the_same_answer_is_used(graphql: Any) -> None:
    cassette = load_cassette_json(CASSETTE_NAMES[-1])
    clock = utc_from_ms(cassette["clock"])
    fresh = _with_coingecko_updated(cassette, clock - timedelta(hours=1))
    coin = next(e["body"] for e in fresh["http"] if e["provider"] == "coingecko" and e["path"] == "/coins/bitcoin")
    async with running_service(fresh) as (base_url, _replay):
        signal = await _signal(graphql, base_url)
    assert signal["__typename"] == "Signal", signal
    social = _factor(signal, "SOCIAL")
    assert social["available"] is True and social["error"] is None
    assert social["rawValue"] == coin["sentiment_votes_up_percentage"]
    assert social["source"] == "coingecko.coins" and social["effectiveWeight"] > 0
    assert not [m for m in signal["dataQuality"]["missing"] if m.startswith("social")]
