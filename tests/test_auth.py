"""Authentication and scopes end to end: the real app on 127.0.0.1 (replayed upstream, a fresh database
on the session's embedded PostgreSQL), keys made by the repository, checked over HTTP ``/graphql``,
``/invoke`` and its GET routes, and WebSocket; the secure default at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from typing import TYPE_CHECKING, Any, cast

import httpx2
import pytest
import websockets
from pydantic import SecretStr

from persistence.api_keys import ApiKeyRepository, NewApiKey, generate_key
from resolvers.streams import StreamServices
from signal_api.security.auth import StartupRefused, is_loopback
from tests.conftest import load_cassette_json
from tests.history_helpers import fresh_database
from tests.test_api_keys import cli_logging  # noqa: F401 - the fixture, used by name
from tests.test_subscriptions_ws import SCRIPT, FakeHub

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from starlette.applications import Starlette

READ_QUERY = "{ symbols { __typename } }"
HISTORY_QUERY = "{ signalHistory(first: 1) { __typename } }"
HIDDEN_HISTORY = "query Q { ...A } fragment A on Query { ...B } fragment B on Query { signalHistory { __typename } }"
LIQUIDATIONS = 'subscription { liquidations(symbols: ["BTC"], minValueUsd: 10000) { symbol side valueUsd } }'

KEY_SCOPES = {
    "reader": ["read"],
    "historian": ["read", "history"],
    "streamer": ["stream"],
    "admin": ["admin", "read"],
}


@dataclasses.dataclass
class Served:
    base_url: str
    app: Starlette
    repo: ApiKeyRepository
    keys: dict[str, NewApiKey]

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/graphql"

    def key(self, name: str) -> str:
        return self.keys[name].key


@contextlib.asynccontextmanager
async def keyed_service(tmp_path: Path, *, streams: bool = False, **settings: Any) -> AsyncIterator[Served]:
    """The app with the signal history (and so the key store) on a fresh database holding KEY_SCOPES."""
    from providers.replay import Cassette, ReplayApp, serve_in_background
    from resolvers.broker import InProcessBroker
    from signal_api.app import create_app
    from signal_api.settings import Settings

    cassette = Cassette.model_validate(load_cassette_json("btc-2025-07-11-rising.json"))
    async with fresh_database(tmp_path) as (db, url):
        repo = ApiKeyRepository(db)
        keys = {name: await repo.create(name, scopes) for name, scopes in KEY_SCOPES.items()}
        async with serve_in_background(ReplayApp(cassette).app) as upstream:
            config = Settings(  # type: ignore[call-arg]
                _env_file=None,
                history_enabled=True,
                database_url=SecretStr(url),
                data_dir=tmp_path,
                streams_enabled=False,
                **settings,
            ).with_replay_base(upstream.base_url)
            app = create_app(config, clock=lambda: cassette.now)
            async with serve_in_background(app, lifespan="on") as service:
                if streams:
                    container = app.state.container
                    broker = InProcessBroker()
                    container.attach_streams(StreamServices(broker, FakeHub(broker, SCRIPT)))
                yield Served(service.base_url, app, repo, keys)


async def post_graphql(base_url: str, query: str, headers: dict[str, str] | None = None) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=20) as client:
        return await client.post(f"{base_url}/graphql", json={"query": query}, headers=headers or {})


def codes(body: dict[str, Any]) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors") or []]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# -- HTTP /graphql ----------------------------------------------------------------------------------


async def test_graphql_over_http_keys_scopes_and_immediate_revocation(tmp_path: Path) -> None:
    async with asyncio.timeout(60), keyed_service(tmp_path) as served:
        anonymous = await post_graphql(served.base_url, READ_QUERY)
        assert anonymous.status_code == 200 and codes(anonymous.json()) == []  # loopback: no key needed

        for headers in (bearer(generate_key()), {"X-API-Key": "not-a-key"}, bearer("fsa_short")):
            refused = await post_graphql(served.base_url, READ_QUERY, headers)
            assert refused.status_code == 401, headers
            assert refused.headers["www-authenticate"].startswith("Bearer")
            body = refused.json()
            assert body["ok"] is False and body["error"]["code"] == "UNAUTHENTICATED"

        reader = served.key("reader")
        for headers in (bearer(reader), {"X-API-Key": reader}):
            allowed = await post_graphql(served.base_url, READ_QUERY, headers)
            assert allowed.status_code == 200 and codes(allowed.json()) == [], allowed.text
            for query in (HISTORY_QUERY, HIDDEN_HISTORY):
                forbidden = (await post_graphql(served.base_url, query, headers)).json()
                assert forbidden["data"] is None and codes(forbidden) == ["FORBIDDEN"], forbidden
                assert forbidden["errors"][0]["extensions"]["missingScopes"] == ["history"]

        historian = served.key("historian")
        history = await post_graphql(served.base_url, HISTORY_QUERY, bearer(historian))
        assert codes(history.json()) == [] and history.json()["data"]["signalHistory"]["__typename"]

        both = {"X-API-Key": reader, **bearer(historian)}  # two different keys: refused, never merged
        assert (await post_graphql(served.base_url, READ_QUERY, both)).status_code == 401

        async with httpx2.AsyncClient(timeout=20) as client:
            health = await client.get(f"{served.base_url}/health", headers=bearer(generate_key()))
        assert health.status_code != 401  # health answers whoever asks

        await served.repo.revoke(served.keys["historian"].record.id)
        revoked = await post_graphql(served.base_url, READ_QUERY, bearer(historian))
        assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_invoke_and_get_routes_enforce_the_same_scopes(tmp_path: Path) -> None:
    async with asyncio.timeout(60), keyed_service(tmp_path) as served, httpx2.AsyncClient(timeout=20) as client:
        reader = bearer(served.key("reader"))
        history = {"operation": "history.list", "first": 1}
        forbidden = await client.post(f"{served.base_url}/invoke", json=history, headers=reader)
        assert forbidden.status_code == 403, forbidden.text
        assert forbidden.json()["ok"] is False and forbidden.json()["error"]["code"] == "FORBIDDEN"

        via_get = await client.get(f"{served.base_url}/v1/history/list", params={"first": 1}, headers=reader)
        assert via_get.status_code == 403 and via_get.json()["error"]["code"] == "FORBIDDEN"

        historian = bearer(served.key("historian"))
        allowed = await client.post(f"{served.base_url}/invoke", json=history, headers=historian)
        assert allowed.status_code == 200 and allowed.json()["ok"] is True, allowed.text
        read_ok = await client.post(f"{served.base_url}/invoke", json={"operation": "symbols.list"}, headers=reader)
        assert read_ok.status_code == 200, read_ok.text

        wrong = await client.post(f"{served.base_url}/invoke", json=history, headers=bearer(generate_key()))
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "UNAUTHENTICATED"

        anonymous_history = await client.post(f"{served.base_url}/invoke", json=history)
        assert anonymous_history.status_code == 200  # the anonymous scopes include history on loopback


async def test_anonymous_access_off_needs_a_key_and_metrics_need_admin(tmp_path: Path) -> None:
    async with (
        asyncio.timeout(60),
        keyed_service(tmp_path, allow_anonymous=False) as served,
        httpx2.AsyncClient(timeout=20) as client,
    ):
        refused = await post_graphql(served.base_url, READ_QUERY)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "UNAUTHENTICATED"
        invoke = await client.post(f"{served.base_url}/invoke", json={"operation": "symbols.list"})
        assert invoke.status_code == 401
        keyed = await post_graphql(served.base_url, READ_QUERY, bearer(served.key("reader")))
        assert keyed.status_code == 200 and codes(keyed.json()) == []

        assert (await client.get(f"{served.base_url}/health")).status_code != 401
        assert (await client.get(f"{served.base_url}/metrics")).status_code == 401
        not_admin = await client.get(f"{served.base_url}/metrics", headers=bearer(served.key("reader")))
        assert not_admin.status_code == 403 and not_admin.json()["error"]["code"] == "FORBIDDEN"
        admin = await client.get(f"{served.base_url}/metrics", headers=bearer(served.key("admin")))
        assert admin.status_code == 200 and "# HELP" in admin.text


async def test_key_store_down_is_503_not_500(tmp_path: Path) -> None:
    async with asyncio.timeout(60), keyed_service(tmp_path) as served:
        authenticator = _authenticator(served.app)
        store = authenticator.store

        class Down:
            async def lookup(self, key: str) -> None:
                raise ConnectionRefusedError("database down")

        authenticator.store = Down()
        try:
            down = await post_graphql(served.base_url, READ_QUERY, bearer(served.key("reader")))
            assert down.status_code == 503 and down.json()["error"]["code"] == "KEY_STORE_UNAVAILABLE"
            anonymous = await post_graphql(served.base_url, READ_QUERY)
            assert anonymous.status_code == 200  # no key presented: nothing to check
        finally:
            authenticator.store = store


def _authenticator(app: Starlette) -> Any:
    from signal_api.security.auth import AuthenticationMiddleware

    for middleware in app.user_middleware:
        if middleware.cls is cast("Any", AuthenticationMiddleware):
            return middleware.kwargs["authenticator"]
    raise AssertionError("no authentication middleware")


async def test_authenticator_rules(tmp_path: Path) -> None:
    from signal_api.security.auth import Authenticator, KeyStoreUnavailable, Unauthenticated
    from signal_api.security.principal import Scope

    class CountingRepository(ApiKeyRepository):
        touches = 0

        async def touch(self, key_id: int, conn: Any = None) -> None:
            self.touches += 1
            await super().touch(key_id, conn)

    async with fresh_database(tmp_path) as (db, _):
        repo = CountingRepository(db)
        new = await repo.create("bot", ["read", "history", "future-scope"], cost_per_minute=900)
        authenticator = Authenticator(allow_anonymous=False, store=repo)
        principal = await authenticator.authenticate(new.key, "10.1.2.3")
        assert principal.key_id == str(new.record.id) and principal.name == "bot"
        assert principal.scopes == {Scope.READ, Scope.HISTORY}  # an unknown scope name grants nothing
        assert principal.cost_per_minute == 900 and principal.limit_key == f"key:{new.record.id}"
        await authenticator.authenticate(new.key, "10.1.2.3")
        assert repo.touches == 1  # the second use is within the minute: no write
        with pytest.raises(Unauthenticated, match="API key is required"):
            await authenticator.authenticate(None, "10.1.2.3")
        with pytest.raises(Unauthenticated, match="invalid or revoked"):
            await authenticator.authenticate(generate_key(), "10.1.2.3")
        assert await authenticator.still_valid(principal) is True
        await repo.revoke(new.record.id)
        with pytest.raises(Unauthenticated, match="invalid or revoked"):
            await authenticator.authenticate(new.key, "10.1.2.3")
        assert await authenticator.still_valid(principal) is False
    without_store = Authenticator(allow_anonymous=True)
    assert (await without_store.authenticate(None, "127.0.0.1")).anonymous
    with pytest.raises(KeyStoreUnavailable, match="HISTORY_ENABLED=false"):
        await without_store.authenticate(generate_key(), "127.0.0.1")


# -- WebSocket -------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def ws_connection(url: str, payload: dict[str, Any] | None) -> AsyncIterator[Any]:
    async with websockets.connect(url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]) as ws:
        init: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            init["payload"] = payload
        await ws.send(json.dumps(init))
        yield ws


async def next_message(ws: Any) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await ws.recv())
        if message["type"] not in ("ping", "pong"):
            return message


async def closed_with(ws: Any) -> int:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        for _ in range(10):
            await next_message(ws)
    assert closed.value.rcvd is not None
    return int(closed.value.rcvd.code)


async def subscribe(ws: Any, op_id: str, query: str) -> None:
    await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query}}))


async def test_websocket_key_in_connection_init_and_scopes_per_subscribe(tmp_path: Path) -> None:
    async with asyncio.timeout(60), keyed_service(tmp_path, streams=True) as served:
        async with ws_connection(served.ws_url, {"apiKey": served.key("reader")}) as ws:
            assert (await next_message(ws))["type"] == "connection_ack"
            await subscribe(ws, "1", LIQUIDATIONS)  # a shared fan-out subscription
            refused = await next_message(ws)
            assert refused["type"] == "error" and refused["id"] == "1"
            assert refused["payload"][0]["extensions"]["code"] == "FORBIDDEN"
            await subscribe(ws, "2", HISTORY_QUERY)  # a query over the socket: Strawberry's own path
            refused = await next_message(ws)
            assert refused["id"] == "2" and refused["payload"][0]["extensions"]["code"] == "FORBIDDEN"
            await subscribe(ws, "3", READ_QUERY)
            allowed = await next_message(ws)
            assert allowed["type"] == "next" and allowed["id"] == "3" and "errors" not in allowed["payload"]

        async with ws_connection(served.ws_url, {"authorization": f"Bearer {served.key('streamer')}"}) as ws:
            assert (await next_message(ws))["type"] == "connection_ack"
            await subscribe(ws, "1", LIQUIDATIONS)
            event = await next_message(ws)
            assert event["type"] == "next" and event["payload"]["data"]["liquidations"]["symbol"] == "BTCUSDT"
            await served.repo.revoke(served.keys["streamer"].record.id)
            await subscribe(ws, "2", LIQUIDATIONS.replace("10000", "20000"))
            assert await closed_with(ws) == 4403  # revoked: the next subscribe closes the connection

        async with ws_connection(served.ws_url, {"apiKey": generate_key()}) as ws:
            assert await closed_with(ws) == 4403


async def test_revoking_a_key_stops_its_running_subscriptions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from signal_api.security.ws import ScopedFanoutHandler

    monkeypatch.setattr(ScopedFanoutHandler, "revalidate_seconds", 0.2)
    async with asyncio.timeout(60), keyed_service(tmp_path, streams=True) as served:
        new = await served.repo.create("watcher", ["stream"])
        async with ws_connection(served.ws_url, {"apiKey": new.key}) as ws:
            assert (await next_message(ws))["type"] == "connection_ack"
            await subscribe(ws, "1", LIQUIDATIONS)
            assert (await next_message(ws))["type"] == "next"
            await asyncio.sleep(0.5)  # several re-checks pass while the key is valid: still open
            await ws.send(json.dumps({"type": "ping"}))
            async with asyncio.timeout(5):  # other frames (the next event) may come first
                while json.loads(await ws.recv())["type"] != "pong":
                    pass
            await served.repo.revoke(new.record.id)
            assert await closed_with(ws) == 4403  # no new subscribe needed


async def test_websocket_without_key_when_anonymous_access_is_off(tmp_path: Path) -> None:
    async with asyncio.timeout(60), keyed_service(tmp_path, allow_anonymous=False) as served:
        async with ws_connection(served.ws_url, None) as ws:
            assert await closed_with(ws) == 4403
        async with ws_connection(served.ws_url, {"apiKey": served.key("reader")}) as ws:
            assert (await next_message(ws))["type"] == "connection_ack"
            await subscribe(ws, "1", READ_QUERY)
            assert (await next_message(ws))["type"] == "next"


async def test_websocket_handshake_header_key_and_a_key_store_outage(tmp_path: Path) -> None:
    protocol = [websockets.Subprotocol("graphql-transport-ws")]
    async with asyncio.timeout(60), keyed_service(tmp_path, allow_anonymous=False) as served:
        headers = {"X-API-Key": served.key("reader")}
        async with websockets.connect(served.ws_url, subprotocols=protocol, additional_headers=headers) as ws:
            await ws.send(json.dumps({"type": "connection_init"}))  # no key in the payload: the header's counts
            assert (await next_message(ws))["type"] == "connection_ack"
            await subscribe(ws, "1", READ_QUERY)
            assert (await next_message(ws))["type"] == "next"
            assert (await next_message(ws)) == {"id": "1", "type": "complete"}

            authenticator = _authenticator(served.app)
            store = authenticator.store

            class Down:
                async def get(self, key_id: int) -> None:
                    raise ConnectionRefusedError("database down")

            authenticator.store = Down()
            try:
                await subscribe(ws, "2", READ_QUERY)
                refused = await next_message(ws)
                assert refused["type"] == "error" and refused["id"] == "2"
                assert refused["payload"][0]["extensions"]["code"] == "KEY_STORE_UNAVAILABLE"
            finally:
                authenticator.store = store
            await subscribe(ws, "3", READ_QUERY)  # the connection stayed open
            assert (await next_message(ws))["id"] == "3"

        wrong = {"X-API-Key": generate_key()}
        with pytest.raises(websockets.InvalidStatus) as handshake:
            async with websockets.connect(served.ws_url, subprotocols=protocol, additional_headers=wrong):
                pass
        assert handshake.value.response.status_code == 403


# -- start-up: the secure default ------------------------------------------------------------------


def test_loopback_detection() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.10", "example.com", ""))


@contextlib.asynccontextmanager
async def lifespan_of(**settings: Any) -> AsyncIterator[Starlette]:
    """Run only the app's lifespan (nothing listens): what ``serve`` would do before binding."""
    from signal_api.app import create_app
    from signal_api.settings import Settings

    defaults: dict[str, Any] = {"streams_enabled": False, "binance_base_url": "http://127.0.0.1:9"}
    app = create_app(Settings(_env_file=None, **(defaults | settings)))  # type: ignore[call-arg]
    async with app.router.lifespan_context(app):
        yield app


async def test_non_loopback_bind_refuses_to_start_without_keys(tmp_path: Path) -> None:
    with pytest.raises(StartupRefused, match=r"0\.0\.0\.0.*HISTORY_ENABLED=false"):
        async with lifespan_of(host="0.0.0.0", history_enabled=False):
            pass
    async with fresh_database(tmp_path) as (db, url):
        keyed = {"history_enabled": True, "database_url": SecretStr(url), "data_dir": tmp_path}
        with pytest.raises(StartupRefused, match="no active API key exists; create one with `signal-api keys create"):
            async with lifespan_of(host="0.0.0.0", **keyed):
                pass
        async with lifespan_of(host="0.0.0.0", allow_anonymous=True, **keyed):
            pass  # an explicit opt-out starts
        new = await ApiKeyRepository(db).create("ops", ["read"])
        async with lifespan_of(host="0.0.0.0", **keyed):
            pass  # a key exists: starts, anonymous callers refused
        await ApiKeyRepository(db).revoke(new.record.id)
        with pytest.raises(StartupRefused, match="no active API key"):
            async with lifespan_of(host="0.0.0.0", **keyed):
                pass
    async with lifespan_of(host="127.0.0.1", history_enabled=False):
        pass  # the README's `signal-api serve`: loopback, no key, no database needed


@pytest.mark.usefixtures("cli_logging")
def test_serve_refuses_in_one_line_before_binding(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing binds here (no socket on 0.0.0.0 in a test): the server's run is replaced by a recorder."""
    from signal_api import cli

    started: list[str] = []

    def never(self: cli.AnnouncingServer) -> None:
        raise AssertionError("uvicorn must not start")

    def record(self: cli.AnnouncingServer) -> None:
        started.append(self.config.host)
        self.started = True

    monkeypatch.setattr(cli.AnnouncingServer, "run", never)
    monkeypatch.setenv("HISTORY_ENABLED", "false")
    assert cli.main(["serve", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("signal-api: refusing to start: bound to 0.0.0.0")
    assert "ALLOW_ANONYMOUS=true" in err and "Traceback" not in err

    monkeypatch.setattr(cli.AnnouncingServer, "run", record)
    monkeypatch.setenv("ALLOW_ANONYMOUS", "true")
    assert cli.main(["serve", "--host", "0.0.0.0"]) == 0 and started[-1] == "0.0.0.0"
    monkeypatch.delenv("ALLOW_ANONYMOUS")
    assert cli.main(["serve"]) == 0 and started[-1] == "127.0.0.1"  # the default needs nothing


async def test_refused_keys_are_budgeted_per_address_before_any_lookup(tmp_path: Path) -> None:
    """Key guessing: past AUTH_FAILURES_PER_ADDRESS refused keys, the address gets 429 with Retry-After
    even for a valid key (no lookup happens), while requests without a key and health still answer."""
    async with asyncio.timeout(60), keyed_service(tmp_path, auth_failures_per_address=3) as served:
        for _ in range(3):
            assert (await post_graphql(served.base_url, READ_QUERY, bearer(generate_key()))).status_code == 401
        blocked = await post_graphql(served.base_url, READ_QUERY, bearer(served.key("reader")))
        assert blocked.status_code == 429, blocked.text
        assert blocked.json()["error"]["code"] == "RATE_LIMITED"
        assert int(blocked.headers["retry-after"]) >= 1
        anonymous = await post_graphql(served.base_url, READ_QUERY)
        assert anonymous.status_code == 200 and codes(anonymous.json()) == []
        async with httpx2.AsyncClient(timeout=20) as client:
            health = await client.get(f"{served.base_url}/health/live", headers=bearer(generate_key()))
        assert health.status_code == 200


async def test_valid_keys_do_not_spend_the_refused_key_budget(tmp_path: Path) -> None:
    async with asyncio.timeout(60), keyed_service(tmp_path, auth_failures_per_address=2) as served:
        for _ in range(5):
            allowed = await post_graphql(served.base_url, READ_QUERY, bearer(served.key("reader")))
            assert allowed.status_code == 200, allowed.text
