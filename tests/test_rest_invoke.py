"""The REST shim against the app over replay: every operation answers the same through POST /invoke (flat
and nested), its GET route and /graphql; bad input is a 4xx envelope; timeouts and the size limit hold."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import httpx2
import pytest

from schema.operations import OPERATIONS, operation
from signal_api.rest.cursors import cursors_to_rest
from signal_api.rest.numbers import rest_view
from tests.conftest import CASSETTE_NAMES, load_cassette_json, running_service

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

# One call per registry operation, in GraphQL's own spelling (a new operation must add its example here).
EXAMPLES: dict[str, dict[str, Any]] = {
    "signals.get": {"symbol": "BTC", "mode": "AGGRESSIVE", "timeframe": "H4"},
    "signals.batch": {"symbols": ["BTC", "ETHUSDT", "NOTACOIN"], "mode": "ULTRA"},
    "symbols.list": {"search": "BTC"},
    "market.get": {"symbol": "BTC"},
    "exchanges.list": {},
    "exchange.candles": {"exchange": "binance", "symbol": "BTC", "interval": "4h", "limit": 60},
    "backtest.run": {"symbol": "BTC", "mode": "ULTRA", "walkForward": False},
    "model.get": {},
    "history.list": {"symbol": "BTC", "first": 5},
    "history.performance": {"symbol": "BTC", "horizon": "H24"},
    "ask.question": {"question": "signal BTC mode 3"},
    "listings.new": {"withinHours": 72},
    "screener.run": {"kind": "GAINERS", "limit": 5, "minQuoteVolumeUsd": 0},
    "spikes.scan": {"minZ": 3.0},
    "mss.get": {"symbol": "BTC"},
    "mss.scan": {"limit": 5, "withinHours": 72},
    "market.summary": {"mode": "AGGRESSIVE", "timeframe": "H4"},
    "social.hype": {"symbol": "BTC"},
    "watchlist.list": {"historyPoints": 3},
    "structure.smc": {"symbol": "BTC", "timeframes": ["1h", "4h"], "recent": 3},
    "market.orderbook": {"symbol": "BTC"},
    "market.flow": {"symbol": "BTC", "window": "M5"},
    "market.scalping": {"symbol": "BTC"},
    "alerts.rules": {},
}
ENVELOPE_KEYS = {"ok", "operation", "data", "error", "meta"}
# Answers that change between two calls by design: the first flow call starts following the trade streams, so a
# later call has seen trades the earlier one had not. Those compare by shape (type and fields), not by value.
LIVE_STATE = {"market.flow", "market.scalping"}
# Words that may change between two calls: with one coin's cassette the summary is partial, so it is not cached
# and names why each venue failed; the second of four quick calls meets our own Hyperliquid rate budget (0.8/s)
# instead of the cassette's gap. Everything else (numbers, calls, counts) must be equal.
VOLATILE_FIELDS = {"market.summary": {"explanationEn", "explanationId", "problem"}}


def _steady(data: Any, volatile: set[str]) -> Any:
    """``data`` without the volatile fields' values (their keys stay, so a missing field still fails)."""
    if isinstance(data, dict):
        return {k: None if k in volatile else _steady(v, volatile) for k, v in data.items()}
    if isinstance(data, list):
        return [_steady(v, volatile) for v in data]
    return data


@contextlib.asynccontextmanager
async def offline_service(**settings: Any) -> AsyncIterator[str]:
    """The app with every upstream pointed at a closed port: enough for argument errors."""
    from providers.replay import serve_in_background
    from signal_api.app import create_app
    from signal_api.settings import Settings

    dead = Settings(_env_file=None, upstream_retry_attempts=1, **settings).with_replay_base("http://127.0.0.1:9")  # type: ignore[call-arg]
    async with serve_in_background(create_app(dead), lifespan="on") as server:
        yield server.base_url


def _query(args: dict[str, Any]) -> dict[str, str]:
    return {k: ",".join(v) if isinstance(v, list) else str(v) for k, v in args.items()}


def _envelope(response: httpx2.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert set(body) == ENVELOPE_KEYS, body
    assert set(body["meta"]) == {"duration_ms", "data_quality", "truncated", "operation_timeout_s"}
    return body


def test_every_registry_operation_has_an_example() -> None:
    assert set(EXAMPLES) == {op.name for op in OPERATIONS}


@pytest.mark.parametrize("cassette_name", CASSETTE_NAMES)
async def test_invoke_get_and_graphql_give_the_same_answer(cassette_name: str) -> None:
    cassette = load_cassette_json(cassette_name)
    async with running_service(cassette) as (url, _), httpx2.AsyncClient(timeout=30) as client:
        for op in OPERATIONS:
            args = EXAMPLES[op.name]
            graphql = await client.post(
                f"{url}/graphql",
                json={"query": op.document, "variables": args, "operationName": op.operation_name},
            )
            flat = await client.post(f"{url}/invoke", json={"operation": op.name, **args})
            nested = await client.post(f"{url}/invoke", json={"operation": op.name, "args": args})
            get = await client.get(f"{url}{op.path}", params=_query(args))
            assert "errors" not in graphql.json(), graphql.json()
            expected = graphql.json()["data"][op.root_field]
            # the REST view: ratios as ...Pct, readable cursors, and numbers rounded unless precision=full
            rounded = cursors_to_rest(rest_view(expected, trader=True))
            answers = [_envelope(r) for r in (flat, nested, get)]
            for response, body in zip((flat, nested, get), answers, strict=True):
                assert body["operation"] == op.name
                where = f"{op.name} via {response.request.method} {response.request.url}"
                if op.name in LIVE_STATE:
                    assert body["data"]["__typename"] == rounded["__typename"], where
                    assert set(body["data"]) == set(rounded), where
                elif op.name in VOLATILE_FIELDS:
                    volatile = VOLATILE_FIELDS[op.name]
                    assert _steady(body["data"], volatile) == _steady(rounded, volatile), where
                else:
                    assert body["data"] == rounded, where
                assert body["meta"]["truncated"] is False
            assert flat.status_code == nested.status_code == get.status_code
            if answers[0]["ok"]:
                assert flat.status_code == 200 and answers[0]["error"] is None
            else:
                assert set(answers[0]["error"]) == {"code", "message"}


async def test_rest_spellings_of_enums_reach_the_same_answer() -> None:
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    async with running_service(cassette) as (url, _), httpx2.AsyncClient(timeout=30) as client:
        canonical = await client.get(
            f"{url}/v1/signals/get", params={"symbol": "BTC", "mode": "CONSERVATIVE", "timeframe": "H4"}
        )
        aliases = [
            await client.get(f"{url}/v1/signals/get", params={"symbol": "btc-usdt", "mode": mode, "timeframe": tf})
            for mode, tf in (("safe", "4h"), ("1", "h4"), ("Conservative", "4H"))
        ]
        batch = await client.post(f"{url}/invoke", json={"operation": "signals.batch", "symbols": "BTC,ETHUSDT"})
    assert canonical.status_code == 200 and canonical.json()["data"]["mode"] == "CONSERVATIVE"
    assert canonical.json()["meta"]["data_quality"] == canonical.json()["data"]["dataQuality"]["score"]
    for response in aliases:
        assert response.status_code == 200 and response.json()["data"] == canonical.json()["data"]
    scores = batch.json()["meta"]["data_quality"]
    assert isinstance(scores, list) and len(scores) == 2 and isinstance(scores[0], float)


async def test_problems_map_to_statuses_with_the_problem_as_data() -> None:
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    async with running_service(cassette) as (url, _), httpx2.AsyncClient(timeout=30) as client:
        unknown = await client.get(f"{url}/v1/signals/get", params={"symbol": "NOTAREALCOIN"})
        spelling = await client.post(f"{url}/invoke", json={"operation": "signals.get", "symbol": "BTC/EUR"})
        exchange = await client.get(f"{url}/v1/exchange/candles", params={"exchange": "nowhere", "symbol": "BTC"})
        all_bad = await client.get(f"{url}/v1/signals/batch", params={"symbols": "NOTAREALCOIN,ALSONOTACOIN"})
    assert unknown.status_code == 404 and _envelope(unknown)["error"]["code"] == "SYMBOL_NOT_FOUND"
    assert unknown.json()["data"]["__typename"] == "SymbolNotFound" and unknown.json()["ok"] is False
    assert spelling.status_code == 400 and _envelope(spelling)["error"]["code"] == "INVALID_INPUT"
    assert spelling.json()["data"]["field"] == "symbol"
    assert exchange.status_code == 404 and _envelope(exchange)["error"]["code"] == "EXCHANGE_NOT_FOUND"
    assert all_bad.status_code == 404 and len(_envelope(all_bad)["data"]) == 2


ARG, MALFORMED = "INVALID_ARGUMENT", "MALFORMED_REQUEST"
CANDLES = {"operation": "exchange.candles", "exchange": "binance", "symbol": "BTC"}
SIGNAL = {"operation": "signals.get", "symbol": "BTC"}


def _post(body: object) -> tuple[str, str, dict[str, Any]]:
    return "POST", "/invoke", {"json": body}


def _get(path: str, params: object) -> tuple[str, str, dict[str, Any]]:
    return "GET", path, {"params": params}


BAD_INPUT = [
    (_post({"operation": "signals.nope"}), 404, "UNKNOWN_OPERATION", "signals.get"),
    (_post({"symbol": "BTC"}), 400, ARG, "'operation'"),
    (_post({"operation": 7}), 400, ARG, "'operation'"),
    (_post({"operation": "signals.get"}), 400, ARG, "'symbol'"),
    (_post({"operation": "signals.batch", "symbols": {"a": 1}}), 400, ARG, "symbols"),
    (_post({"operation": "signals.get", "args": ["BTC"]}), 400, ARG, "args"),
    (_post(SIGNAL | {"compact": "maybe"}), 400, ARG, "compact"),
    (_post(SIGNAL | {"mode": "yolo"}), 400, ARG, "AGGRESSIVE"),
    (_post(SIGNAL | {"size": 3}), 400, ARG, "size"),
    (_post(CANDLES | {"limit": "ten"}), 400, ARG, "limit"),
    (_post(["signals.get"]), 400, MALFORMED, "object"),
    (_post("signals.get"), 400, MALFORMED, "object"),
    (
        ("POST", "/invoke", {"content": b"{not json", "headers": {"content-type": "application/json"}}),
        400,
        "INVALID_JSON",
        "JSON",
    ),
    (
        ("POST", "/invoke", {"content": b"", "headers": {"content-type": "application/json"}}),
        400,
        "INVALID_JSON",
        "JSON",
    ),
    (
        ("POST", "/invoke", {"content": b"\xff\xfe", "headers": {"content-type": "application/json"}}),
        400,
        "INVALID_ENCODING",
        "UTF-8",
    ),
    (
        ("POST", "/invoke", {"content": b'{"operation": "symbols.list"}'}),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "application/json",
    ),
    (
        ("POST", "/invoke", {"content": b'{"operation": "symbols.list"}', "headers": {"content-type": "text/plain"}}),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "application/json",
    ),
    (_get("/v1/signals/get", {}), 400, ARG, "'symbol'"),
    (_get("/v1/signals/get", {"symbol": "BTC", "timeframe": "7h"}), 400, ARG, "15m"),
    (_get("/v1/signals/get", {"symbol": "BTC", "compact": "often"}), 400, ARG, "compact"),
    (_get("/v1/signals/get", [("symbol", "BTC"), ("symbol", "ETH")]), 400, ARG, "2 times"),
    (_get("/v1/exchange/candles", {"exchange": "binance", "symbol": "BTC", "limit": "1e99"}), 400, ARG, "limit"),
]


@pytest.mark.parametrize(("call", "status", "code", "fragment"), BAD_INPUT)
async def test_bad_input_is_a_4xx_envelope(
    call: tuple[str, str, dict[str, Any]], status: int, code: str, fragment: str
) -> None:
    method, path, request_kwargs = call
    async with offline_service() as url, httpx2.AsyncClient(timeout=10) as client:
        response = await client.request(method, f"{url}{path}", **request_kwargs)
    assert response.status_code == status, response.text
    body = _envelope(response)
    assert body["ok"] is False and body["data"] is None
    assert body["error"]["code"] == code
    assert fragment in body["error"]["message"]


async def test_oversized_body_is_413_with_the_error_envelope() -> None:
    async with offline_service(max_body_bytes=4096) as url, httpx2.AsyncClient(timeout=10) as client:
        response = await client.post(f"{url}/invoke", json={"operation": "signals.get", "symbol": "B" * 10_000})
    assert response.status_code == 413
    assert response.json()["ok"] is False and response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_operations_list_names_every_operation_with_its_parameters() -> None:
    async with offline_service(operation_timeouts={"signals.batch": 45}) as url, httpx2.AsyncClient() as client:
        listed = (await client.get(f"{url}/invoke/operations")).json()["operations"]
    by_name = {entry["name"]: entry for entry in listed}
    assert list(by_name) == [op.name for op in OPERATIONS]
    signal = by_name["signals.get"]
    assert (signal["method"], signal["path"], signal["timeout_seconds"]) == ("GET", "/v1/signals/get", 30.0)
    assert by_name["signals.batch"]["timeout_seconds"] == 45
    params = {p["name"]: p for p in signal["parameters"]}
    assert params["symbol"]["required"] is True and params["symbol"]["type"] == "string"
    assert params["mode"]["default"] == "AGGRESSIVE" and "scalping" in params["mode"]["enum"]
    assert by_name["signals.batch"]["parameters"][0]["type"] == "array<string>"


async def test_a_slow_operation_times_out_with_504() -> None:
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    async with (
        running_service(cassette, latency_ms=200, operation_timeouts={"signals.get": 0.001}) as (url, _),
        httpx2.AsyncClient(timeout=30) as client,
    ):
        slow = await client.get(f"{url}/v1/signals/get", params={"symbol": "BTC"})
        other = await client.get(f"{url}/v1/symbols/list", params={"search": "ETH"})
    assert slow.status_code == 504
    body = _envelope(slow)
    assert body["error"]["code"] == "TIMEOUT" and "0.001" in body["error"]["message"]
    assert body["meta"]["operation_timeout_s"] == 0.001
    assert other.status_code == 200  # the default 30 s still applies to the others


async def test_large_answers_are_compacted_under_the_limit() -> None:
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    async with (
        running_service(cassette, rest_max_response_chars=2000) as (url, _),
        httpx2.AsyncClient(timeout=30) as client,
    ):
        symbols = await client.get(f"{url}/v1/symbols/list")
        candles = await client.post(
            f"{url}/invoke",
            json={
                "operation": "exchange.candles",
                "exchange": "binance",
                "symbol": "BTC",
                "interval": "4h",
                "limit": 300,
                "compact": True,
            },
        )
    for response in (symbols, candles):
        assert len(response.text) <= 2000, response.text[:200]
    body = _envelope(symbols)
    assert symbols.status_code == 200 and body["ok"] is True and body["meta"]["truncated"] is True
    assert body["data"]["count"] > len(body["data"]["symbols"]) > 0
    if candles.status_code == 200:
        rows = candles.json()["data"]["candles"]["rows"]
        assert candles.json()["meta"]["truncated"] is True and 0 < len(rows) <= 50
    else:
        assert candles.status_code == 413 and candles.json()["error"]["code"] == "RESPONSE_TOO_LARGE"


async def test_compact_flag_keeps_the_latest_candles() -> None:
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    args = {"exchange": "binance", "symbol": "BTC", "interval": "4h", "limit": 300}
    async with running_service(cassette) as (url, _), httpx2.AsyncClient(timeout=30) as client:
        full = await client.get(f"{url}/v1/exchange/candles", params=_query(args))
        compact = await client.get(f"{url}/v1/exchange/candles", params=_query(args) | {"compact": "true"})
    rows = full.json()["data"]["candles"]["rows"]
    assert len(rows) > 50 and full.json()["meta"]["truncated"] is False
    assert compact.json()["data"]["candles"]["rows"] == rows[-50:]
    assert compact.json()["meta"]["truncated"] is True
    assert operation("exchange.candles").root_field == "exchange"


async def test_unsupported_capability_and_missing_history_have_their_statuses() -> None:
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    async with running_service(cassette) as (url, _), httpx2.AsyncClient(timeout=30) as client:
        social_only = await client.get(f"{url}/v1/exchange/candles", params={"exchange": "coingecko", "symbol": "BTC"})
        history = await client.get(f"{url}/v1/history/list", params={"symbol": "BTC"})
    assert social_only.status_code == 400
    assert _envelope(social_only)["error"]["code"] == "CAPABILITY_NOT_SUPPORTED"
    assert social_only.json()["data"]["candles"]["capability"] == "candles"
    assert history.status_code == 503 and _envelope(history)["error"]["code"] == "HISTORY_UNAVAILABLE"
