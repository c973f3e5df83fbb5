"""Shared fixtures: the ``../shared`` test data (skipped cleanly when absent) and a running app + replay."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from datetime import datetime

# Apps started by tests keep no signal history unless a test asks for it (each would start a database).
os.environ["HISTORY_ENABLED"] = "false"
os.environ["LIQUIDATION_STREAM_ENABLED"] = "false"  # no always-on stream unless a test asks for it

SHARED = Path(__file__).resolve().parents[2] / "shared"
CASSETTES = SHARED / "cassettes"
CASSETTE_NAMES = ("btc-2025-07-11-rising.json", "btc-2025-10-11-falling.json", "btc-2025-11-14-latest.json")


def shared_path(*parts: str) -> Path:
    """A file under ``../shared``; skips the calling test when the folder is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not present: {path}")
    return path


def load_cassette_json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(shared_path("cassettes", name).read_text())
    return data


def cassette_body(cassette: dict[str, Any], provider: str, path: str, **match: str) -> Any:
    """The body of the entry with exactly this provider, path and match (for computing expectations)."""
    for entry in cassette["http"]:
        if entry["provider"] == provider and entry["path"] == path and entry["match"] == match:
            return entry["body"]
    raise KeyError(f"{provider} {path} {match}")


@contextlib.asynccontextmanager
async def running_service(
    cassette: dict[str, Any],
    *,
    latency_ms: float = 0.0,
    clock: Callable[[], datetime] | None = None,
    **settings: Any,
) -> AsyncIterator[tuple[str, Any]]:
    """A standalone replay server of ``cassette`` and the real app pointed at it, both on 127.0.0.1.

    Yields ``(app_base_url, replay_app)``; the app's "now" is the cassette's clock unless ``clock``.
    """
    from providers.replay import Cassette, ReplayApp, serve_in_background
    from signal_api.app import create_app
    from signal_api.settings import Settings

    parsed = Cassette.model_validate(cassette)
    replay = ReplayApp(parsed, latency_ms=latency_ms)
    async with serve_in_background(replay.app) as upstream:
        base = Settings(_env_file=None, **settings).with_replay_base(upstream.base_url)  # type: ignore[call-arg]
        app = create_app(base, clock=clock or (lambda: parsed.now))
        async with serve_in_background(app, lifespan="on") as service:
            # the start-up warm-up (the listing, then the pings that open connections) finishes first, so
            # the calls a test counts are its own (bounded: it makes at most a few calls)
            await asyncio.wait_for(asyncio.shield(app.state.warm_up), 10)
            yield service.base_url, replay


@pytest.fixture
def graphql() -> Callable[..., Any]:
    """POST a GraphQL document to a running service and return ``(status, json)``."""
    import httpx2

    async def post(base_url: str, query: str, variables: dict[str, Any] | None = None) -> tuple[int, Any]:
        async with httpx2.AsyncClient(timeout=10) as client:
            response = await client.post(f"{base_url}/graphql", json={"query": query, "variables": variables or {}})
            return response.status_code, response.json()

    return post
