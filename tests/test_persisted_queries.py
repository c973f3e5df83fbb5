"""Persisted queries over real HTTP: Apollo's APQ protocol (hash-only POST and GET, registration, hash
mismatch, unsupported version) and trusted-documents mode (registry documents, an extra manifest file,
nothing learned, ad-hoc documents refused)."""

from __future__ import annotations

import contextlib
import hashlib
import json
from typing import TYPE_CHECKING, Any

import httpx2
import pytest

from schema.operations import operation
from signal_api.persisted_queries import PersistedQueries, load_trusted_documents

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

DOCUMENT = "query Apq { __typename }"


def sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def apq(digest: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


def codes(response: httpx2.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json().get("errors") or []]


@contextlib.asynccontextmanager
async def service(**settings: Any) -> AsyncIterator[httpx2.AsyncClient]:
    """The app with every upstream at a closed port (these documents need none), and a client for it."""
    from providers.replay import serve_in_background
    from signal_api.app import create_app
    from signal_api.settings import Settings

    dead = Settings(_env_file=None, upstream_retry_attempts=1, rate_limit_enabled=False, **settings)  # type: ignore[call-arg]
    app = create_app(dead.with_replay_base("http://127.0.0.1:9"))
    async with (
        serve_in_background(app, lifespan="on") as server,
        httpx2.AsyncClient(base_url=server.base_url, timeout=20) as client,
    ):
        yield client


async def test_apq_round_trip_over_post_and_get() -> None:
    digest = sha(DOCUMENT)
    async with service() as client:
        unknown = await client.post("/graphql", json={"extensions": apq(digest)})
        registered = await client.post("/graphql", json={"query": DOCUMENT, "extensions": apq(digest)})
        by_hash = await client.post("/graphql", json={"extensions": apq(digest)})
        params = {"extensions": json.dumps(apq(digest))}
        over_get = await client.get("/graphql", params=params, headers={"accept": "application/json"})
        mismatch = await client.post("/graphql", json={"query": "{ __typename }", "extensions": apq(digest)})
        version = await client.post("/graphql", json={"query": DOCUMENT, "extensions": apq(digest, version=2)})
        malformed = await client.post("/graphql", json={"extensions": apq("abc")})
    assert unknown.status_code == 200 and codes(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"  # what Apollo Client looks for
    assert registered.json() == by_hash.json() == over_get.json() == {"data": {"__typename": "Query"}}
    assert codes(mismatch) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    assert codes(version) == ["PERSISTED_QUERY_NOT_SUPPORTED"] and codes(malformed) == ["PERSISTED_QUERY_NOT_SUPPORTED"]


async def test_hash_only_get_runs_queries_but_never_mutations() -> None:
    document = 'mutation M { pauseAlertRule(id: "00000000-0000-0000-0000-000000000000") { __typename } }'
    digest = sha(document)
    async with service() as client:
        learned = await client.post("/graphql", json={"query": document, "extensions": apq(digest)})
        params = {"extensions": json.dumps(apq(digest))}
        over_get = await client.get("/graphql", params=params, headers={"accept": "application/json"})
    assert "errors" not in learned.json()  # it ran over POST (refused as data: no such rule)
    assert over_get.status_code == 400
    assert over_get.json()["error"] == {"code": "BAD_REQUEST", "message": "mutations are not allowed when using GET"}


async def test_trusted_documents_only_registered_documents_run(tmp_path: Path) -> None:
    extra = "query Extra { __typename }"
    manifest = tmp_path / "trusted.json"
    manifest.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{"id": sha(extra), "name": "Extra", "type": "query", "body": extra}],
            }
        )
    )
    registry = operation("symbols.list").document
    async with service(persisted_queries_only=True, trusted_documents_file=manifest) as client:
        ad_hoc = await client.post("/graphql", json={"query": DOCUMENT})
        register = await client.post("/graphql", json={"query": DOCUMENT, "extensions": apq(sha(DOCUMENT))})
        after = await client.post("/graphql", json={"extensions": apq(sha(DOCUMENT))})
        extra_by_hash = await client.post("/graphql", json={"extensions": apq(sha(extra))})
        extra_text = await client.post("/graphql", json={"query": "query Extra {\n  __typename\n}"})
        registry_by_hash = await client.post(
            "/graphql", json={"extensions": apq(sha(registry)), "variables": {"search": "BTC"}}
        )
    assert codes(ad_hoc) == ["PERSISTED_QUERY_NOT_FOUND"] and ad_hoc.json()["data"] is None
    assert codes(register) == ["PERSISTED_QUERY_NOT_FOUND"]  # nothing is learned in this mode
    assert codes(after) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert extra_by_hash.json() == extra_text.json() == {"data": {"__typename": "Query"}}
    # the registry's document ran (no upstream here: its typed problem, not a refusal)
    assert registry_by_hash.json()["data"]["symbols"]["__typename"] == "UpstreamUnavailable"


def test_trusted_documents_file_is_checked(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"0" * 64: "{ __typename }"}))
    with pytest.raises(ValueError, match="does not match"):
        load_trusted_documents(wrong)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(["{ nope"]))
    with pytest.raises(ValueError, match="parses"):
        load_trusted_documents(broken)
    listed = tmp_path / "listed.json"
    listed.write_text(json.dumps(["{ __typename }"]))
    assert load_trusted_documents(listed) == {sha("{ __typename }"): "{ __typename }"}


def test_learned_documents_are_bounded() -> None:
    store = PersistedQueries(max_entries=2)
    documents = [f"query Q{i} {{ __typename }}" for i in range(3)]
    for document in documents:
        assert store.resolve(document, apq(sha(document))) == document
    assert store.resolve(None, apq(sha(documents[0]))) is not None  # an error: the oldest was dropped
    assert isinstance(store.resolve(None, apq(sha(documents[0]))), Exception)
    assert store.resolve(None, apq(sha(documents[2]))) == documents[2]
