"""Three replicas on loopback against one: upstream calls per minute under the same load, and lease takeover.

Each phase starts its own processes (tests/replica_helpers.py): one `signal-api replay` server (it counts the
upstream calls it answers), then N `signal-api serve --replay-url` replicas, and drives the same load for the
same time: round-robin `signal` queries over three modes from one client, ``--pause`` seconds apart.

Phases:
- ``1 replica``: the baseline (one process, in-process caches);
- ``3 replicas, Redis``: one Redis shared (REDIS_URL): the goal is within 10 % of the baseline;
- ``3 replicas, no Redis``: three independent processes, for contrast (each calls upstream on its own).
Then the takeover: three replicas on one Redis and one PostgreSQL, SIGKILL the replica ingesting the
liquidation stream (and holding its leases); seconds until a survivor ingests and holds every lease.

    .venv/bin/python bench/bench_replicas.py --seconds 60
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.providers_helpers import cassette_path
from tests.replica_helpers import Cluster, replicas
from tests.test_replicas import CASSETTE, MODES, STREAM, ask, holders, ingesting


def drive(cluster: Cluster, seconds: float, pause: float) -> tuple[int, float]:
    started, count = time.monotonic(), 0
    for count in range(1, 10_000_000):
        ask(cluster.next(), MODES[count % len(MODES)])
        if time.monotonic() - started >= seconds:
            break
        time.sleep(pause)
    return count, time.monotonic() - started


def phase(root: Path, name: str, count: int, shared: bool, seconds: float, pause: float) -> float:
    with replicas(root / name.replace(" ", "_").replace(",", ""), cassette_path(CASSETTE), count, shared=shared,
                  history=False) as cluster:  # fmt: skip
        drive(cluster, 2, pause)  # warm: the symbol list and first reads are the same cold cost in every phase
        before = cluster.upstream_calls()
        requests, elapsed = drive(cluster, seconds, pause)
        calls = cluster.upstream_calls() - before
        per_minute = calls / elapsed * 60
        print(f"{name:<22} {requests / elapsed:8.1f} req/s  {calls:6d} upstream calls  {per_minute:8.1f} calls/min")
        return per_minute


def takeover(root: Path) -> None:
    with replicas(root / "takeover", cassette_path(CASSETTE), 3) as cluster:
        deadline = time.monotonic() + 20
        while sum(ingesting(r) for r in cluster.replicas) != 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        victim = next(r for r in cluster.replicas if ingesting(r))
        leases = set(victim.cluster()["leases_held"])
        victim.kill()
        killed = time.monotonic()
        survivors = [r for r in cluster.replicas if r is not victim]
        stream_at = jobs_at = None
        while time.monotonic() - killed < 30 and (stream_at is None or jobs_at is None):
            if stream_at is None and any(ingesting(r) for r in survivors):
                stream_at = time.monotonic() - killed
            if jobs_at is None and all(holders(cluster, lease) for lease in leases):
                jobs_at = time.monotonic() - killed
            time.sleep(0.1)
        lease_seconds = survivors[0].cluster()["lease_seconds"]
        names = ", ".join(sorted(leases))
        print(f"takeover after SIGKILL (REDIS_LEASE_SECONDS={lease_seconds}): {STREAM} ingested again after "
              f"{stream_at:.1f} s, all {len(leases)} leases ({names}) held after {jobs_at:.1f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="load per phase")
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between requests")
    args = parser.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, {platform.python_implementation()} "
          f"{platform.python_version()}; cassette {CASSETTE}; {args.seconds:.0f} s per phase")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-replicas-") as tmp:
        root = Path(tmp)
        one = phase(root, "1 replica", 1, True, args.seconds, args.pause)
        three = phase(root, "3 replicas, Redis", 3, True, args.seconds, args.pause)
        alone = phase(root, "3 replicas, no Redis", 3, False, args.seconds, args.pause)
        print(f"3 replicas on Redis / 1 replica: {three / one:.3f} (goal: within 0.90-1.10); "
              f"without Redis: {alone / one:.2f}")  # fmt: skip
        takeover(root)


if __name__ == "__main__":
    main()
