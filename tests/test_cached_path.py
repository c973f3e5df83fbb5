"""The per-request shortcuts on the cached-answer path (issue 15) give the answers the long way gave: the
redactor's one check per event, the timestamp text, the batched log writer, request ids, the fused
security-headers/CORS layer, the body guard's memory of accepted bodies and the one-call cache key."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import random
import re
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import pytest
import structlog
import structlog.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.middleware.cors import CORSMiddleware

from signal_api import response_cache
from signal_api.app import BodySizeLimit
from signal_api.http_guards import BodyGuard, BufferedReceive, buffered_body
from signal_api.logging import (
    REDACTED,
    SENSITIVE_KEYS,
    Redactor,
    _BatchedStderr,
    _utc_timestamp,
    configure_logging,
    fast_json_logger,
)
from signal_api.request_log import _RequestIds
from signal_api.response_cache import request_key
from signal_api.security.auth import anonymous_at
from signal_api.security.headers import ALLOWED_HEADERS, EXPOSED_HEADERS, SecureCors, SecurityHeaders, _vary_origin
from signal_api.security.principal import Principal

if TYPE_CHECKING:
    from starlette.types import Message, Receive, Scope, Send

SECRETS = ("cg-PLANTED-setting-key-0b9e", "PLANTED-db-password-c4d7")
STRINGS = [
    "POST",
    "/graphql",
    "127.0.0.1",
    "http request",
    "Authorization: Bearer sk-live-PLANTED-7f3a9c",
    "x-api-key=PLANTED-x-api-key-88d1",
    "fsa_0123456789abcdef0123",
    "url postgresql://signals:PLANTED-db-password-c4d7@127.0.0.1/signals",
    "cg-PLANTED-setting-key-0b9e",
    "naïve text",
    "short",
]
KEYS = ["method", "route", "path", "client", "event", "key_id", "status", "Authorization", "X-API-Key", "note"]


def _per_value(redactor: Redactor, event: dict[str, Any]) -> dict[str, Any]:
    """What the processor answered before its shortcut: every key and value on its own."""
    return {
        key: REDACTED
        if isinstance(key, str) and key.lower() in SENSITIVE_KEYS
        else value
        if value is None or type(value) in (int, float, bool)
        else redactor.value(value)
        for key, value in event.items()
    }


def test_event_redaction_equals_the_per_value_answer() -> None:
    redactor = Redactor(SECRETS)
    rng = random.Random(15)
    redacted = 0
    for _ in range(3_000):
        event: dict[str, Any] = {}
        for key in rng.sample(KEYS, rng.randint(1, len(KEYS))):
            kind = rng.random()
            event[key] = (
                rng.choice(STRINGS)
                if kind < 0.6
                else None
                if kind < 0.7
                else rng.randint(0, 599)
                if kind < 0.8
                else 0.3
                if kind < 0.9
                else {"authorization": "Bearer x"}
            )
        answer = redactor.event(None, "info", dict(event))
        assert answer == _per_value(redactor, event)
        redacted += answer != event
    assert redacted > 500  # the samples did exercise the redacting path


def test_event_of_plain_fields_goes_through_unchanged() -> None:
    event = {"event": "http request", "method": "POST", "status": 200, "duration_ms": 0.3, "key_id": None}
    assert Redactor(SECRETS).event(None, "info", dict(event)) == event


@pytest.mark.parametrize("nanos", [1_764_519_153_000_000_000, 1_764_519_153_123_456_789, 1_764_519_154_000_999_999])
def test_timestamp_is_structlogs_iso_utc_text(monkeypatch: pytest.MonkeyPatch, nanos: int) -> None:
    """structlog's ``TimeStamper(fmt="iso", utc=True)``: ``isoformat()`` of the UTC instant, ``Z`` for the
    offset, no fraction on a whole second."""
    monkeypatch.setattr("signal_api.logging.time.time_ns", lambda: nanos)
    second, rest = divmod(nanos, 1_000_000_000)
    instant = datetime.fromtimestamp(second, UTC).replace(microsecond=rest // 1000)
    expected = instant.isoformat().replace("+00:00", "Z")
    assert _utc_timestamp(None, "info", {})["timestamp"] == expected
    assert _utc_timestamp(None, "info", {})["timestamp"] == expected  # and from the per-second cache


class _Recorder:
    """A stand-in for ``sys.stderr`` counting the writes it gets."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_batched_writer_writes_one_loop_iteration_at_once_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = _Recorder()
    monkeypatch.setattr(sys, "stderr", recorder)
    out = _BatchedStderr()

    async def main() -> list[str]:
        for line in ("a\n", "b\n", "c\n"):
            out.write(line)
            out.flush()
        before = list(recorder.writes)
        await asyncio.sleep(0)  # the iteration ends: its lines go out
        out.write("d\n")
        await asyncio.sleep(0)
        return before

    assert asyncio.run(main()) == []
    assert recorder.writes == ["a\nb\nc\n", "d\n"]
    out.write("outside\n")  # no running loop: at once
    assert recorder.writes[-1] == "outside\n"


def test_batched_writer_flushes_what_a_stopped_loop_left_before_later_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = _Recorder()
    monkeypatch.setattr(sys, "stderr", recorder)
    out = _BatchedStderr()
    loop = asyncio.new_event_loop()
    try:

        async def log_and_stop() -> None:
            out.write("in the loop\n")
            loop.stop()  # stops before the flush callback runs

        task = loop.create_task(log_and_stop())
        loop.run_forever()
        assert task.done()
        out.write("after it\n")
        assert recorder.writes == ["in the loop\n", "after it\n"]
        loop.run_until_complete(asyncio.sleep(0))  # the late callback finds nothing left to write
        assert recorder.writes == ["in the loop\n", "after it\n"]
    finally:
        loop.close()


def test_batched_writer_drops_a_batch_stderr_refuses_instead_of_spinning(monkeypatch: pytest.MonkeyPatch) -> None:
    """A closed log pipe (EPIPE): the batch is lost, once. Raised from the flush callback, the error went to
    the loop's exception handler, whose own log line was batched, failed and was logged again: a write that
    failed thousands of times a second and a loop that never idled."""
    attempts = 0

    class BrokenPipe(io.TextIOBase):
        def write(self, text: str) -> int:
            nonlocal attempts
            attempts += 1
            raise BrokenPipeError(32, "Broken pipe")

    out = _BatchedStderr()
    logger = logging.getLogger("test.batched.broken")
    handler = logging.StreamHandler(out)  # what the loop's exception handler would reach
    logger.addHandler(handler)

    async def main() -> None:
        monkeypatch.setattr(sys, "stderr", BrokenPipe())
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: logger.error("callback failed: %s", ctx))
        out.write("one line\n")
        await asyncio.sleep(0.2)

    try:
        asyncio.run(main())
    finally:
        logger.removeHandler(handler)
    assert attempts == 1


def test_request_ids_are_unique_32_hex_digits_and_differ_per_process_seed() -> None:
    ids = _RequestIds()
    seen = {ids() for _ in range(20_000)}
    assert len(seen) == 20_000
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in seen)
    other = _RequestIds()
    assert other.prefix != ids.prefix  # 64 random bits each
    ids.reseed()  # what a forked child does
    assert ids() not in seen


async def _answer(app: Any, headers: list[tuple[bytes, bytes]], method: str = "GET") -> list[Message]:
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": "/graphql",
        "headers": headers,
        "query_string": b"",
    }
    sent: list[Message] = []
    body = [{"type": "http.request", "body": b"{}", "more_body": False}]

    async def receive() -> Message:
        return body.pop(0) if body else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def _app(start_headers: list[tuple[bytes, bytes]]) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(start_headers)})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


CORS_OPTIONS: dict[str, Any] = {
    "allow_origins": ["https://app.example"],
    "allow_methods": ["GET", "POST", "OPTIONS"],
    "allow_headers": list(ALLOWED_HEADERS),
    "expose_headers": list(EXPOSED_HEADERS),
    "allow_credentials": False,
    "max_age": 600,
}


@pytest.mark.parametrize(
    "answer_headers",
    [
        [(b"content-type", b"application/json")],
        [(b"content-type", b"application/json"), (b"vary", b"Accept"), (b"vary", b"X-API-Key")],
        [(b"content-type", b"text/html; charset=utf-8"), (b"x-frame-options", b"SAMEORIGIN")],
        [],
    ],
)
@pytest.mark.parametrize(
    "request_headers",
    [[], [(b"accept", b"application/json")], [(b"origin", b"https://app.example")], [(b"origin", b"https://evil")]],
)
async def test_fused_layer_answers_what_the_two_layers_answer(
    answer_headers: list[tuple[bytes, bytes]], request_headers: list[tuple[bytes, bytes]]
) -> None:
    pages = ["<script>let a = 1;</script>"]
    fused = SecureCors(_app(answer_headers), pages=pages, hsts=True, **CORS_OPTIONS)
    layered = SecurityHeaders(CORSMiddleware(_app(answer_headers), **CORS_OPTIONS), pages=pages, hsts=True)
    expected = await _answer(layered, request_headers)
    assert await _answer(fused, request_headers) == expected
    assert any(name == b"content-security-policy" for name, _ in expected[0]["headers"])


async def test_fused_layer_answers_preflights_as_cors_does() -> None:
    preflight = [(b"origin", b"https://app.example"), (b"access-control-request-method", b"POST")]
    fused = SecureCors(_app([]), **CORS_OPTIONS)
    layered = SecurityHeaders(CORSMiddleware(_app([]), **CORS_OPTIONS))
    expected = await _answer(layered, preflight, method="OPTIONS")
    assert await _answer(fused, preflight, method="OPTIONS") == expected
    assert expected[0]["status"] == 200


async def _guarded(guard: BodyGuard, content_type: bytes, body: bytes) -> int:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "headers": [(b"content-type", content_type)],
        "query_string": b"",
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status: list[int] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await guard(scope, receive, send)
    return status[0]


async def test_body_guard_remembers_a_body_only_with_its_content_type() -> None:
    guard = BodyGuard(_app([(b"content-type", b"application/json")]))
    body = orjson.dumps({"query": "{ __typename }"})
    assert await _guarded(guard, b"application/json", body) == 200
    assert await _guarded(guard, b"application/json", body) == 200  # remembered
    assert await _guarded(guard, b"text/plain", body) == 415  # same bytes, another type: checked, refused
    assert await _guarded(guard, b"application/json", b'{"query": 1}') == 400
    assert await _guarded(guard, b"application/json", b'{"query": 1}') == 400  # refusals are never remembered
    assert await _guarded(guard, b"application/json", b"[" * 100 + b"]" * 100) == 400


def _reference_key(method: str, path: str, query: bytes, body: bytes, accept: bytes, scopes: Any) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, accept, ",".join(sorted(scopes)).encode()):
        digest.update(len(part).to_bytes(4, "big"))
        digest.update(part)
    digest.update(body)
    return "rc:" + digest.hexdigest()


@pytest.mark.parametrize("scopes", [frozenset({"read"}), frozenset({"read", "history", "stream"}), ["read"], []])
def test_request_key_is_the_length_prefixed_sha256(scopes: Any) -> None:
    args = ("POST", "/graphql", b"x=1", b'{"query":"{ a }"}', b"application/json")
    assert request_key(*args, scopes) == _reference_key(*args, scopes)
    assert request_key(*args, scopes) == request_key(*args, scopes)  # and from the scope-name memo


_FIELD_VALUES = st.one_of(
    st.sampled_from(STRINGS),
    st.text(max_size=40),
    st.text(alphabet="abcdefABCDEF0123456789_-:= '\"\\\n", max_size=40).map(lambda s: s + "fsa_0123456789abcdef0123"),
    st.sampled_from(SECRETS).map(lambda s: f"x {s} y"),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.dictionaries(st.sampled_from(["authorization", "accept", "x-api-key"]), st.sampled_from(STRINGS), max_size=3),
)
_FIELD_NAMES = st.one_of(
    st.sampled_from([*KEYS, "duration_ms", "code", "level", "timestamp"]),
    st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
).filter(lambda name: name != "event")  # the event is the positional argument


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.dictionaries(_FIELD_NAMES, _FIELD_VALUES, max_size=10),
    context=st.dictionaries(st.sampled_from(["request_id", "operation", "method"]), _FIELD_VALUES, max_size=3),
    event=st.sampled_from(["http request", "websocket", "Authorization: Bearer sk-live-PLANTED-7f3a9c"]),
)
def test_fast_access_line_is_byte_identical_to_structlogs(
    monkeypatch: pytest.MonkeyPatch, fields: dict[str, Any], context: dict[str, Any], event: str
) -> None:
    """The access line's direct renderer writes exactly what the configured structlog chain writes, for any
    field values (secrets, quotes, non-ASCII, large numbers, header mappings) and bound context variables."""
    out = io.StringIO()
    monkeypatch.setattr("signal_api.logging.time.time_ns", lambda: 1_764_519_153_123_456_789)
    configure_logging("INFO", True, secrets=SECRETS, stream=out)
    try:
        fast = fast_json_logger()
        assert fast is not None
        structlog.contextvars.bind_contextvars(**context)
        structlog.get_logger("signal_api.access").bind().info(event, **fields)
        chain = out.getvalue()
        fast.info(event, **fields)
        assert out.getvalue()[len(chain) :] == chain
        assert chain.count("\n") == 1
        for secret in SECRETS:
            assert secret not in chain
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.reset_defaults()


def test_fast_access_line_only_while_its_configuration_is_in_force() -> None:
    out = io.StringIO()
    configure_logging("INFO", True, stream=out)
    try:
        assert fast_json_logger() is not None
        with structlog.testing.capture_logs() as captured:  # edits the processor list in place
            assert fast_json_logger() is None
            structlog.get_logger().info("seen")
        assert captured == [{"event": "seen", "log_level": "info"}]
        assert fast_json_logger() is not None
        configure_logging("INFO", False, stream=out)  # console lines: no direct renderer
        assert fast_json_logger() is None
        configure_logging("WARNING", True, stream=out)
        fast = fast_json_logger()
        assert fast is not None
        fast.info("http request", status=200)  # below the level: nothing written, as structlog would
        assert "http request" not in out.getvalue()
        structlog.reset_defaults()
        assert fast_json_logger() is None
    finally:
        structlog.reset_defaults()


_HEADER_NAMES = [b"content-type", b"vary", b"Vary", b"etag", b"x-frame-options", b"content-security-policy", b"x-cache"]


@settings(max_examples=300, deadline=None)
@given(
    headers=st.lists(
        st.tuples(
            st.sampled_from(_HEADER_NAMES),
            st.sampled_from([b"application/json", b"text/html; charset=utf-8", b"Accept", b"SAMEORIGIN", b"x"]),
        ),
        max_size=8,
    ),
    hsts=st.booleans(),
)
def test_one_pass_headers_equal_the_two_steps(headers: list[tuple[bytes, bytes]], hsts: bool) -> None:
    """The no-Origin answer's headers in one pass are ``secured(_vary_origin(...))``'s, for any header list."""
    layer = SecureCors(_app([]), pages=["<script>let a = 1;</script>"], hsts=hsts, **CORS_OPTIONS)
    assert layer.secured_for_no_origin(list(headers)) == layer.secured(_vary_origin(list(headers)))


def test_request_key_memo_answers_the_hash_for_every_request_and_stays_bounded() -> None:
    scopes = frozenset({"read", "stream"})
    bodies = [orjson.dumps({"query": f"{{ a{i} }}"}) for i in range(3 * response_cache._MEMO_ENTRIES)]
    for _ in range(2):  # the second round finds the first round's oldest entries evicted
        for body in bodies:
            assert request_key("POST", "/graphql", b"", body, b"", scopes) == _reference_key(
                "POST", "/graphql", b"", body, b"", scopes
            )
    assert response_cache._remembered_key.cache_info().currsize <= response_cache._MEMO_ENTRIES
    big = b'{"query": "{ a }", "x": "' + b"y" * response_cache._MEMO_BYTES + b'"}'  # not remembered, still right
    assert request_key("POST", "/graphql", b"", big, b"", scopes) == _reference_key(
        "POST", "/graphql", b"", big, b"", scopes
    )
    assert request_key("POST", "/graphql", b"", bodies[0], b"application/json", scopes) != request_key(
        "POST", "/graphql", b"", bodies[0], b"", scopes
    )
    # a large Accept header counts towards the bound like a large body: never kept after its request
    response_cache._remembered_key.cache_clear()
    huge_accept = b"application/json;" + b"q" * response_cache._MEMO_BYTES
    assert request_key("POST", "/graphql", b"", bodies[0], huge_accept, scopes) == _reference_key(
        "POST", "/graphql", b"", bodies[0], huge_accept, scopes
    )
    assert response_cache._remembered_key.cache_info().currsize == 0


async def test_the_body_is_read_once_and_handed_to_the_app_once_through_the_guards() -> None:
    """BodySizeLimit buffers the body; BodyGuard looks at it without reading it again; the app gets it once, then
    what the server's receive says next."""
    body = orjson.dumps({"query": "{ __typename }"})
    server: list[Message] = [
        {"type": "http.request", "body": body[:5], "more_body": True},
        {"type": "http.request", "body": body[5:], "more_body": False},
        {"type": "http.disconnect"},
    ]
    reads = 0
    seen: list[Message] = []

    async def receive() -> Message:
        nonlocal reads
        reads += 1
        return server.pop(0)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(await receive())
        seen.append(await receive())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def send(message: Message) -> None:
        pass

    scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": [(b"content-type", b"application/json")]}
    await BodySizeLimit(BodyGuard(app), max_bytes=1_000)(scope, receive, send)
    assert seen == [{"type": "http.request", "body": body, "more_body": False}, {"type": "http.disconnect"}]
    assert reads == 3  # two chunks by BodySizeLimit, the disconnect by the app: nothing read twice
    assert buffered_body(BufferedReceive(b"x", receive)) == b"x"
    spent = BufferedReceive(b"x", receive)
    spent.sent = True
    assert buffered_body(spent) is None  # handed out already: an inner layer must read for itself


def test_anonymous_callers_share_one_principal_per_address() -> None:
    assert anonymous_at("10.0.0.1") is anonymous_at("10.0.0.1")
    assert anonymous_at("10.0.0.1") == Principal(address="10.0.0.1")
    assert anonymous_at("10.0.0.2").address == "10.0.0.2"


async def test_request_id_is_bound_for_the_request_and_unbound_after() -> None:
    """RequestLog sets structlog's own ``request_id`` context variable: what bind/unbind_contextvars would do."""
    from signal_api.request_log import RequestLog

    seen: list[dict[str, Any]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(structlog.contextvars.get_contextvars())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    sent = await _answer(RequestLog(app), [(b"x-request-id", b"caller-7")])
    assert seen == [{"request_id": "caller-7"}]
    assert (b"x-request-id", b"caller-7") in sent[0]["headers"]
    assert "request_id" not in structlog.contextvars.get_contextvars()
    structlog.contextvars.bind_contextvars(request_id="outer")  # the same variable structlog's helpers use
    await _answer(RequestLog(app), [])
    assert seen[-1]["request_id"] != "outer" and len(seen[-1]["request_id"]) == 32
    structlog.contextvars.unbind_contextvars("request_id")


_SIGNAL = 'query Q { signal(symbol: "BTC") { ... on Signal { symbol recommendation score price } } }'
_HIT_HEADERS = [
    "etag",
    "cache-control",
    "vary",
    "x-cache",
    "content-type",
    "content-length",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-content-type-options",
    "referrer-policy",
    "x-frame-options",
    "content-security-policy",
    "x-request-id",
]


async def test_a_cache_hit_over_http_carries_every_layers_headers_and_is_charged() -> None:
    """Every layer's part of a cached answer, over a real socket: the cache's headers, the rate limit's (the hit
    is charged one request), the security headers with ``Vary: Origin`` merged, the caller's request id."""
    import httpx2

    from tests.conftest import load_cassette_json, running_service

    async with (
        running_service(
            load_cassette_json("btc-2025-11-14-latest.json"),
            rate_limit_enabled=True,
            rate_limit_anonymous_requests=50,
        ) as (url, _),
        httpx2.AsyncClient(base_url=url, timeout=20) as client,
    ):
        miss = await client.post("/graphql", json={"query": _SIGNAL})
        hit = await client.post("/graphql", json={"query": _SIGNAL}, headers={"x-request-id": "hit-1"})
        get = await client.get("/graphql", params={"query": _SIGNAL})
        not_modified = await client.get(
            "/graphql", params={"query": _SIGNAL}, headers={"if-none-match": get.headers["etag"]}
        )
    assert (miss.headers["x-cache"], hit.headers["x-cache"], not_modified.status_code) == ("MISS", "HIT", 304)
    names = [name.decode().lower() for name, _ in hit.headers.raw if name.lower() not in (b"date", b"server")]
    assert names == _HIT_HEADERS
    assert hit.content == miss.content and hit.headers["etag"] == miss.headers["etag"]
    assert hit.headers["vary"] == "Accept, Authorization, X-API-Key, Origin"
    assert hit.headers["x-request-id"] == "hit-1"
    assert int(hit.headers["x-ratelimit-remaining"]) == int(miss.headers["x-ratelimit-remaining"]) - 1
    assert hit.headers["x-content-type-options"] == "nosniff"
    assert hit.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert int(not_modified.headers["x-ratelimit-remaining"]) == int(hit.headers["x-ratelimit-remaining"]) - 2
    assert not_modified.content == b"" and len(not_modified.headers["x-request-id"]) == 32
