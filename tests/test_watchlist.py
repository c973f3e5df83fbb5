"""Per-owner watchlists: migrations 0005 and 0008 on the embedded PostgreSQL, the repository (owners, the cap,
each owner's history window, the shared per-coin history), and the GraphQL fields end to end (two keys see
only their own lists, an admin sees and changes every owner's, anonymous callers need a key on a public
address, each MSS of a watched coin joins its history)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx2
import pytest
from pydantic import SecretStr

from persistence.api_keys import ApiKeyRepository
from persistence.migrate import apply_migrations, load_migrations
from persistence.watchlist import MAX_PER_OWNER, MssPoint, WatchlistFull, WatchlistRepository
from tests.history_helpers import T0, fresh_database
from tests.test_mss import MSS_QUERY, mss_cassette

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from contextlib import AbstractAsyncContextManager
    from pathlib import Path

    from persistence.db import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database(tmp_path) as (database, _url):
        yield database


def point(symbol: str, minutes: int, total: float) -> MssPoint:
    phases = ({"name": "discovery", "points": total, "maxPoints": 35.0, "available": True, "passes": False},)
    return MssPoint(symbol, T0 + timedelta(minutes=minutes), total, 35.0, total, total + 65, None, phases)


async def history_rows(db: Database, symbol: str) -> int:
    async with db.connection() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM watchlist_mss WHERE symbol = $1", symbol))


async def test_each_owner_has_its_own_list_and_sees_history_from_when_it_added_the_coin(db: Database) -> None:
    repo = WatchlistRepository(db)
    assert not await repo.record(point("PEPEUSDT", 0, 10))  # nobody watches it: nothing stored
    first = await repo.add("1", "PEPEUSDT", "meme watch", at=T0)
    again = await repo.add("1", "PEPEUSDT", at=T0 + timedelta(hours=1))  # idempotent: first time and note kept
    assert (again.added_at, again.note, again.owner) == (first.added_at, "meme watch", "1")
    for minutes, total in ((0, 10.0), (5, 12.5), (10, 20.0)):
        assert await repo.record(point("PEPEUSDT", minutes, total))
    late = await repo.add("2", "PEPEUSDT", at=T0 + timedelta(minutes=7))
    anonymous = await repo.add(None, "WIFUSDT", at=T0)
    assert anonymous.owner is None

    ones = await repo.entries(admin=False, owner="1")
    twos = await repo.entries(admin=False, owner="2")
    assert [(e.owner, e.symbol) for e in ones] == [("1", "PEPEUSDT")]
    assert [(e.owner, e.symbol) for e in twos] == [("2", "PEPEUSDT")]
    assert [e.symbol for e in await repo.entries(admin=False, owner=None)] == ["WIFUSDT"]
    everyone = await repo.entries(admin=True, owner="2")
    assert sorted((e.owner or "", e.symbol) for e in everyone) == [
        ("", "WIFUSDT"),
        ("1", "PEPEUSDT"),
        ("2", "PEPEUSDT"),
    ]

    one, two, wif = await repo.history([ones[0], late, anonymous], 2)
    assert [p.total for p in one] == [20.0, 12.5]  # newest first, two per entry
    assert [p.total for p in two] == [20.0]  # owner 2 added it at +7 min: only the +10 measurement
    assert wif == ()
    assert one[0].phases[0]["maxPoints"] == 35.0  # jsonb round trip

    assert not await repo.remove("2", "WIFUSDT")  # another owner's coin: not on 2's list, nothing removed
    assert [e.symbol for e in await repo.entries(admin=False, owner=None)] == ["WIFUSDT"]
    assert await repo.remove("1", "PEPEUSDT") and not await repo.remove("1", "PEPEUSDT")
    assert await history_rows(db, "PEPEUSDT") == 3  # owner 2 still watches it: the series stays
    assert await repo.remove("2", "PEPEUSDT")
    assert await history_rows(db, "PEPEUSDT") == 0  # the last owner left: the series goes
    assert not await repo.record(point("PEPEUSDT", 20, 30))


async def test_the_cap_is_per_owner_and_readding_a_watched_coin_at_the_cap_is_fine(db: Database) -> None:
    repo = WatchlistRepository(db)
    for i in range(MAX_PER_OWNER):
        await repo.add("7", f"C{i:03d}USDT", at=T0)
    with pytest.raises(WatchlistFull):
        await repo.add("7", "ONEMOREUSDT", at=T0)
    again = await repo.add("7", "C000USDT", "still here", at=T0)  # already watched: not a new coin
    assert again.note == "still here"
    await repo.add("8", "ONEMOREUSDT", at=T0)  # another owner's list is not full
    assert len(await repo.entries(admin=False, owner="7")) == MAX_PER_OWNER
    assert len(await repo.entries(admin=True, owner=None, limit=1000)) == MAX_PER_OWNER + 1


async def test_migration_0008_moves_the_server_list_to_the_anonymous_owner(tmp_path: Path) -> None:
    async with fresh_database(tmp_path, migrate=False) as (database, _):
        async with database.connection() as conn:
            shipped = load_migrations()
            await apply_migrations(conn, [m for m in shipped if m.version < 8])
            await conn.execute("INSERT INTO watchlist (symbol, note) VALUES ('BTCUSDT', 'core'), ('ETHUSDT', NULL)")
            await conn.execute(
                "INSERT INTO watchlist_mss (symbol, measured_at, total, measurable_max, total_low, total_high, "
                "phases) VALUES ('BTCUSDT', now(), 40, 70, 40, 70, '[]')"
            )
            applied = await apply_migrations(conn, shipped)
            assert [(m.version, m.name) for m in applied if m.version == 8] == [(8, "watchlist_owners")]
            rows = await conn.fetch("SELECT owner, symbol, note FROM watchlist ORDER BY symbol")
            assert [tuple(r) for r in rows] == [("", "BTCUSDT", "core"), ("", "ETHUSDT", None)]
            assert await conn.fetchval("SELECT count(*) FROM watchlist_mss") == 1  # the history is kept
        repo = WatchlistRepository(database)  # the anonymous callers' list now
        anonymous = await repo.entries(admin=False, owner=None)
        assert [(e.owner, e.symbol) for e in anonymous] == [(None, "BTCUSDT"), (None, "ETHUSDT")]
        assert await repo.entries(admin=False, owner="1") == ()


WATCH = """
mutation ($symbol: String!, $owner: String) {
  watchlistAdd(symbol: $symbol, note: "core", owner: $owner) {
    __typename
    ... on WatchlistEntry { symbol owner note history { total measurableMax tier phases } }
    ... on Problem { code message }
    ... on WatchlistRefusedProblem { field }
  }
}
"""
REMOVE = """
mutation ($symbol: String!, $owner: String) {
  watchlistRemove(symbol: $symbol, owner: $owner) {
    __typename
    ... on WatchlistRemoved { symbol owner removed }
    ... on Problem { code }
    ... on WatchlistRefusedProblem { field }
    ... on InvalidInput { argument: field }
  }
}
"""
LIST = """{ watchlist(historyPoints: 5) { __typename
  ... on Watchlist { truncated entries { symbol owner history { total } } }
  ... on Problem { code } } }"""


@dataclass(frozen=True)
class Served:
    post: Callable[..., Awaitable[Any]]  # (GraphQL document, key or None, variables) -> answer
    rest: Callable[[str, str], Awaitable[Any]]  # (GET path, key) -> answer
    keys: dict[str, tuple[str, str]]  # name -> (key, key id)
    db: Database


def watchlist_service(
    tmp_path: Path, scopes: dict[str, list[str]], **settings: Any
) -> AbstractAsyncContextManager[Served]:
    """The app over the MSS cassette with history on a fresh database holding one key per ``scopes`` item."""
    from contextlib import asynccontextmanager

    from providers.replay import Cassette, ReplayApp, serve_in_background
    from signal_api.app import create_app
    from signal_api.settings import Settings

    @asynccontextmanager
    async def served() -> AsyncIterator[Served]:
        cassette = Cassette.model_validate(mss_cassette(lunarcrush=False))
        async with fresh_database(tmp_path) as (db, url):
            repo = ApiKeyRepository(db)
            keys = {}
            for name, granted in scopes.items():
                made = await repo.create(name, granted)
                keys[name] = (made.key, str(made.record.id))
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
                async with (
                    serve_in_background(app, lifespan="on") as service,
                    httpx2.AsyncClient(timeout=20) as client,
                ):

                    async def post(query: str, key: str | None, variables: dict[str, Any] | None = None) -> Any:
                        headers = {"Authorization": f"Bearer {key}"} if key else {}
                        response = await client.post(
                            f"{service.base_url}/graphql",
                            json={"query": query, "variables": variables or {}},
                            headers=headers,
                        )
                        assert response.status_code in (200, 403), response.text
                        return response.json()

                    async def rest(path: str, key: str) -> Any:
                        response = await client.get(
                            f"{service.base_url}{path}", headers={"Authorization": f"Bearer {key}"}
                        )
                        assert response.status_code == 200, response.text
                        return response.json()

                    yield Served(post, rest, keys, db)

    return served()


async def test_two_keys_keep_their_own_lists_and_an_admin_sees_and_changes_all(tmp_path: Path) -> None:
    scopes = {"alice": ["read"], "bob": ["read"], "ops": ["read", "admin"], "streamer": ["stream"]}
    async with watchlist_service(tmp_path, scopes) as served:
        post, keys, db = served.post, served.keys, served.db
        (alice, alice_id), (bob, bob_id), (ops, _), (streamer, _) = (keys[n] for n in scopes)
        added = (await post(WATCH, alice, {"symbol": "btc"}))["data"]["watchlistAdd"]
        await post(MSS_QUERY, bob, {"symbol": "BTC"})  # anyone's MSS of a watched coin joins its history
        alice_list = (await post(LIST, alice))["data"]["watchlist"]
        bob_before = (await post(LIST, bob))["data"]["watchlist"]
        alice_rest = (await served.rest("/v1/watchlist/list?historyPoints=1", alice))["data"]
        bob_rest = (await served.rest("/v1/watchlist/list?historyPoints=1", bob))["data"]
        bob_added = (await post(WATCH, bob, {"symbol": "BTCUSDT"}))["data"]["watchlistAdd"]
        anonymous_added = (await post(WATCH, None, {"symbol": "BTC"}))["data"]["watchlistAdd"]  # loopback: shared
        admin_list = (await post(LIST, ops))["data"]["watchlist"]
        not_yours = (await post(REMOVE, bob, {"symbol": "BTC", "owner": alice_id}))["data"]["watchlistRemove"]
        bad_owner = (await post(REMOVE, ops, {"symbol": "BTC", "owner": "alice"}))["data"]["watchlistRemove"]
        by_admin = (await post(REMOVE, ops, {"symbol": "BTC", "owner": alice_id}))["data"]["watchlistRemove"]
        anonymous_by_admin = (await post(REMOVE, ops, {"symbol": "BTC", "owner": "anonymous"}))["data"]
        bob_removes = (await post(REMOVE, bob, {"symbol": "BTC"}))["data"]["watchlistRemove"]
        forbidden = await post(LIST, streamer)
        unknown = (await post(WATCH, alice, {"symbol": "NOTACOIN"}))["data"]["watchlistAdd"]
        history_left = await history_rows(db, "BTCUSDT")

    assert added["__typename"] == "WatchlistEntry" and (added["symbol"], added["owner"]) == ("BTCUSDT", alice_id)
    assert added["note"] == "core" and len(added["history"]) == 1
    assert added["history"][0]["measurableMax"] == 70  # keyless: the social phase is missing
    assert [p["name"] for p in added["history"][0]["phases"]] == ["discovery", "social", "institutional"]
    assert [(e["symbol"], e["owner"], len(e["history"])) for e in alice_list["entries"]] == [("BTCUSDT", alice_id, 2)]
    assert bob_before == {"__typename": "Watchlist", "truncated": False, "entries": []}  # alice's list is hers
    assert [e["symbol"] for e in alice_rest["entries"]] == ["BTCUSDT"] and bob_rest["entries"] == []  # REST too
    assert (bob_added["owner"], len(bob_added["history"])) == (bob_id, 1)  # from when bob added it
    assert anonymous_added["owner"] is None
    assert sorted((e["owner"] or "-") for e in admin_list["entries"]) == sorted(["-", alice_id, bob_id])
    assert not_yours == {"__typename": "WatchlistRefusedProblem", "code": "WATCHLIST_NOT_YOURS", "field": "owner"}
    assert bad_owner == {"__typename": "InvalidInput", "code": "INVALID_INPUT", "argument": "owner"}
    assert by_admin == {"__typename": "WatchlistRemoved", "symbol": "BTCUSDT", "owner": alice_id, "removed": True}
    assert anonymous_by_admin["watchlistRemove"]["removed"] is True
    assert bob_removes == {"__typename": "WatchlistRemoved", "symbol": "BTCUSDT", "owner": bob_id, "removed": True}
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # no read scope
    assert unknown["code"] == "SYMBOL_NOT_FOUND"
    assert history_left == 0  # the last owner removed it: the series went with it


async def test_a_full_list_is_refused_as_data(tmp_path: Path) -> None:
    async with watchlist_service(tmp_path, {"alice": ["read"]}) as served:
        post, (alice, alice_id) = served.post, served.keys["alice"]
        repo = WatchlistRepository(served.db)
        for i in range(MAX_PER_OWNER):
            await repo.add(alice_id, f"C{i:03d}USDT", at=T0)
        full = (await post(WATCH, alice, {"symbol": "BTC"}))["data"]["watchlistAdd"]
    assert (full["__typename"], full["code"], full["field"]) == ("WatchlistRefusedProblem", "WATCHLIST_FULL", "symbol")


async def test_anonymous_callers_need_a_key_on_a_public_address(tmp_path: Path) -> None:
    async with watchlist_service(tmp_path, {"alice": ["read"]}, host="0.0.0.0", allow_anonymous=True) as served:
        post, keys = served.post, served.keys
        refused_add = (await post(WATCH, None, {"symbol": "BTC"}))["data"]["watchlistAdd"]
        refused_list = (await post(LIST, None))["data"]["watchlist"]
        refused_remove = (await post(REMOVE, None, {"symbol": "BTC"}))["data"]["watchlistRemove"]
        keyed = (await post(WATCH, keys["alice"][0], {"symbol": "BTC"}))["data"]["watchlistAdd"]
    for refused in (refused_add, refused_list, refused_remove):
        assert refused["__typename"] == "WatchlistRefusedProblem" and refused["code"] == "WATCHLIST_NEEDS_A_KEY"
    assert keyed["__typename"] == "WatchlistEntry" and keyed["owner"] == keys["alice"][1]


async def test_watchlist_without_a_database_is_a_typed_problem() -> None:
    from tests.conftest import running_service

    async with running_service(mss_cassette(lunarcrush=False)) as (base, _), httpx2.AsyncClient(timeout=10) as c:
        body = (await c.post(f"{base}/graphql", json={"query": LIST})).json()
    assert body["data"]["watchlist"]["code"] == "HISTORY_UNAVAILABLE"
