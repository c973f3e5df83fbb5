"""Walls and imbalance on a 1,000-level book: CPU per analysis, ours against a minimal numpy baseline.

The book is Binance's live SUSHIUSDT ``/fapi/v1/depth?limit=1000`` capture (1,000 levels a side, from
``../shared/fixtures/binance/fapi_v1_depth.json``).

- ours: ``engine.orderbook.analyze_book`` (pure Python: mid, the 2 % band, the average level size, walls
  with their notional, distance and multiple, imbalance within 0.5 % and 2 %, the book's reach);
- baseline: the same walls and two imbalance sums with numpy on arrays built once (the strongest simple
  way; the array construction from the venue's tuples is timed separately, since a real request pays it).

    .venv/bin/python bench/bench_orderbook.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from engine.market import OrderBook, utc_from_ms
from engine.orderbook import analyze_book

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "binance" / "fapi_v1_depth.json"


def load() -> OrderBook:
    raw = json.loads(FIXTURE.read_text())

    def levels(side: str) -> tuple[tuple[float, float], ...]:
        return tuple((float(p), float(q)) for p, q in raw[side])

    return OrderBook("SUSHIUSDT", levels("bids"), levels("asks"), utc_from_ms(raw["E"]))


def numpy_walls(bids: np.ndarray, asks: np.ndarray, multiple: float = 5.0, band: float = 2.0) -> Any:
    mid = (bids[0, 0] + asks[0, 0]) / 2.0
    levels = np.concatenate((bids, asks))
    distance = np.abs(levels[:, 0] - mid) / mid * 100.0
    in_band = levels[distance <= band]
    average = in_band[:, 1].mean()
    walls = in_band[in_band[:, 1] >= multiple * average]
    sums = []
    for width in (0.5, 2.0):
        bid = bids[np.abs(bids[:, 0] - mid) / mid * 100.0 <= width]
        ask = asks[np.abs(asks[:, 0] - mid) / mid * 100.0 <= width]
        sums.append(((bid[:, 0] * bid[:, 1]).sum(), (ask[:, 0] * ask[:, 1]).sum()))
    return walls, sums


def best_us(fn: Any, reps: int = 200) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(reps):
            fn()
        best = min(best, (time.process_time() - started) / reps)
    return best * 1e6


def main() -> None:
    book = load()
    bids, asks = np.array(book.bids), np.array(book.asks)
    ours = analyze_book(book)
    walls, _ = numpy_walls(bids, asks)
    assert len(walls) == len(ours.walls), "the baseline must find the same walls"
    levels = len(book.bids) + len(book.asks)
    ours_us = best_us(lambda: analyze_book(book))
    baseline_us = best_us(lambda: numpy_walls(bids, asks))
    arrays_us = best_us(lambda: (np.array(book.bids), np.array(book.asks)))
    print(f"book: {levels} levels, {ours.levels_in_band} in the 2 % band, {len(ours.walls)} walls")
    print(f"ours (analyze_book, pure Python):   {ours_us:8.1f} µs CPU per analysis")
    print(f"baseline (numpy, arrays prebuilt):  {baseline_us:8.1f} µs")
    print(f"  + building the arrays per book:   {arrays_us:8.1f} µs (= {baseline_us + arrays_us:.1f} µs per request)")
    print(f"ratio ours / numpy with arrays:     {ours_us / (baseline_us + arrays_us):8.2f}")


if __name__ == "__main__":
    main()
