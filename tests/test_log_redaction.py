"""Logs: secrets never reach the output (headers, key settings, tracebacks included), every line carries the
request id, one access line per request, uvicorn's lines share our format."""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING, Any

import orjson
import pytest
import structlog
from prometheus_client import REGISTRY
from pydantic import SecretStr
from starlette.routing import Route
from starlette.testclient import TestClient

from signal_api.logging import REDACTED, Redactor, configure_logging, secret_values

if TYPE_CHECKING:
    from collections.abc import Iterator

    from starlette.requests import Request
    from starlette.responses import Response

BEARER = "sk-live-PLANTED-bearer-7f3a9c"
COOKIE = "session=PLANTED-cookie-51c2e0"
API_KEY = "PLANTED-x-api-key-88d1"
SETTING = "cg-PLANTED-setting-key-0b9e"
DB_PASSWORD = "PLANTED-db-password-c4d7"
PLANTED = (BEARER, COOKIE.split("=", 1)[1], API_KEY, SETTING, DB_PASSWORD)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Logging configured into a buffer for one test, then back to the defaults."""
    out = io.StringIO()
    yield out
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "signal-api"]:
        root.removeHandler(handler)


def _app_with_a_failing_route(json: bool, out: io.StringIO) -> tuple[Any, Any]:
    from signal_api.app import create_app
    from signal_api.settings import Settings

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        upstream_retry_attempts=1,
        streams_enabled=False,
        coinglass_api_key=SecretStr(SETTING),
        database_url=SecretStr(f"postgresql://signals:{DB_PASSWORD}@127.0.0.1:9/signals"),
    ).with_replay_base("http://127.0.0.1:9")
    configure_logging("INFO", json, secrets=secret_values(settings), stream=out)
    app = create_app(settings)

    async def boom(request: Request) -> Response:
        headers = dict(request.headers)
        key = settings.coinglass_api_key
        assert key is not None
        # an unexpected failure whose text carries every secret: the exception message and the traceback
        raise RuntimeError(f"upstream refused {headers} with key {key.get_secret_value()} via {settings.database_url}")

    app.router.routes.append(Route("/boom", boom, methods=["GET"]))
    return app, settings


@pytest.mark.parametrize("json", [True, False], ids=["json", "console"])
def test_planted_secrets_never_reach_the_log(captured: io.StringIO, json: bool) -> None:
    app, _ = _app_with_a_failing_route(json, captured)
    headers = {"authorization": f"Bearer {BEARER}", "cookie": COOKIE, "x-api-key": API_KEY, "x-request-id": "req-42"}
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"cookie": COOKIE, "x-request-id": "req-42"})
        refused = client.get("/boom", headers=headers)  # an unknown key: refused before the route
        log = structlog.get_logger("test")
        log.info("headers seen", headers=headers, authorization=f"Bearer {BEARER}")
        try:
            raise ValueError(f"Authorization: Bearer {BEARER}\nX-API-Key: {API_KEY}\n{list(headers.items())}")
        except ValueError:
            log.exception("failed with the request's headers")
        logging.getLogger("uvicorn.error").error("stdlib line %s", headers, exc_info=True)
    output = captured.getvalue()

    assert response.status_code == 500 and 400 <= refused.status_code < 500
    assert response.json() == {"ok": False, "error": {"code": "INTERNAL_SERVER_ERROR", "message": "unexpected error"}}
    assert response.headers["x-request-id"] == "req-42"
    assert response.headers["x-content-type-options"] == "nosniff"  # the security headers, on this 500 too
    assert "Traceback (most recent call last)" in output and "RuntimeError" in output  # it was logged...
    assert REDACTED in output
    for secret in PLANTED:
        assert output.count(secret) == 0, secret  # ...with no secret in any line
    assert "locals" not in output and "╭" not in output  # plain tracebacks, never rich with local variables


def test_json_lines_share_one_format_and_carry_the_request_id(captured: io.StringIO) -> None:
    app, _ = _app_with_a_failing_route(True, captured)
    with TestClient(app, raise_server_exceptions=False) as client:
        captured.truncate(0)
        captured.seek(0)
        ok = client.post("/graphql", json={"query": "{ __typename }"}, headers={"x-request-id": "abc.DEF-1"})
        bad = client.post("/graphql", content=b"[]", headers={"content-type": "application/json"})
        insane = client.get("/health/live", headers={"x-request-id": "no spaces or\ttabs allowed"})
        failed = client.get("/boom")
    lines = [orjson.loads(line) for line in captured.getvalue().splitlines() if line.strip()]

    assert ok.headers["x-request-id"] == "abc.DEF-1"
    assert len(bad.headers["x-request-id"]) == 32
    assert insane.headers["x-request-id"] != "no spaces or\ttabs allowed"
    access = [line for line in lines if line["event"] == "http request"]
    assert [(a["method"], a["route"], a["status"]) for a in access] == [
        ("POST", "/graphql", 200),
        ("POST", "/graphql", 400),
        ("GET", "/health/live", insane.status_code),
        ("GET", "/boom", 500),
    ]
    assert access[0]["request_id"] == "abc.DEF-1" and access[1]["code"] == "MALFORMED_REQUEST"
    assert all(isinstance(a["duration_ms"], float) and a["client"] == "testclient" for a in access)
    assert "key_id" in access[0]
    failure = next(line for line in lines if line["event"] == "unhandled error")
    assert failure["request_id"] == access[3]["request_id"] == failed.headers["x-request-id"]
    assert failed.status_code == 500 and "Traceback" in failure["exception"]
    assert all(list(line)[:3] == ["timestamp", "level", "event"] for line in lines)


def test_uvicorn_lines_go_through_the_same_renderer(captured: io.StringIO) -> None:
    configure_logging("INFO", True, secrets=[SETTING], stream=captured)
    structlog.contextvars.bind_contextvars(request_id="rid-7")
    try:
        logging.getLogger("uvicorn.error").warning("Invalid HTTP request received: %s", f"key={SETTING}")
        logging.getLogger("uvicorn.access").info("uvicorn's own access line")  # off: ours replaces it
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    lines = [orjson.loads(line) for line in captured.getvalue().splitlines()]
    assert len(lines) == 1
    line = lines[0]
    assert line["logger"] == "uvicorn.error" and line["level"] == "warning" and line["request_id"] == "rid-7"
    assert SETTING not in line["event"] and REDACTED in line["event"]


def test_access_metrics_count_routes_statuses_and_codes(captured: io.StringIO) -> None:
    app, _ = _app_with_a_failing_route(True, captured)

    def sample(name: str, labels: dict[str, str]) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    requests_before = sample("http_requests_total", {"route": "/graphql", "status": "415"})
    errors_before = sample("errors_total", {"code": "UNSUPPORTED_MEDIA_TYPE"})
    internal_before = sample("errors_total", {"code": "INTERNAL_SERVER_ERROR"})
    with TestClient(app, raise_server_exceptions=False) as client:
        for _ in range(3):
            client.post("/graphql", content=b"{}", headers={"content-type": "text/plain"})
        client.get("/boom")
    assert sample("http_requests_total", {"route": "/graphql", "status": "415"}) == requests_before + 3
    assert sample("errors_total", {"code": "UNSUPPORTED_MEDIA_TYPE"}) == errors_before + 3
    assert sample("errors_total", {"code": "INTERNAL_SERVER_ERROR"}) == internal_before + 1


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Authorization: Bearer abc.def-ghi", "Authorization: "),
        ("{'authorization': 'Basic dXNlcjpwYXNz', 'host': 'x'}", "'host': 'x'"),
        ('{"Cookie": "a=1; b=2", "accept": "*/*"}', '"accept": "*/*"'),
        ("[(b'x-api-key', b'k-123456'), (b'host', b'h')]", "(b'host', b'h')"),
        ("set-cookie=id=9; Path=/", "set-cookie="),
        ('{\\"authorization\\": \\"Bearer zzz\\"}', "authorization"),
    ],
)
def test_header_values_are_redacted_in_any_quoting(text: str, kept: str) -> None:
    redacted = Redactor().text(text)
    assert REDACTED in redacted and kept in redacted
    assert not any(token in redacted for token in ("abc.def", "dXNlcjpwYXNz", "a=1", "k-123456", "id=9", "zzz"))


def test_secret_settings_are_collected_with_url_passwords() -> None:
    from signal_api.settings import Settings

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        coinapi_api_key=SecretStr("coinapi-secret-1"),
        database_url=SecretStr("postgresql://u:pw-secret-2@db:5432/x"),
    )
    values = secret_values(settings)
    assert "coinapi-secret-1" in values and "pw-secret-2" in values
    assert Redactor(values).text("dsn pw-secret-2 and coinapi-secret-1") == f"dsn {REDACTED} and {REDACTED}"
