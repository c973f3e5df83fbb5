"""The watchlist: migration 0005 on the embedded PostgreSQL, the repository, and the GraphQL fields end to end
(an admin key changes it, anyone with history reads it, each MSS of a watched coin joins its history)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx2
import pytest
from pydantic import SecretStr

from persistence.api_keys import ApiKeyRepository
from persistence.watchlist import MssPoint, WatchlistRepository
from tests.history_helpers import T0, fresh_database
from tests.test_mss import MSS_QUERY, mss_cassette

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from persistence.db import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database(tmp_path) as (database, _url):
        yield database


def point(symbol: str, minutes: int, total: float) -> MssPoint:
    phases = ({"name": "discovery", "points": total, "maxPoints": 35.0, "available": True, "passes": False},)
    return MssPoint(symbol, T0 + timedelta(minutes=minutes), total, 35.0, total, total + 65, None, phases)


async def test_repository_adds_records_reads_and_removes_with_history(db: Database) -> None:
    repo = WatchlistRepository(db)
    assert not await repo.record(point("PEPEUSDT", 0, 10))  # not watched: nothing stored
    first = await repo.add("PEPEUSDT", "meme watch")
    again = await repo.add("PEPEUSDT")  # idempotent: keeps the first time and note
    assert again.added_at == first.added_at and again.note == "meme watch"
    await repo.add("WIFUSDT")
    for minutes, total in ((0, 10.0), (5, 12.5), (10, 20.0)):
        assert await repo.record(point("PEPEUSDT", minutes, total))
    history = await repo.history(["PEPEUSDT", "WIFUSDT"], 2)
    assert [p.total for p in history["PEPEUSDT"]] == [20.0, 12.5]  # newest first, two per coin
    assert history["WIFUSDT"] == ()
    assert history["PEPEUSDT"][0].phases[0]["maxPoints"] == 35.0  # jsonb round trip
    assert [e.symbol for e in await repo.entries()] == ["PEPEUSDT", "WIFUSDT"]
    assert await repo.remove("PEPEUSDT") and not await repo.remove("PEPEUSDT")
    async with db.connection() as conn:  # the history went with the coin
        assert await conn.fetchval("SELECT count(*) FROM watchlist_mss WHERE symbol = 'PEPEUSDT'") == 0


WATCH = """
mutation ($symbol: String!) {
  watchlistAdd(symbol: $symbol, note: "core") {
    __typename
    ... on WatchlistEntry { symbol note history { total measurableMax tier phases } }
    ... on Problem { code message }
  }
}
"""
LIST = "{ watchlist(historyPoints: 5) { __typename ... on Watchlist { entries { symbol history { total } } } } }"


async def test_watchlist_end_to_end_with_mss_history(tmp_path: Path) -> None:
    from providers.replay import Cassette, ReplayApp, serve_in_background
    from signal_api.app import create_app
    from signal_api.settings import Settings

    cassette = Cassette.model_validate(mss_cassette(lunarcrush=False))
    async with fresh_database(tmp_path) as (db, url):
        keys = ApiKeyRepository(db)
        admin = (await keys.create("ops", ["read", "history", "admin"])).key
        reader = (await keys.create("reader", ["read", "history"])).key
        async with serve_in_background(ReplayApp(cassette).app) as upstream:
            config = Settings(  # type: ignore[call-arg]
                _env_file=None,
                history_enabled=True,
                database_url=SecretStr(url),
                data_dir=tmp_path,
                streams_enabled=False,
            ).with_replay_base(upstream.base_url)
            app = create_app(config, clock=lambda: cassette.now)
            async with serve_in_background(app, lifespan="on") as service, httpx2.AsyncClient(timeout=20) as client:

                async def post(query: str, key: str, variables: dict[str, Any] | None = None) -> Any:
                    response = await client.post(
                        f"{service.base_url}/graphql",
                        json={"query": query, "variables": variables or {}},
                        headers={"Authorization": f"Bearer {key}"},
                    )
                    return response.json()

                refused = await post(WATCH, reader, {"symbol": "BTC"})
                added = await post(WATCH, admin, {"symbol": "btc"})
                await post(MSS_QUERY, reader, {"symbol": "BTC"})  # a watched coin's MSS joins its history
                listed = await post(LIST, reader)
                bad = await post(WATCH, admin, {"symbol": "NOTACOIN"})
                removed = await post(
                    'mutation { watchlistRemove(symbol: "BTC") { ... on WatchlistRemoved { removed } } }', admin
                )
                after = await post(LIST, reader)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    entry = added["data"]["watchlistAdd"]
    assert entry["__typename"] == "WatchlistEntry" and entry["symbol"] == "BTCUSDT" and entry["note"] == "core"
    assert len(entry["history"]) == 1 and entry["history"][0]["measurableMax"] == 70  # keyless: social missing
    assert [p["name"] for p in entry["history"][0]["phases"]] == ["discovery", "social", "institutional"]
    [watched] = listed["data"]["watchlist"]["entries"]
    assert watched["symbol"] == "BTCUSDT" and len(watched["history"]) == 2
    assert bad["data"]["watchlistAdd"]["code"] == "SYMBOL_NOT_FOUND"
    assert removed["data"]["watchlistRemove"]["removed"] is True
    assert after["data"]["watchlist"]["entries"] == []


async def test_watchlist_without_a_database_is_a_typed_problem() -> None:
    from tests.conftest import running_service

    async with running_service(mss_cassette(lunarcrush=False)) as (base, _), httpx2.AsyncClient(timeout=10) as c:
        body = (
            await c.post(
                f"{base}/graphql", json={"query": LIST.replace("Watchlist {", "Problem { code } ... on Watchlist {")}
            )
        ).json()
    assert body["data"]["watchlist"]["code"] == "HISTORY_UNAVAILABLE"
