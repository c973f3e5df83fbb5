"""alternative.me, CoinGecko and CoinGlass: parsers over the shared fixtures (live captures and docs
examples), their error hooks, and each client over real HTTP (replay server or a small local app).

Expected values come from the fixture text; inline payloads copy the documented field names and shape.
"""

from __future__ import annotations

import copy
import functools
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from engine.market import LiquidationBar, Timeframe, utc_from_ms
from providers.alternative_me.domain import AlternativeMeClient, parse_fng
from providers.alternative_me.raw import alternative_me_error_hook
from providers.coingecko.domain import COINGECKO_IDS, CoinGeckoClient, parse_sentiment
from providers.coinglass.domain import (
    CoinGlassClient,
    oldest_first,
    to_liquidation_bar,
    to_long_short,
    to_open_interest_point,
)
from providers.coinglass.models import CgLiquidationBar, CgLongShortRatio, CgOhlc
from providers.coinglass.raw import coinglass_error_hook, data_rows
from providers.config import CacheTtls
from providers.errors import (
    AuthenticationFailed,
    InvalidRequest,
    InvalidSymbol,
    MalformedPayload,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
)
from providers.replay import Cassette, ReplayApp, serve_in_background
from providers.symbols import parse_symbol
from providers.upstream_client import UpstreamClient
from tests.providers_helpers import (
    cassette_entry_body,
    cassette_json,
    cassette_path,
    fixture_json,
    fixtures_dir,
    make_http,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from starlette.requests import Request

    from engine.market import LongShortPoint, OpenInterestPoint
    from providers.http import ProviderHttp

BTC = parse_symbol("BTC")


def _json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")


@pytest.fixture
async def replay_base() -> AsyncIterator[tuple[str, ReplayApp]]:
    replay = ReplayApp(Cassette.load(cassette_path()))
    async with serve_in_background(replay.app) as server:
        yield server.base_url, replay


# --------------------------------------------------------------------------------------------------
# alternative.me


def test_fng_fixture() -> None:
    raw = fixture_json("alternative_me", "fng.json")
    points = parse_fng(raw)
    assert len(points) == 1
    point = points[0]
    assert point.value == 27.0
    assert point.classification == "Fear"
    # ``timestamp`` is epoch seconds as a string
    assert point.time == datetime(2026, 8, 2, 0, 0, tzinfo=UTC)
    assert point.time == datetime.fromtimestamp(int(raw["data"][0]["timestamp"]), tz=UTC)
    assert alternative_me_error_hook("alternative_me", "fng", 200, raw) is None


def test_fng_newest_first_becomes_oldest_first() -> None:
    body = cassette_entry_body(cassette_json(), "alternative_me", "/fng/")
    stamps = [int(r["timestamp"]) for r in body["data"]]
    assert stamps == sorted(stamps, reverse=True)  # the wire is newest-first
    points = parse_fng(body)
    assert len(points) == len(body["data"]) == 30
    assert [p.time for p in points] == sorted(p.time for p in points)
    assert points[-1].value == float(body["data"][0]["value"]) == 72.0
    assert points[-1].classification == "Greed"
    assert points[0].time == datetime.fromtimestamp(stamps[-1], tz=UTC)


def test_fng_metadata_error_is_malformed_payload() -> None:
    body = {"name": "Fear and Greed Index", "data": [], "metadata": {"error": "Limit must be a positive number."}}
    error = alternative_me_error_hook("alternative_me", "fng", 200, body)
    assert isinstance(error, MalformedPayload)
    assert error.source == "alternative_me.fng"
    assert "Limit must be a positive number." in error.describe()


def test_fng_empty_data_is_rejected() -> None:
    with pytest.raises(ValueError, match="empty"):
        parse_fng({"name": "Fear and Greed Index", "data": [], "metadata": {"error": None}})


async def test_fng_over_replay(replay_base: tuple[str, ReplayApp]) -> None:
    base, replay = replay_base
    client = UpstreamClient()
    try:
        http = make_http("alternative_me", client, f"{base}/alternative_me", error_hook=alternative_me_error_hook)
        fng = AlternativeMeClient(http, CacheTtls())
        series = await fng.fear_greed(limit=30)
        latest = await fng.latest()
    finally:
        await client.aclose()
    assert len(series) == 30
    assert [p.time for p in series] == sorted(p.time for p in series)
    assert latest.value == 72.0
    assert latest.time == datetime.fromtimestamp(1752193201, tz=UTC)
    assert replay.calls["alternative_me GET /fng/"] == 2  # limit=30 and limit=1 are different requests


async def test_fng_metadata_error_over_http() -> None:
    calls = 0

    async def fng(request: Request) -> Response:
        nonlocal calls
        calls += 1
        return _json_response({"name": "Fear and Greed Index", "data": [], "metadata": {"error": "Bad limit."}})

    async with serve_in_background(Starlette(routes=[Route("/fng/", fng)])) as server:
        client = UpstreamClient()
        try:
            http = make_http("alternative_me", client, server.base_url, error_hook=alternative_me_error_hook)
            with pytest.raises(MalformedPayload) as info:
                await AlternativeMeClient(http, CacheTtls()).latest()
        finally:
            await client.aclose()
    assert info.value.describe() == "alternative_me.fng: metadata.error: Bad limit."
    assert calls == 1  # not retried


# --------------------------------------------------------------------------------------------------
# CoinGecko


def test_coingecko_sentiment_fixture() -> None:
    sentiment = parse_sentiment(fixture_json("coingecko", "coins_id.json"))
    assert sentiment.score == 84.07
    assert sentiment.kind == "coingecko_sentiment_votes_up_pct"


def test_coingecko_null_sentiment_is_a_value_error() -> None:
    raw = copy.deepcopy(fixture_json("coingecko", "coins_id.json"))
    raw["sentiment_votes_up_percentage"] = None
    raw["sentiment_votes_down_percentage"] = None
    with pytest.raises(ValueError, match="null"):
        parse_sentiment(raw)


async def _coingecko_server(body: dict[str, Any]) -> tuple[Starlette, list[str]]:
    seen: list[str] = []

    async def coin(request: Request) -> Response:
        seen.append(request.path_params["coin_id"])
        return _json_response(body)

    return Starlette(routes=[Route("/coins/{coin_id}", coin)]), seen


async def test_coingecko_over_http() -> None:
    raw = fixture_json("coingecko", "coins_id.json")
    app, seen = await _coingecko_server(raw)
    async with serve_in_background(app) as server:
        client = UpstreamClient()
        try:
            gecko = CoinGeckoClient(make_http("coingecko", client, server.base_url), CacheTtls())
            assert (await gecko.sentiment(BTC)).score == 84.07
            assert (await gecko.sentiment(parse_symbol("1000PEPEUSDT"))).score == 84.07
        finally:
            await client.aclose()
    assert seen == ["bitcoin", "pepe"]


async def test_coingecko_null_sentiment_is_malformed_payload_via_http() -> None:
    raw = copy.deepcopy(fixture_json("coingecko", "coins_id.json"))
    raw["sentiment_votes_up_percentage"] = None
    app, seen = await _coingecko_server(raw)
    async with serve_in_background(app) as server:
        client = UpstreamClient()
        try:
            gecko = CoinGeckoClient(make_http("coingecko", client, server.base_url), CacheTtls())
            with pytest.raises(MalformedPayload) as info:
                await gecko.sentiment(BTC)
        finally:
            await client.aclose()
    assert isinstance(info.value.__cause__, ValueError)
    assert info.value.source == "coingecko.coins"
    assert seen == ["bitcoin"]


async def test_coingecko_sentiment_over_replay(replay_base: tuple[str, ReplayApp]) -> None:
    base, _ = replay_base
    expected = cassette_entry_body(cassette_json(), "coingecko", "/coins/bitcoin")["sentiment_votes_up_percentage"]
    client = UpstreamClient()
    try:
        gecko = CoinGeckoClient(make_http("coingecko", client, f"{base}/coingecko"), CacheTtls())
        assert (await gecko.sentiment(BTC)).score == float(expected)
    finally:
        await client.aclose()


async def test_coingecko_unknown_base_is_invalid_symbol() -> None:
    # raised before any request: no server is needed, and none is contacted
    client = UpstreamClient()
    try:
        gecko = CoinGeckoClient(make_http("coingecko", client, "http://127.0.0.1:9"), CacheTtls())
        with pytest.raises(InvalidSymbol) as info:
            await gecko.sentiment(parse_symbol("NOTACOIN"))
    finally:
        await client.aclose()
    assert "NOTACOIN" in info.value.describe()
    assert info.value.source == "coingecko.coins"
    assert "NOTACOIN" not in COINGECKO_IDS


# --------------------------------------------------------------------------------------------------
# CoinGlass parsers


def _coinglass(name: str) -> dict[str, Any]:
    data: dict[str, Any] = fixture_json("coinglass", name)
    return data


def _sorted_rows(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(raw["data"], key=lambda r: int(r["time"]))


FOUR_HOURS = timedelta(hours=4)


def parse_liquidation_history(payload: dict[str, Any]) -> tuple[LiquidationBar, ...]:
    """4h bars (what the client asks), stamped at their end (the engine's convention)."""
    return oldest_first(data_rows(payload, CgLiquidationBar), functools.partial(to_liquidation_bar, bar=FOUR_HOURS))


def parse_ratio(payload: dict[str, Any]) -> tuple[LongShortPoint, ...]:
    return oldest_first(data_rows(payload, CgLongShortRatio), to_long_short)


parse_global_ratio = parse_top_position_ratio = parse_ratio


def parse_oi_history(payload: dict[str, Any]) -> tuple[OpenInterestPoint, ...]:
    return oldest_first(data_rows(payload, CgOhlc), to_open_interest_point)


@pytest.mark.parametrize(
    "name", ["futures_liquidation_aggregated-history.json", "futures_liquidation_aggregated-history.docs.json"]
)
def test_coinglass_liquidation_history(name: str) -> None:
    raw = _coinglass(name)
    bars = parse_liquidation_history(raw)
    rows = _sorted_rows(raw)
    assert len(bars) == len(rows)
    # CoinGlass stamps the bar's open; our LiquidationBar its end
    assert [b.time for b in bars] == [utc_from_ms(r["time"]) + FOUR_HOURS for r in rows]
    assert [b.long_usd for b in bars] == [float(r["aggregated_long_liquidation_usd"]) for r in rows]
    assert [b.short_usd for b in bars] == [float(r["aggregated_short_liquidation_usd"]) for r in rows]
    assert all(b.time.tzinfo is UTC for b in bars)


def test_coinglass_liquidation_values() -> None:
    docs = parse_liquidation_history(_coinglass("futures_liquidation_aggregated-history.docs.json"))
    assert docs[0] == LiquidationBar(utc_from_ms(1658966400000) + FOUR_HOURS, 5916885.14234, 12969583.87632)
    live = parse_liquidation_history(_coinglass("futures_liquidation_aggregated-history.json"))
    assert live[-1] == LiquidationBar(utc_from_ms(1748160000000) + FOUR_HOURS, 1183575.50602, 94637.9687)


@pytest.mark.parametrize(
    ("name", "parse", "prefix"),
    [
        ("futures_global-long-short-account-ratio_history.json", parse_global_ratio, "global_account"),
        ("futures_global-long-short-account-ratio_history.docs.json", parse_global_ratio, "global_account"),
        ("futures_top-long-short-position-ratio_history.json", parse_top_position_ratio, "top_position"),
        ("futures_top-long-short-position-ratio_history.docs.json", parse_top_position_ratio, "top_position"),
    ],
)
def test_coinglass_ratios_stay_percent(name: str, parse: Callable[[dict[str, Any]], Any], prefix: str) -> None:
    raw = _coinglass(name)
    points = parse(raw)
    rows = _sorted_rows(raw)
    assert [p.time for p in points] == [utc_from_ms(r["time"]) for r in rows]
    # already percent on the wire: never multiplied again (REFERENCE §2 defect 2, for ratios)
    assert [p.long_pct for p in points] == [float(r[f"{prefix}_long_percent"]) for r in rows]
    assert [p.long_short_ratio for p in points] == [float(r[f"{prefix}_long_short_ratio"]) for r in rows]
    assert all(1.0 < p.long_pct < 100.0 for p in points)


def test_coinglass_ratio_values() -> None:
    global_docs = parse_global_ratio(_coinglass("futures_global-long-short-account-ratio_history.docs.json"))
    assert global_docs[0].long_pct == 73.88
    assert global_docs[0].long_short_ratio == 2.83
    top_docs = parse_top_position_ratio(_coinglass("futures_top-long-short-position-ratio_history.docs.json"))
    assert top_docs[0].long_pct == 64.99


@pytest.mark.parametrize(
    "name", ["futures_open-interest_aggregated-history.json", "futures_open-interest_aggregated-history.docs.json"]
)
def test_coinglass_oi_history(name: str) -> None:
    raw = _coinglass(name)
    points = parse_oi_history(raw)
    rows = _sorted_rows(raw)
    assert [p.time for p in points] == [utc_from_ms(r["time"]) for r in rows]
    assert [p.open_interest for p in points] == [float(r["close"]) for r in rows]
    assert [p.open_interest_usd for p in points] == [float(r["close"]) for r in rows]
    assert all(p.unit == "usd" for p in points)


def test_coinglass_oi_docs_strings_and_order() -> None:
    # the docs example gives string values and lists the later time first: both are handled
    points = parse_oi_history(_coinglass("futures_open-interest_aggregated-history.docs.json"))
    assert [p.open_interest for p in points] == [2340177420.0, 2608846475.0]
    assert points[0].time < points[1].time
    live = parse_oi_history(_coinglass("futures_open-interest_aggregated-history.json"))
    assert live[-1].open_interest == 75669712118.0


def test_coinglass_string_and_number_values_parse_alike() -> None:
    raw = _coinglass("futures_liquidation_aggregated-history.docs.json")
    as_strings = copy.deepcopy(raw)
    for row in as_strings["data"]:
        row["aggregated_long_liquidation_usd"] = str(row["aggregated_long_liquidation_usd"])
        row["aggregated_short_liquidation_usd"] = str(row["aggregated_short_liquidation_usd"])
        row["time"] = str(row["time"])
    assert parse_liquidation_history(as_strings) == parse_liquidation_history(raw)


def test_coinglass_parsers_reject_non_list_data() -> None:
    raw = _coinglass("index_fear-greed-history.json")  # ``data`` is an object of parallel arrays
    assert isinstance(raw["data"], dict)
    with pytest.raises(TypeError):
        parse_oi_history(raw)


def test_every_relevant_coinglass_fixture_is_covered() -> None:
    names = {p.name for p in (fixtures_dir() / "coinglass").glob("*.json")}
    relevant = {
        n
        for n in names
        if n.startswith(
            (
                "futures_liquidation_aggregated-history",
                "futures_global-long-short-account-ratio_history",
                "futures_top-long-short-position-ratio_history",
                "futures_open-interest_aggregated-history",
            )
        )
    }
    assert len(relevant) == 8  # a live capture and a docs example for each of the four parsers


# --------------------------------------------------------------------------------------------------
# CoinGlass error hook


@pytest.mark.parametrize("code", ["0", 0])
def test_coinglass_hook_success_codes(code: str | int) -> None:
    assert coinglass_error_hook("coinglass", "x", 200, {"code": code, "msg": "success", "data": []}) is None


def test_coinglass_hook_passes_fixtures() -> None:
    for name in ("futures_liquidation_aggregated-history.json", "futures_open-interest_aggregated-history.json"):
        assert coinglass_error_hook("coinglass", "x", 200, _coinglass(name)) is None


def test_coinglass_hook_api_key() -> None:
    error = coinglass_error_hook(
        "coinglass", "liquidation.aggregated-history", 200, {"code": "40001", "msg": "API key missing."}
    )
    assert isinstance(error, AuthenticationFailed)
    assert error.source == "coinglass.liquidation.aggregated-history"
    assert "API key missing." in error.describe()


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        ({"code": "40002", "msg": "interval is not valid"}, InvalidRequest),
        ({"code": 400, "msg": "Missing or invalid parameters"}, InvalidRequest),
        ({"code": "400", "msg": "symbol not supported"}, InvalidSymbol),
        ({"code": "401", "msg": "Unauthorized"}, AuthenticationFailed),
        ({"code": "429", "msg": "Too Many Requests"}, RateLimited),
        ({"code": "500", "msg": "Internal Server Error"}, UpstreamUnavailable),
        ({"code": "408", "msg": "Request Timeout"}, UpstreamUnavailable),
    ],
)
def test_coinglass_hook_other_codes(payload: dict[str, Any], kind: type[Exception]) -> None:
    error = coinglass_error_hook("coinglass", "x", 200, {**payload, "data": None})
    assert type(error) is kind


def test_coinglass_hook_leaves_http_429_and_5xx_to_status_classification() -> None:
    # with HTTP 429 / 503 the status (and its Retry-After header) decides, not the envelope text
    body = {"code": "40001", "msg": "API key rate limited", "data": None}
    assert coinglass_error_hook("coinglass", "x", 429, body) is None
    assert coinglass_error_hook("coinglass", "x", 503, body) is None


# --------------------------------------------------------------------------------------------------
# CoinGlass client over HTTP


def _coinglass_http(client: Any, base: str, **kwargs: Any) -> ProviderHttp:
    return make_http(
        "coinglass",
        client,
        base,
        headers={"CG-API-KEY": "test"},
        keyed=True,
        error_hook=coinglass_error_hook,
        **kwargs,
    )


async def test_coinglass_liquidations_24h_over_replay(replay_base: tuple[str, ReplayApp]) -> None:
    base, replay = replay_base
    body = cassette_entry_body(
        cassette_json(), "coinglass", "/api/futures/liquidation/aggregated-history", symbol="BTC", interval="4h"
    )
    last_six = sorted(body["data"], key=lambda r: r["time"])[-6:]
    expected_long = sum(float(r["aggregated_long_liquidation_usd"]) for r in last_six)
    expected_short = sum(float(r["aggregated_short_liquidation_usd"]) for r in last_six)

    client = UpstreamClient()
    try:
        glass = CoinGlassClient(_coinglass_http(client, f"{base}/coinglass"), CacheTtls())
        totals = await glass.liquidations_24h(BTC)
        global_ls = await glass.global_long_short(BTC, Timeframe.H4)
        top = await glass.top_trader_positions(BTC, Timeframe.H4)
        oi = await glass.open_interest_history(BTC, Timeframe.H4)
    finally:
        await client.aclose()

    assert totals.window == timedelta(hours=24)
    assert totals.long_usd == pytest.approx(expected_long, rel=1e-12)
    assert totals.short_usd == pytest.approx(expected_short, rel=1e-12)
    assert totals.long_usd + totals.short_usd > 0
    share = totals.long_share_pct
    assert share is not None
    assert share == pytest.approx(expected_long / (expected_long + expected_short) * 100)

    assert global_ls[0].long_pct == 40.54  # percent stays percent
    assert [p.time for p in global_ls] == sorted(p.time for p in global_ls)
    assert top[0].long_pct == 57.56
    assert oi[0].open_interest == 72391752381.0
    assert all(p.unit == "usd" for p in oi)
    assert replay.calls["coinglass GET /api/futures/liquidation/aggregated-history"] == 1


async def test_coinglass_liquidations_sum_only_the_last_24h() -> None:
    """Seven 4h bars served newest-first: the oldest is 28h before the newest and is left out."""
    newest = 1752249600000
    step = 4 * 3_600_000
    rows = [
        {
            "time": newest - i * step,
            "aggregated_long_liquidation_usd": 1000.0 * (i + 1),
            "aggregated_short_liquidation_usd": 10.0 * (i + 1),
        }
        for i in range(7)
    ]
    seen: list[dict[str, str]] = []

    async def history(request: Request) -> Response:
        seen.append(dict(request.query_params) | {"key": request.headers.get("CG-API-KEY", "")})
        return _json_response({"code": "0", "msg": "success", "data": rows})

    app = Starlette(routes=[Route("/api/futures/liquidation/aggregated-history", history)])
    async with serve_in_background(app) as server:
        client = UpstreamClient()
        try:
            totals = await CoinGlassClient(_coinglass_http(client, server.base_url), CacheTtls()).liquidations_24h(BTC)
        finally:
            await client.aclose()
    assert totals.long_usd == 1000.0 * (1 + 2 + 3 + 4 + 5 + 6)
    assert totals.short_usd == 10.0 * (1 + 2 + 3 + 4 + 5 + 6)
    assert seen[0]["symbol"] == "BTC"
    assert seen[0]["interval"] == "4h"
    assert seen[0]["key"] == "test"


@pytest.mark.parametrize(
    ("status", "payload", "kind", "calls"),
    [
        (200, {"code": "40001", "msg": "API key missing.", "data": None}, AuthenticationFailed, 1),
        (401, {"code": "401", "msg": "Unauthorized", "data": None}, AuthenticationFailed, 1),
        (200, {"code": "400", "msg": "Missing or invalid parameters", "data": None}, InvalidRequest, 1),
        (200, {"code": "500", "msg": "Internal Server Error", "data": None}, UpstreamUnavailable, 2),
        (500, {"code": "500", "msg": "Internal Server Error", "data": None}, UpstreamUnavailable, 2),
        (429, {"code": "429", "msg": "Too Many Requests", "data": None}, RateLimited, 2),
    ],
)
async def test_coinglass_errors_over_http(
    status: int, payload: dict[str, Any], kind: type[UpstreamError], calls: int
) -> None:
    count = 0

    async def history(request: Request) -> Response:
        nonlocal count
        count += 1
        return _json_response(payload, status)

    app = Starlette(routes=[Route("/api/futures/open-interest/aggregated-history", history)])
    async with serve_in_background(app) as server:
        client = UpstreamClient()
        try:
            glass = CoinGlassClient(_coinglass_http(client, server.base_url, max_wait_seconds=0.05), CacheTtls())
            with pytest.raises(kind) as info:
                await glass.open_interest_history(BTC, Timeframe.H4)
        finally:
            await client.aclose()
    assert type(info.value) is kind
    assert info.value.source == "coinglass.open-interest.aggregated-history"
    assert count == calls  # transient errors retried (attempts=2), the rest not
