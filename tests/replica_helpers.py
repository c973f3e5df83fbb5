"""Replicas on loopback for tests/test_replicas.py and bench/bench_replicas.py: one ``signal-api replay``
server, a real redis-server, one PostgreSQL (the tests' embedded pgserver, a fresh database), and N
``signal-api serve --replay-url ... --record-history`` processes sharing them, each on its own port.

Every process binds 127.0.0.1; every wait is bounded; everything started is stopped on exit.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2

from tests.process_helpers import free_port, stop_process, until_still
from tests.redis_helpers import running_redis

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

CLI = str(Path(sys.executable).parent / "signal-api")
SIGNAL = "query($s: String!, $m: Mode!) { signal(symbol: $s, mode: $m) { recommendation score timeframe } }"


@dataclass
class Replica:
    name: str
    url: str
    process: subprocess.Popen[bytes]

    def kill(self) -> None:
        """SIGKILL: no lease given up, no shutdown hook (what a crash or OOM kill does)."""
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx2.get(f"{self.url}/health", timeout=10).json()
        return body

    def cluster(self) -> dict[str, Any]:
        view: dict[str, Any] = self.health()["cluster"]
        return view


@dataclass
class Cluster:
    replay_url: str
    redis_url: str | None
    database_url: str | None
    replicas: list[Replica] = field(default_factory=list)
    _turn: Iterator[int] = field(default_factory=itertools.count)

    def next(self) -> Replica:
        """Round robin over the replicas still running."""
        alive = [r for r in self.replicas if r.process.poll() is None]
        return alive[next(self._turn) % len(alive)]

    def replay_stats(self) -> dict[str, Any]:
        """The replay server's counters: ``total`` HTTP calls answered, ``ws_connections``, ``ws_open``."""
        stats: dict[str, Any] = httpx2.get(f"{self.replay_url}/__replay__/stats", timeout=10).json()
        return stats

    def upstream_calls(self) -> int:
        return int(self.replay_stats()["total"])

    def settled_upstream_calls(self) -> int:
        """The count once the replicas' start-up calls (the listing, the warm-up's pings) are done."""
        return until_still(self.upstream_calls, quiet_s=0.5, timeout_s=10.0)


def _wait(url: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / 0.1) + 1):
        if process.poll() is not None:
            raise RuntimeError(f"{url}: exited with {process.returncode}")
        with contextlib.suppress(httpx2.HTTPError):
            if httpx2.get(url, timeout=1).status_code == 200:
                return
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


@contextlib.contextmanager
def replay_server(cassette: Path, latency_ms: float = 0.0) -> Iterator[str]:
    port = free_port()
    args = [
        CLI,
        "replay",
        "--cassette",
        str(cassette),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--latency-ms",
        str(latency_ms),
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait(f"{url}/__replay__/clock", process, 30)
        yield url
    finally:
        stop_process(process)


@contextlib.contextmanager
def database(tmp_path: Path) -> Iterator[str]:
    """A fresh database on the tests' embedded PostgreSQL (tests/history_helpers.py), dropped after."""
    import asyncio

    import asyncpg

    from tests.history_helpers import session_server

    server = session_server()
    name = f"r_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server.get_uri())
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield server.get_uri(name)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def start_replica(
    name: str, replay_url: str, tmp_path: Path, env: Mapping[str, str], *, wait_seconds: float = 60
) -> Replica:
    port = free_port()
    (tmp_path / name).mkdir(exist_ok=True)
    args = [CLI, "serve", "--replay-url", replay_url, "--host", "127.0.0.1", "--port", str(port)]
    if env.get("HISTORY_ENABLED") == "true":
        args.append("--record-history")
    with (tmp_path / f"{name}.log").open("wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            args, env={**os.environ, "DATA_DIR": str(tmp_path / name), **env}, stdout=log, stderr=subprocess.STDOUT
        )
    replica = Replica(name, f"http://127.0.0.1:{port}", process)
    try:
        _wait(f"{replica.url}/health/live", process, wait_seconds)
    except RuntimeError as exc:
        stop_process(process)
        tail = (tmp_path / f"{name}.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"replica {name}: {exc}; its log ends:\n{tail}") from exc
    return replica


def replica_env(redis_url: str | None, database_url: str | None, **extra: str) -> dict[str, str]:
    env = {
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_ENABLED": "false",  # the load is one address; budgets are tested elsewhere
        "SPIKE_POLL_SECONDS": "0",
        "GRAPHIQL": "false",
        "LIQUIDATION_STREAM_ENABLED": "true",
        "HISTORY_ENABLED": "true" if database_url else "false",
        **extra,
    }
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env


@contextlib.contextmanager
def replicas(
    tmp_path: Path, cassette: Path, count: int, *, shared: bool = True, history: bool = True, **extra: str
) -> Iterator[Cluster]:
    """``count`` replicas on one replay server; ``shared``: on one Redis (else each alone, in-process);
    ``history``: on one PostgreSQL. The first starts alone (it migrates the database), then the others."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        replay_url = stack.enter_context(replay_server(cassette))
        redis_url = stack.enter_context(running_redis(tmp_path)) if shared else None
        database_url = stack.enter_context(database(tmp_path)) if history else None
        cluster = Cluster(replay_url, redis_url, database_url)
        env = replica_env(redis_url, database_url, **extra)
        try:
            for index in range(count):
                cluster.replicas.append(start_replica("ABCDEFGH"[index], replay_url, tmp_path, env))
            yield cluster
        finally:
            for replica in cluster.replicas:
                stop_process(replica.process)
