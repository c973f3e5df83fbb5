"""``ask(question)`` end to end over real HTTP (replay server on 127.0.0.1 → app): the routed registry
document's own answer, its cost and scope, REST and GraphQL alike, refusals typed."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx2
from graphql import parse

from schema.build import build_schema
from schema.cost import COST_WEIGHTS, query_cost
from schema.operations import operation
from tests.conftest import load_cassette_json, running_service
from tests.test_auth import bearer, keyed_service

if TYPE_CHECKING:
    from pathlib import Path

CASSETTE = "btc-2025-11-14-latest.json"
ASK = """
query Ask($question: String!) {
  ask(question: $question) {
    __typename
    ... on AskAnswer {
      question operation symbol symbols mode modeStated language confident reason notes answer
      alternatives { operation symbols mode confidence matched missing }
    }
    ... on Problem { code message }
    ... on InvalidInput { field }
  }
}
"""


async def post(client: httpx2.AsyncClient, base: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"{base}/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_signal_question_answers_with_the_registry_operations_own_result() -> None:
    cassette = load_cassette_json(CASSETTE)
    async with (
        asyncio.timeout(60),
        running_service(cassette) as (base, _),
        httpx2.AsyncClient(timeout=20) as client,
    ):
        asked = (await post(client, base, ASK, {"question": "signal BTC mode 3"}))["data"]["ask"]
        assert asked["__typename"] == "AskAnswer"
        assert (asked["operation"], asked["symbol"], asked["mode"], asked["language"]) == (
            "signals.get",
            "BTC",
            "ULTRA",
            "EN",
        )
        assert asked["confident"] is True and asked["modeStated"] is True
        # the same document run directly: the answer is that operation's result, not a second implementation
        op = operation("signals.get")
        direct = await post(client, base, op.document, {"symbol": "BTC", "mode": "ULTRA"})
        assert asked["answer"] == direct["data"]["signal"]
        assert asked["answer"]["__typename"] == "Signal" and asked["answer"]["mode"] == "ULTRA"

        indonesian = (await post(client, base, ASK, {"question": "sinyal bitcoin agresif dong"}))["data"]["ask"]
        assert (indonesian["operation"], indonesian["mode"], indonesian["language"]) == (
            "signals.get",
            "AGGRESSIVE",
            "ID",
        )
        assert indonesian["answer"]["symbol"] == "BTCUSDT"

        default_mode = (await post(client, base, ASK, {"question": "analysis of bitcoin"}))["data"]["ask"]
        assert default_mode["mode"] == "AGGRESSIVE" and default_mode["modeStated"] is False  # the operation's default


async def test_unsure_runs_nothing_and_offers_two_readings_and_bad_input_is_typed() -> None:
    cassette = load_cassette_json(CASSETTE)
    async with (
        asyncio.timeout(60),
        running_service(cassette) as (base, _),
        httpx2.AsyncClient(timeout=20) as client,
    ):
        unsure = (await post(client, base, ASK, {"question": "BTC"}))["data"]["ask"]
        assert unsure["confident"] is False and unsure["answer"] is None
        assert [a["operation"] for a in unsure["alternatives"]] == ["signals.get", "market.get"]
        assert unsure["reason"]

        no_coin = (await post(client, base, ASK, {"question": "sinyal agresif"}))["data"]["ask"]
        assert no_coin["confident"] is False and no_coin["answer"] is None
        assert no_coin["alternatives"][0]["missing"] == ["symbol"]

        unlisted = (await post(client, base, ASK, {"question": "signal ZZZQ"}))["data"]["ask"]
        assert "ZZZQ is not a listed USDT perpetual" in unlisted["notes"]

        too_long = (await post(client, base, ASK, {"question": "signal BTC " * 40}))["data"]["ask"]
        assert too_long == {
            "__typename": "InvalidInput",
            "code": "INVALID_INPUT",
            "message": too_long["message"],
            "field": "question",
        }

        rest = await client.post(f"{base}/invoke", json={"operation": "ask.question", "question": "x" * 301})
        assert rest.status_code == 400 and rest.json()["error"]["code"] == "INVALID_INPUT"


async def test_rest_ask_question_answers_in_the_envelope_under_the_compact_size() -> None:
    cassette = load_cassette_json(CASSETTE)
    async with (
        asyncio.timeout(60),
        running_service(cassette) as (base, _),
        httpx2.AsyncClient(timeout=20) as client,
    ):
        response = await client.post(
            f"{base}/invoke", json={"operation": "ask.question", "question": "analisis ETH konservatif"}
        )
        body = response.json()
        assert response.status_code == 200 and body["ok"] is True, body
        assert (body["data"]["operation"], body["data"]["mode"], body["data"]["language"]) == (
            "signals.get",
            "CONSERVATIVE",
            "ID",
        )
        assert body["data"]["answer"]["__typename"] in {"Signal", "SymbolNotFound", "InsufficientData"}

        via_get = await client.get(
            f"{base}/v1/ask/question", params={"question": "signal BTC mode 3", "compact": "true"}
        )
        assert via_get.status_code == 200 and via_get.json()["data"]["answer"]["__typename"] == "Signal"
        assert len(via_get.text) <= 50_000


async def test_the_routed_operations_cost_is_charged_on_top_of_ask() -> None:
    cassette = load_cassette_json(CASSETTE)
    budget = 500
    async with (
        asyncio.timeout(60),
        running_service(cassette, cost_limit_anonymous=budget) as (base, _),
        httpx2.AsyncClient(timeout=20) as client,
    ):
        rate = "{ rateLimit { remaining } }"  # costs 1 itself
        await post(client, base, ASK, {"question": "signal BTC mode 3"})
        after_routed = (await post(client, base, rate, {}))["data"]["rateLimit"]["remaining"]
        ask_weight = COST_WEIGHTS["Query.ask"].weight
        routed = operation("signals.get")
        routed_cost = query_cost(build_schema(), parse(routed.document), {"symbol": "BTC", "mode": "ULTRA"})
        assert routed_cost >= 1
        assert after_routed == budget - (ask_weight + routed_cost) - 1

        await post(client, base, ASK, {"question": "BTC"})  # not sure: nothing runs, only ask is paid
        after_unsure = (await post(client, base, rate, {}))["data"]["rateLimit"]["remaining"]
        assert after_unsure == after_routed - ask_weight - 1


async def test_the_routed_operations_scope_is_checked(tmp_path: Path) -> None:
    async with asyncio.timeout(90), keyed_service(tmp_path) as served, httpx2.AsyncClient(timeout=20) as client:
        history_question = {"operation": "ask.question", "question": "win rate of the signals"}
        reader = await client.post(
            f"{served.base_url}/invoke", json=history_question, headers=bearer(served.key("reader"))
        )
        assert reader.status_code == 403 and reader.json()["error"]["code"] == "FORBIDDEN", reader.text

        historian = bearer(served.key("historian"))
        allowed = await client.post(f"{served.base_url}/invoke", json=history_question, headers=historian)
        assert allowed.status_code == 200, allowed.text
        assert allowed.json()["data"]["operation"] == "history.performance"
        assert allowed.json()["data"]["answer"]["__typename"] == "SignalPerformance"


async def test_inputs_beyond_the_coin_reach_the_routed_operation() -> None:
    cassette = load_cassette_json(CASSETTE)
    async with (
        asyncio.timeout(60),
        running_service(cassette) as (base, _),
        httpx2.AsyncClient(timeout=20) as client,
    ):
        losers = (await post(client, base, ASK, {"question": "koin yang paling turun"}))["data"]["ask"]
        assert (losers["operation"], losers["language"], losers["confident"]) == ("screener.run", "ID", True)
        assert losers["answer"]["__typename"] == "Screener" and losers["answer"]["kind"] == "LOSERS"

        unsaid = (await post(client, base, ASK, {"question": "screener small caps"}))["data"]["ask"]
        assert unsaid["answer"]["kind"] == "VOLUME" and "no kind named: VOLUME" in unsaid["notes"]

        candles = (await post(client, base, ASK, {"question": "candles BTC 4h"}))["data"]["ask"]
        series = candles["answer"]["candles"]
        assert (series["exchange"], series["symbol"], series["interval"]) == ("binance", "BTCUSDT", "H4")
        assert "no exchange named: binance" in candles["notes"]

        # the issue's own example: new coins under an FDV ceiling is an MSS scan with maxFdvUsd, and what
        # cannot be applied (the DeFi sector) is said, never dropped in silence
        defi = (await post(client, base, ASK, {"question": "find new DeFi coins under $20M"}))["data"]["ask"]
        assert (defi["operation"], defi["confident"]) == ("mss.scan", True)
        assert defi["answer"]["__typename"] == "MssScan"
        assert "maxFdvUsd 20,000,000: the amount said, read as US dollars of FDV" in defi["notes"]
        assert any(n.startswith("DeFi is not filtered") for n in defi["notes"])
        gainers = (await post(client, base, ASK, {"question": "top gainers over 500k"}))["data"]["ask"]
        assert gainers["operation"] == "screener.run"
        assert "screener.run takes no amount: 500,000 is not applied" in gainers["notes"]


ROUTED = {
    "kenapa market merah semua?": "market.summary",
    "whale walls on BTC": "market.orderbook",
    "scalping BTC ultra": "market.scalping",
    "order flow BTC": "market.flow",
    "MSS BTC": "mss.get",
    "smc BTC": "structure.smc",
    "hype BTC": "social.hype",
    "mss scan": "mss.scan",
    "model coefficients": "model.get",
    "new listings this week": "listings.new",
    "volume spikes": "spikes.scan",
    "harga bitcoin berapa": "market.get",
}


async def test_each_routed_operation_answers_with_a_member_of_its_own_result_type() -> None:
    from graphql import get_named_type, get_nullable_type, is_abstract_type

    schema = build_schema()._schema
    cassette = load_cassette_json(CASSETTE)
    async with (
        asyncio.timeout(120),
        running_service(cassette) as (base, _),
        httpx2.AsyncClient(timeout=30) as client,
    ):
        for question, name in ROUTED.items():
            asked = (await post(client, base, ASK, {"question": question}))["data"]["ask"]
            assert (asked["operation"], asked["confident"]) == (name, True), (question, asked["reason"])
            op = operation(name)
            assert schema.query_type is not None
            field = schema.query_type.fields[op.root_field]  # the registry documents use no aliases
            result_type = get_named_type(get_nullable_type(field.type))
            members = (
                {t.name for t in schema.get_possible_types(result_type)}
                if is_abstract_type(result_type)
                else {result_type.name}
            )
            assert asked["answer"]["__typename"] in members, (question, asked["answer"]["__typename"], members)
        summary = (await post(client, base, ASK, {"question": "kenapa market merah semua?"}))["data"]["ask"]
        assert summary["language"] == "ID" and summary["answer"]["explanationId"]


async def test_ask_answers_are_never_served_from_the_response_cache() -> None:
    cassette = load_cassette_json(CASSETTE)
    query = '{ ask(question: "signal BTC mode 3") { __typename } }'
    async with (
        asyncio.timeout(60),
        running_service(cassette) as (base, _),
        httpx2.AsyncClient(timeout=20) as client,
    ):
        direct = '{ signal(symbol: "BTC") { __typename } }'  # the routed field alone is cacheable
        await client.post(f"{base}/graphql", json={"query": direct})
        assert (await client.post(f"{base}/graphql", json={"query": direct})).headers.get("x-cache") == "HIT"
        for _ in range(2):
            response = await client.post(f"{base}/graphql", json={"query": query})
            assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
            assert "x-cache" not in response.headers
