"""Durable-before-sent benchmark: what group commit costs a request, against the database and the spool.

``persist`` returns only once a LONG/SHORT row is committed (group commit: concurrent callers share one
transaction) or, with the database down, fsync'd to the spool. For each concurrency this prints rows/s,
the mean batch per commit and the p50/p99 wait of one ``persist`` call, on an embedded PostgreSQL in a
temporary directory (and the same with the spool only, the database stopped).

    .venv/bin/python bench/bench_durability.py --concurrency 1 8 32 128 --seconds 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine import DataQuality, FactorName, FactorScore, Mode, Recommendation, Signal
from engine.market import Timeframe
from persistence.db import open_database
from persistence.recorder import Durability, HistoryRecorder
from persistence.repository import SignalRepository
from persistence.spool import Spool

T0 = datetime(2025, 7, 11, 20, 0, tzinfo=UTC)


def _signal(i: int) -> Signal:
    factors = tuple(
        FactorScore(
            name=name,
            weight=10.0,
            effective_weight=10.0,
            score=60.0,
            contribution=6.0,
            available=True,
            source="bench",
            raw_value=1.0,
            detail="bench",
            error=None,
            failed_sources=(),
        )
        for name in FactorName
    )
    return Signal(
        symbol=f"C{i % 50}USDT",
        recommendation=Recommendation.LONG,
        score=70.0,
        confidence=40.0,
        mode=Mode.AGGRESSIVE,
        thresholds=Mode.AGGRESSIVE.thresholds,
        timeframe=Timeframe.H4,
        price=100.0,
        factors=factors,
        top_factors=factors[:1],
        data_quality=DataQuality(score=90.0, tiers=(), missing=(), sources=()),
        generated_at=T0 + timedelta(seconds=i),
    )


async def _run(recorder: HistoryRecorder, concurrency: int, seconds: float) -> tuple[int, list[float], set[Durability]]:
    waits: list[float] = []
    seen: set[Durability] = set()
    counter = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal counter
        while time.perf_counter() < deadline:
            counter += 1
            started = time.perf_counter()
            seen.add(await recorder.persist(_signal(counter)))
            waits.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(waits), waits, seen


def _report(label: str, concurrency: int, n: int, seconds: float, waits: list[float], extra: str) -> None:
    q = statistics.quantiles(waits, n=100) if len(waits) >= 2 else [waits[0]] * 99
    print(
        f"{label:9} concurrency {concurrency:4}: {n / seconds:8.0f} rows/s  "
        f"p50 {q[49] * 1000:6.2f} ms  p99 {q[98] * 1000:6.2f} ms  {extra}"
    )


async def main(concurrencies: list[int], seconds: float) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-durability-"))
    async with open_database(None, root, min_size=2, max_size=10) as database:
        repo = SignalRepository(database, dedup_window_seconds=0)
        for concurrency in concurrencies:
            recorder = HistoryRecorder(repo, Spool(root / f"spool-{uuid.uuid4().hex}"))
            n, waits, seen = await _run(recorder, concurrency, seconds)
            stats = recorder.stats()
            batch = stats.committed_rows / max(1, stats.commits)
            _report(
                "database", concurrency, n, seconds, waits, f"mean batch {batch:5.1f}  {sorted(d.value for d in seen)}"
            )
            await recorder.aclose()
        for concurrency in concurrencies:
            recorder = HistoryRecorder(repo, Spool(root / f"spool-{uuid.uuid4().hex}"))
            recorder._spooling = True  # the database "down": every batch goes to the fsync'd spool
            n, waits, seen = await _run(recorder, concurrency, seconds)
            _report("spool", concurrency, n, seconds, waits, str(sorted(d.value for d in seen)))
            recorder._closed = True  # leave the spool as it is (no drain into the database)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 128])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    asyncio.run(main(args.concurrency, args.seconds))
