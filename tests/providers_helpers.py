"""Helpers for the provider tests: the shared fixtures folder (skipped cleanly when absent), cassette
bodies, and a ``ProviderHttp`` wired the way the composition root wires it, but with short timeouts.

Nothing under ``../shared`` is copied into the project: the tests read it at run time.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from providers.cache import MemoryCache
from providers.http import ProviderHttp, RetryPolicy

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from providers.http import ErrorHook
    from providers.upstream_client import UpstreamClient
    from providers.venue import ProviderDeps

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = SHARED / "fixtures"
CASSETTES = SHARED / "cassettes"
RISING = "btc-2025-07-11-rising.json"


def fixtures_dir() -> Path:
    """``../shared/fixtures``; skips the calling test when the folder is not there."""
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not present: {FIXTURES}")
    return FIXTURES


def fixture_path(*parts: str) -> Path:
    path = fixtures_dir().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"fixture not present: {path}")
    return path


def fixture_json(*parts: str) -> Any:
    return json.loads(fixture_path(*parts).read_text())


def fixture_text(*parts: str) -> str:
    return fixture_path(*parts).read_text()


def cassette_path(name: str = RISING) -> Path:
    path = CASSETTES / name
    if not path.exists():
        pytest.skip(f"cassette not present: {path}")
    return path


def cassette_json(name: str = RISING) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cassette_path(name).read_text())
    return data


def cassette_entry(
    provider: str, path: str, body: Any, match: Mapping[str, str] | None = None, *, status: int = 200
) -> dict[str, Any]:
    """One recorded HTTP answer in the cassette format (``../shared/cassettes/README.md``): a GET of ``path``
    whose query is exactly ``match``, answered with ``status`` and ``body``."""
    return {
        "provider": provider,
        "method": "GET",
        "path": path,
        "match": dict(match or {}),
        "status": status,
        "body": body,
    }


def cassette_entry_body(cassette: Mapping[str, Any], provider: str, path: str, **match: str) -> Any:
    """The body of the cassette entry with exactly this provider, path and ``match``."""
    for entry in cassette["http"]:
        if entry["provider"] == provider and entry["path"] == path and entry["match"] == match:
            return entry["body"]
    raise KeyError(f"{provider} {path} {match}")


def make_http(
    provider: str,
    client: UpstreamClient,
    base_url: str,
    *,
    attempts: int = 2,
    max_wait_seconds: float = 0.2,
    timeout_seconds: float = 2.0,
    headers: Mapping[str, str] | None = None,
    keyed: bool = False,
    error_hook: ErrorHook | None = None,
    cache: MemoryCache | None = None,
) -> ProviderHttp:
    return ProviderHttp(
        provider=provider,
        client=client,
        base_url=base_url,
        cache=cache if cache is not None else MemoryCache(),
        timeout_seconds=timeout_seconds,
        retry=RetryPolicy(attempts=attempts, max_wait_seconds=max_wait_seconds),
        headers=headers,
        keyed=keyed,
        error_hook=error_hook,
    )


@contextlib.asynccontextmanager
async def served_deps(app: Any, provider: str, keys: Mapping[str, str | None]) -> AsyncIterator[ProviderDeps]:
    """``app`` served on 127.0.0.1 and the ProviderDeps a provider module's ``build`` needs, its base URL
    pointing there (``/<provider>``), one client and cache for every ProviderHttp; closed on exit."""
    from providers.config import CacheTtls
    from providers.replay import serve_in_background
    from providers.upstream_client import UpstreamClient
    from providers.venue import ProviderDeps

    client = UpstreamClient()
    cache = MemoryCache()

    def factory(
        provider: str, base_url: str, error_hook: ErrorHook | None, headers: Mapping[str, str] | None
    ) -> ProviderHttp:
        return make_http(provider, client, base_url, headers=headers, keyed=bool(headers), error_hook=error_hook,
                         cache=cache, max_wait_seconds=0.1)  # fmt: skip

    try:
        async with serve_in_background(app) as server:
            yield ProviderDeps(
                base_urls={provider: f"{server.base_url}/{provider}"}, keys=keys, ttls=CacheTtls(), cache=cache,
                http_factory=factory,
            )  # fmt: skip
    finally:
        await client.aclose()
