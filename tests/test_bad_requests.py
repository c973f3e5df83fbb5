"""Everything a client can send to the JSON routes gets a 4xx with a code, never a 500 (issue 9, errors)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from signal_api.http_guards import MAX_JSON_DEPTH, json_depth

if TYPE_CHECKING:
    from collections.abc import Iterator

JSON = "application/json"
LEAKS = ("Traceback", "pydantic", "orjson", "json.decoder", "/work/", ".py", "Error(")


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """The real app (every upstream on a closed port), in its lifespan, served in-process."""
    from signal_api.app import create_app
    from signal_api.settings import Settings

    dead = Settings(  # type: ignore[call-arg]
        _env_file=None, upstream_retry_attempts=1, streams_enabled=False
    ).with_replay_base("http://127.0.0.1:9")
    with TestClient(create_app(dead), raise_server_exceptions=False) as test_client:
        yield test_client


def _error(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert body["ok"] is False, body
    for leak in LEAKS:
        assert leak not in response.text, response.text
    error: dict[str, Any] = body["error"]
    return error


DEEP = b'{"query": "{ __typename }", "variables": {"a": ' + b"[" * 10_000 + b"]" * 10_000 + b"}}"
BODIES = [
    # (body, content type, status, code)
    (b'{"query": "{ __typename }"}', "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
    (b'{"query": "{ __typename }"}', None, 415, "UNSUPPORTED_MEDIA_TYPE"),
    (b'{"query": "{ __typename }"}', "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE"),
    (b'{"query": "{ __typename }"}', "application/json; charset=latin-1", 415, "UNSUPPORTED_MEDIA_TYPE"),
    (b'{"query": "\xff{ __typename }"}', JSON, 400, "INVALID_ENCODING"),
    (b"\xed\xa0\x80", JSON, 400, "INVALID_ENCODING"),  # a UTF-8-encoded lone surrogate
    (b'{"query": "{ __typename }"', JSON, 400, "INVALID_JSON"),
    (b"", JSON, 400, "INVALID_JSON"),
    (b'{"query": "{ __typename }"} {}', JSON, 400, "INVALID_JSON"),
    (b'{"query": "\\ud800"}', JSON, 400, "INVALID_JSON"),  # a lone surrogate escape
    (b'{"variables": {"x": NaN}}', JSON, 400, "INVALID_JSON"),
    (b"[]", JSON, 400, "MALFORMED_REQUEST"),
    (b"[{}]", JSON, 400, "MALFORMED_REQUEST"),
    (b"null", JSON, 400, "MALFORMED_REQUEST"),
    (b'"{ __typename }"', JSON, 400, "MALFORMED_REQUEST"),
    (b"42", JSON, 400, "MALFORMED_REQUEST"),
    (b"[" * 5_000 + b"]" * 5_000, JSON, 400, "NESTING_TOO_DEEP"),
    (DEEP, JSON, 400, "NESTING_TOO_DEEP"),
]
GRAPHQL_FIELDS = [
    (b'{"query": 1}', "'query'"),
    (b'{"query": "{ __typename }", "variables": [1]}', "'variables'"),
    (b'{"query": "{ __typename }", "variables": "x"}', "'variables'"),
    (b'{"query": "{ __typename }", "operationName": 5}', "'operationName'"),
    (b'{"query": "{ __typename }", "extensions": []}', "'extensions'"),
]


@pytest.mark.parametrize("path", ["/graphql", "/invoke"])
@pytest.mark.parametrize(("body", "content_type", "status", "code"), BODIES)
def test_each_bad_body_class_is_a_coded_4xx(
    client: TestClient, path: str, body: bytes, content_type: str | None, status: int, code: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post(path, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert _error(response)["code"] == code
    assert response.headers["x-request-id"]


@pytest.mark.parametrize(("body", "field"), GRAPHQL_FIELDS)
def test_graphql_request_fields_of_the_wrong_type(client: TestClient, body: bytes, field: str) -> None:
    response = client.post("/graphql", content=body, headers={"content-type": JSON})
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "MALFORMED_REQUEST" and field in error["message"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("query=%7B__typename%7D&variables=%5B1%5D", "MALFORMED_REQUEST"),
        ("query=%7B__typename%7D&variables=not-json", "INVALID_JSON"),
        ("query=%7B__typename%7D&variables=%FF", "INVALID_ENCODING"),
        ("query=%7B__typename%7D&extensions=5", "MALFORMED_REQUEST"),
        ("query=%7B__typename%7D&variables=" + "%5B" * 200 + "%5D" * 200, "NESTING_TOO_DEEP"),
    ],
)
def test_get_graphql_json_parameters_are_checked(client: TestClient, query: str, code: str) -> None:
    response = client.get(f"/graphql?{query}", headers={"accept": JSON})
    assert response.status_code == 400, response.text
    assert _error(response)["code"] == code


def test_good_requests_still_pass(client: TestClient) -> None:
    typename = {"query": "{ __typename }"}
    posted = client.post("/graphql", content=orjson.dumps(typename), headers={"content-type": f"{JSON}; charset=UTF-8"})
    fetched = client.get("/graphql", params={**typename, "variables": "{}"}, headers={"accept": JSON})
    nested = {"query": "query($v: [[[Int]]]) { __typename }", "variables": {"v": [[[1]]]}}
    deep_ok = client.post("/graphql", json=nested)
    operations = client.post("/invoke", json={"operation": "exchanges.list"})
    assert posted.status_code == 200 and posted.json() == {"data": {"__typename": "Query"}}
    assert fetched.status_code == 200 and fetched.json() == {"data": {"__typename": "Query"}}
    assert deep_ok.status_code == 200, deep_ok.text
    assert operations.status_code == 200 and operations.json()["ok"] is True


# --- fuzz: random bytes and random JSON, whatever the content type -------------------------------------


def _upstream_fault(response: Any) -> bool:
    """A valid request whose upstreams are down (every upstream here is a closed port) is a 503, not a bug."""
    error = response.json().get("error") or {}
    return response.status_code in (503, 504) and str(error.get("code")).startswith(("UPSTREAM", "HISTORY", "TIMEOUT"))


_json_leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
_json_values = st.recursive(
    _json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30,
)
_graphql_like = st.fixed_dictionaries(
    {},
    optional={
        "query": st.sampled_from(["{ __typename }", "{ signal(", "query { nope }", ""]) | _json_values,
        "variables": _json_values,
        "operationName": _json_values,
        "extensions": _json_values,
        "operation": st.sampled_from(["symbols.list", "nope", "signals.get"]) | _json_values,
    },
)


def _dumps(value: object) -> bytes:
    return json.dumps(value).encode()  # the stdlib: integers beyond 64 bits too


_bodies = (
    st.binary(max_size=300)
    | _json_values.map(_dumps)
    | _graphql_like.map(_dumps)
    | st.integers(1, 3_000).map(lambda n: b"[" * n + b"]" * n)
    | st.integers(1, 3_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n)
)
_content_types = st.sampled_from(
    [JSON, f"{JSON}; charset=utf-8", "text/plain", "", "application/graphql-response+json", "multipart/form-data"]
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/graphql", "/invoke"]), body=_bodies, content_type=_content_types)
def test_fuzzed_bodies_never_answer_5xx(client: TestClient, path: str, body: bytes, content_type: str) -> None:
    response = client.post(path, content=body, headers={"content-type": content_type} if content_type else {})
    assert response.status_code < 500 or _upstream_fault(response), (body[:200], response.text[:300])
    if response.status_code >= 400 and response.headers.get("content-type", "").startswith(JSON):
        for leak in ("Traceback", "pydantic", "/work/"):
            assert leak not in response.text


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(variables=st.text(max_size=60) | _json_values.map(json.dumps))
def test_fuzzed_get_variables_never_answer_5xx(client: TestClient, variables: str) -> None:
    response = client.get("/graphql", params={"query": "{ __typename }", "variables": variables})
    assert response.status_code < 500, (variables, response.text[:300])


# --- the depth scan ----------------------------------------------------------------------------------


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


_finite_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30,
)
_tricky_text = st.text(alphabet=st.sampled_from('[]{}"\\ab\n'), max_size=12)


@given(_finite_json | st.dictionaries(_tricky_text, st.lists(_tricky_text, max_size=3), max_size=3))
def test_depth_scan_matches_the_parsed_depth(value: object) -> None:
    """Brackets inside strings (escaped quotes included) do not count; the scan agrees with the parse."""
    assert json_depth(orjson.dumps(value)) == _depth(value)


def test_depth_scan_is_linear() -> None:
    import time

    body = b'["' + b'\\"[' * 20_000 + b'"]' + b"[" * 30_000 + b"]" * 30_000
    started = time.perf_counter()
    assert json_depth(body) == 30_000  # the first array closes before the deep one opens
    assert time.perf_counter() - started < 0.2
    assert MAX_JSON_DEPTH < 30_000


def test_the_views_own_4xx_answers_are_coded_json(client: TestClient) -> None:
    no_query = client.post("/graphql", json={"variables": {}})
    get_no_query = client.get("/graphql", params={"variables": "{}"}, headers={"accept": JSON})
    put = client.put("/graphql", json={"query": "{ __typename }"})
    for response, status, code in (
        (no_query, 400, "BAD_REQUEST"),
        (get_no_query, 400, "BAD_REQUEST"),
        (put, 405, "METHOD_NOT_ALLOWED"),
    ):
        assert response.status_code == status, response.text
        assert _error(response)["code"] == code


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(["/v1/exchange/candles", "/v1/signals/batch", "/v1/history/list", "/graphql"]),
    params=st.lists(
        st.tuples(
            st.sampled_from(["symbol", "symbols", "exchange", "limit", "interval", "compact", "from", "query", "x"]),
            st.text(max_size=30) | _json_values.map(json.dumps),
        ),
        max_size=4,
    ),
)
def test_fuzzed_query_strings_never_answer_5xx(client: TestClient, path: str, params: list[tuple[str, str]]) -> None:
    response = client.get(path, params=params, headers={"accept": JSON})
    assert response.status_code < 500 or _upstream_fault(response), (params, response.text[:300])


_frame_types = st.sampled_from(["connection_init", "ping", "pong", "subscribe", "complete", "next", "error", "x"])
_frames = (
    st.text(max_size=80)
    | _json_values.map(json.dumps)
    | st.fixed_dictionaries(
        {"type": _frame_types | _json_values},
        optional={
            "id": st.text(max_size=10) | _json_values,
            "payload": _json_values
            | st.fixed_dictionaries({"query": st.sampled_from(["subscription {", "{ __typename }", "query { x }"])}),
        },
    ).map(json.dumps)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=_frames)
def test_fuzzed_websocket_frames_close_cleanly_or_are_answered(client: TestClient, frame: str) -> None:
    """Whatever the frame, the connection either goes on (a ping still gets its pong) or is closed with a
    4xxx code; the handler never dies."""
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_text(json.dumps({"type": "connection_init"}))
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_text(frame)
        ws.send_text(json.dumps({"type": "ping"}))
        for _ in range(10):  # bounded: the answer to the frame (if any), then the pong or a close
            message = ws.receive()
            if message["type"] == "websocket.close":
                assert 4400 <= message["code"] < 4500, (frame, message)
                return
            if json.loads(message["text"]).get("type") == "pong":
                return
        raise AssertionError(f"no pong and no close after {frame!r}")
