"""Helpers shared by the backtest tests: the real history (skipped when ``../shared`` is absent) and a
writer of small synthetic histories in exactly the real files' shape (names, columns, units), so the
engine, CLI and GraphQL tests also run without the shared data. Seeded: the same files every run."""

from __future__ import annotations

import csv
import math
import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from providers.history_files import load_history
from tests.conftest import shared_path

if TYPE_CHECKING:
    from pathlib import Path

    from engine.backtest import MarketHistory

START = datetime(2024, 1, 1, tzinfo=UTC)
BAR = timedelta(hours=4)


def real_history_dir() -> Path:
    return shared_path("fixtures", "history")


def real_history() -> MarketHistory:
    return load_history(real_history_dir())


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_synthetic_history(
    directory: Path,
    bars: int = 400,
    seed: int = 7,
    gap: tuple[int, int] | None = None,
    drop_column: tuple[str, str] | None = None,
) -> Path:
    """Write BTC files for ``bars`` 4 h bars from 2024-01-01 into ``directory/coinglass/`` (+ fear & greed
    at the top level, as in the shared fixtures). ``gap=(a, b)`` leaves out bars a..b-1 of every 4 h
    series; ``drop_column=(file key, column)`` writes one file without that column."""
    rng = random.Random(seed)
    sub = directory / "coinglass"
    sub.mkdir(parents=True, exist_ok=True)
    kept = [i for i in range(bars) if gap is None or not gap[0] <= i < gap[1]]
    times = [START + BAR * i for i in range(bars)]

    price, closes = 30_000.0, []
    for _ in range(bars):
        price *= math.exp(rng.gauss(0.0002, 0.012))
        closes.append(round(price, 1))
    files: dict[str, tuple[str, list[str], list[list[object]]]] = {}
    rows: list[list[object]] = []
    for i in kept:
        close = closes[i]
        open_ = closes[i - 1] if i else close
        rows.append(
            [
                _ms(times[i]),
                f"{times[i]:%Y-%m-%d %H:%M}",
                open_,
                max(open_, close) * 1.003,
                min(open_, close) * 0.997,
                close,
                round(rng.uniform(2e8, 2e9), 4),
            ]
        )
    files["price"] = (
        "btc_price_binance_btcusdt_4h.csv",
        ["time", "datetime_utc", "open", "high", "low", "close", "volume_usd"],
        rows,
    )

    funding_rows: list[list[object]] = []
    half = bars // 2
    for i in kept:  # 4 h bars for the first half, then 8 h bars, as in the real file
        if i >= half and i % 2:
            continue
        rate = round(rng.gauss(0.008, 0.012), 6)
        funding_rows.append([_ms(times[i]), f"{times[i]:%Y-%m-%d %H:%M}", rate, rate, rate, rate])
    files["funding"] = (
        "btc_funding_binance_btcusdt.csv",
        ["time", "datetime_utc", "open", "high", "low", "close"],
        funding_rows,
    )

    def ratio_rows() -> list[list[object]]:
        out: list[list[object]] = []
        for i in kept:
            long_pct = round(rng.uniform(30, 75), 2)
            out.append(
                [
                    _ms(times[i]),
                    f"{times[i]:%Y-%m-%d %H:%M}",
                    long_pct,
                    round(100 - long_pct, 2),
                    round(long_pct / (100 - long_pct), 2),
                ]
            )
        return out

    files["global"] = (
        "btc_ls_global_account_binance_btcusdt_4h.csv",
        [
            "time",
            "datetime_utc",
            "global_account_long_percent",
            "global_account_short_percent",
            "global_account_long_short_ratio",
        ],
        ratio_rows(),
    )
    files["top"] = (
        "btc_ls_top_position_binance_btcusdt_4h.csv",
        [
            "time",
            "datetime_utc",
            "top_position_long_percent",
            "top_position_short_percent",
            "top_position_long_short_ratio",
        ],
        ratio_rows(),
    )
    files["liquidations"] = (
        "btc_liquidations_aggregated_4h.csv",
        ["time", "datetime_utc", "aggregated_long_liquidation_usd", "aggregated_short_liquidation_usd"],
        [
            [
                _ms(times[i]),
                f"{times[i]:%Y-%m-%d %H:%M}",
                round(rng.expovariate(1 / 3e6), 2),
                round(rng.expovariate(1 / 3e6), 2),
            ]
            for i in kept
        ],
    )
    oi, oi_rows = 90_000.0, []
    for i in kept:
        oi *= math.exp(rng.gauss(0, 0.015))
        oi_rows.append([_ms(times[i]), f"{times[i]:%Y-%m-%d %H:%M}", oi, oi, oi, round(oi, 3)])
    files["oi"] = (
        "btc_oi_aggregated_stablecoin_margin_4h.csv",
        ["time", "datetime_utc", "open", "high", "low", "close"],
        oi_rows,
    )

    for key, (name, header, body) in files.items():
        if drop_column is not None and drop_column[0] == key:
            index = header.index(drop_column[1])
            header = header[:index] + header[index + 1 :]
            body = [r[:index] + r[index + 1 :] for r in body]
        _write(sub / name, header, body)

    days = int(bars * BAR / timedelta(days=1)) + 3
    fng_rows: list[list[object]] = []
    for d in range(-2, days):
        day = START + timedelta(days=d)
        fng_rows.append([_ms(day), f"{day:%Y-%m-%d}", float(rng.randint(5, 95)), 30_000.0])
    _write(
        directory / "fear_greed_daily_2023-12_2024-03.csv",
        ["time", "date_utc", "fear_greed_value", "btc_price_usd"],
        fng_rows,
    )
    return directory


def test_synthetic_writer_produces_a_loadable_history(tmp_path: Path) -> None:
    history = load_history(write_synthetic_history(tmp_path, bars=120))
    assert len(history.candles) == 120
    assert history.gaps == ()
