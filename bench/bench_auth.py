"""What authentication costs per request: ``{ __typename }`` over HTTP with no key, with a valid key (one
index probe in PostgreSQL per request, no cache, so revocation is immediate), with a well-formed unknown
key (probe, then 401) and with a malformed key (401 before any database work); and, first, the lookup
alone (``Authenticator.authenticate`` in a loop), which is steadier than HTTP on a busy machine.

Runs the real app in-process on 127.0.0.1 against a throw-away embedded PostgreSQL (a temp dir, removed
at the end); no upstream is called. Rate limits are off so every request is answered. Each series is
sequential, bounded by ``--requests`` and ``--max-seconds``.

    .venv/bin/python bench/bench_auth.py [--requests 400]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx2
from pydantic import SecretStr

from persistence.api_keys import ApiKeyRepository, generate_key
from persistence.db import open_database, start_embedded
from providers.replay import serve_in_background
from signal_api.app import create_app
from signal_api.security.auth import Authenticator
from signal_api.settings import Settings

QUERY = {"query": "{ __typename }"}


async def series(
    client: httpx2.AsyncClient, url: str, headers: dict[str, str], count: int, limit: float
) -> list[float]:
    timings: list[float] = []
    deadline = time.perf_counter() + limit
    for _ in range(count):
        if time.perf_counter() > deadline:
            break
        started = time.perf_counter()
        response = await client.post(url, json=QUERY, headers=headers)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code in (200, 401), response.status_code
    return timings


async def main(requests: int, max_seconds: float) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    server = await asyncio.to_thread(start_embedded, root / "postgres")
    try:
        uri = server.get_uri()
        async with open_database(uri, root, min_size=1, max_size=1) as db:
            repo = ApiKeyRepository(db)
            key = (await repo.create("bench", ["read"])).key
            authenticator = Authenticator(allow_anonymous=True, store=repo)
            timings = []
            for _ in range(requests * 5):
                started = time.perf_counter()
                await authenticator.authenticate(key, "127.0.0.1")
                timings.append((time.perf_counter() - started) * 1000)
            print(
                f"Authenticator.authenticate(valid key), {len(timings)} calls: p50 {statistics.median(timings):.3f} ms"
            )
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            history_enabled=True,
            database_url=SecretStr(uri),
            data_dir=root,
            streams_enabled=False,
            rate_limit_enabled=False,
            binance_base_url="http://127.0.0.1:9",  # nothing upstream is called; the warm-up fails fast
        )
        app = create_app(settings)
        async with serve_in_background(app, lifespan="on") as service, httpx2.AsyncClient(timeout=10) as client:
            target = f"{service.base_url}/graphql"
            cases = {
                "no key (anonymous)": {},
                "valid key": {"Authorization": f"Bearer {key}"},
                "unknown well-formed key (401)": {"X-API-Key": generate_key()},
                "malformed key (401, no lookup)": {"X-API-Key": "nope"},
            }
            await series(client, target, {}, 50, max_seconds)  # warm up
            print(f"{requests} sequential POST /graphql {{ __typename }} per case, ms")
            for name, headers in cases.items():
                timings = sorted(await series(client, target, headers, requests, max_seconds))
                p50, p95 = statistics.median(timings), timings[max(int(len(timings) * 0.95) - 1, 0)]
                mean = statistics.fmean(timings)
                print(f"  {name:32s} n={len(timings):4d}  p50 {p50:6.2f}  p95 {p95:6.2f}  mean {mean:6.2f}")
    finally:
        await asyncio.to_thread(server.cleanup)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--max-seconds", type=float, default=30.0, help="per series")
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.max_seconds))
