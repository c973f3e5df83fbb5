"""Load a recorded 4 h market history from CSV files (CoinGlass v4 exports) into an engine ``MarketHistory``.

Layout: the files below, in ``directory`` or one folder level beneath it (the shared fixtures keep the
CoinGlass files in ``coinglass_btc_eth_2024-11_2025-11/`` next to the fear & greed file). ``{s}`` is the
lower-case base asset (``btc``). Every file has an epoch-millisecond ``time`` column, oldest first.

====================================================  ===========================================================
file                                                  columns read, units → normalized form
====================================================  ===========================================================
``{s}_price_binance_{s}usdt_4h.csv``                  open/high/low/close (USDT), ``volume_usd`` (quote volume)
                                                      → ``Candle`` with base volume = volume_usd / close
``{s}_funding_binance_{s}usdt.csv``                   ``close`` = Binance funding rate in PERCENT per 8 h
                                                      (0.01 = 0.01 %) → ``FundingRate(rate=close/100, 8h)``
``{s}_ls_global_account_binance_{s}usdt_4h.csv``      ``global_account_long_percent`` (0..100), ratio
``{s}_ls_top_position_binance_{s}usdt_4h.csv``        ``top_position_long_percent`` (0..100), ratio
``{s}_liquidations_aggregated_4h.csv``                aggregated long / short liquidations, USD, per 4 h
``{s}_oi_aggregated_stablecoin_margin_4h.csv``        ``close``: stablecoin-margined open interest, all venues
``fear_greed_daily_*.csv``                            ``fear_greed_value`` 0..100, daily
====================================================  ===========================================================

Open interest: of CoinGlass's three aggregated series only coin-margin and stablecoin-margin cover the
whole year (the USD aggregate starts 2025-05-18). The stablecoin-margined one is read, in coins: its
values (75k..102k) barely move with price (correlation of 4 h changes with price changes 0.2) while
value × price tracks the USD aggregate (0.84), i.e. it is BTC, not USD. ``open_interest_usd`` is that ×
the close of the same bar. Coin-margined (inverse) OI is a small, USD-denominated slice and is not used.

Timestamps. CoinGlass stamps an interval series with the *start* of the interval; a value is only known
at its *end*. Every point is therefore re-stamped ``time + interval`` (4 h; funding switches from 4 h to
8 h bars in May 2025, so each funding row's interval is read from its neighbours). The ratio series are
treated the same way even if they are instantaneous samples: at worst they are a bar late, never early.
Fear & greed keeps its own stamp: the daily value is published at 00:00 UTC of its day, as the live
alternative.me feed stamps it. Candles keep their open time (known at open + 4 h, like live klines).

Gaps are reported in ``MarketHistory.gaps`` and never filled: the two source snapshots leave BTC price
without data 2025-05-13 08:00 .. 05-14 16:00 and the other 4 h series until 05-18 20:00.
"""

from __future__ import annotations

import csv
import math
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from engine.backtest import DataGap, MarketHistory, find_gaps
from engine.market import (
    Candle,
    FearGreed,
    FundingRate,
    LiquidationBar,
    LongShortPoint,
    OpenInterestPoint,
    Timeframe,
    utc_from_ms,
)
from providers.coinglass.domain import fear_greed_classification
from providers.symbols import parse_symbol

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime
    from pathlib import Path

BAR = Timeframe.H4
FUNDING_INTERVAL_HOURS = 8.0  # Binance BTCUSDT settles every 8 h; the files give percent per 8 h
P = TypeVar("P")


class HistoryNotAvailable(Exception):
    """The history directory or one of its files is not there; ``missing`` names what was looked for."""

    def __init__(self, message: str, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.missing = missing


class HistoryFormatError(ValueError):
    """A history file is there but unreadable: a missing column, a bad number, rows out of order."""


def file_names(base: str) -> dict[str, str]:
    """The file (or glob) for each series of ``base`` (lower-case), keyed by series name."""
    s = base.lower()
    return {
        "candles": f"{s}_price_binance_{s}usdt_4h.csv",
        "funding": f"{s}_funding_binance_{s}usdt.csv",
        "global_long_short": f"{s}_ls_global_account_binance_{s}usdt_4h.csv",
        "top_trader_positions": f"{s}_ls_top_position_binance_{s}usdt_4h.csv",
        "liquidations": f"{s}_liquidations_aggregated_4h.csv",
        "open_interest": f"{s}_oi_aggregated_stablecoin_margin_4h.csv",
        "fear_greed": "fear_greed_daily_*.csv",
    }


def _find(directory: Path, pattern: str) -> Path | None:
    matches = sorted({*directory.glob(pattern), *directory.glob(f"*/{pattern}")})
    if len(matches) > 1:
        listed = ", ".join(str(m.relative_to(directory)) for m in matches)
        raise HistoryFormatError(f"{pattern}: several files match under {directory} ({listed}); keep one")
    return matches[0] if matches else None


def locate_files(directory: Path, symbol: str = "BTC") -> dict[str, Path]:
    """Every file of ``symbol``'s history, or :class:`HistoryNotAvailable` naming each missing one."""
    if not directory.is_dir():
        raise HistoryNotAvailable(f"history directory {directory} does not exist", (str(directory),))
    base = parse_symbol(symbol).base
    found: dict[str, Path] = {}
    missing: list[str] = []
    for series, pattern in file_names(base).items():
        path = _find(directory, pattern)
        if path is None:
            missing.append(pattern)
        else:
            found[series] = path
    if missing:
        raise HistoryNotAvailable(
            f"history for {base} incomplete in {directory} (or one folder below): missing {', '.join(missing)}",
            tuple(missing),
        )
    return found


class _Table:
    """A CSV file's rows with checked access to named numeric columns."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path = path
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            absent = [c for c in ("time", *columns) if c not in header]
            if absent:
                raise HistoryFormatError(
                    f"{path.name}: missing column(s) {', '.join(absent)} (has {', '.join(header) or 'no header'})"
                )
            self.rows = list(reader)
        if not self.rows:
            raise HistoryFormatError(f"{path.name}: no rows")
        self.times_ms = [self._int(i, "time") for i in range(len(self.rows))]
        for i in range(1, len(self.times_ms)):
            if self.times_ms[i] <= self.times_ms[i - 1]:
                raise HistoryFormatError(
                    f"{path.name}: line {i + 2}: time not after the previous row (not oldest-first)"
                )
        self.times = [utc_from_ms(t) for t in self.times_ms]

    def _int(self, i: int, column: str) -> int:
        text = self.rows[i][column]
        try:
            return int(float(text))
        except (TypeError, ValueError):
            raise HistoryFormatError(f"{self.path.name}: line {i + 2}: {column}={text!r} is not a number") from None

    def num(self, i: int, column: str) -> float:
        text = self.rows[i][column]
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise HistoryFormatError(f"{self.path.name}: line {i + 2}: {column}={text!r} is not a number") from None
        if not math.isfinite(value):
            raise HistoryFormatError(f"{self.path.name}: line {i + 2}: {column}={text!r} is not finite")
        return value

    def __len__(self) -> int:
        return len(self.rows)


def _intervals(times_ms: Sequence[int], allowed: Sequence[int]) -> list[timedelta]:
    """Each row's own interval: the spacing to the next row when that is a known bar length, else to the
    previous row (the last row, and the row before a gap)."""
    out: list[timedelta] = []
    for i in range(len(times_ms)):
        nxt = times_ms[i + 1] - times_ms[i] if i + 1 < len(times_ms) else None
        prev = times_ms[i] - times_ms[i - 1] if i > 0 else None
        step = next((gap for gap in (nxt, prev) if gap is not None and gap in allowed), allowed[0])
        out.append(timedelta(milliseconds=step))
    return out


def _known_at(table: _Table, interval: timedelta) -> list[datetime]:
    return [t + interval for t in table.times]


def _series(
    path: Path, columns: Sequence[str], build: Callable[[_Table, int, datetime], P], interval: timedelta
) -> tuple[_Table, list[P]]:
    table = _Table(path, columns)
    known = _known_at(table, interval)
    return table, [build(table, i, known[i]) for i in range(len(table))]


def load_history(directory: Path, symbol: str = "BTC") -> MarketHistory:
    """Read ``symbol``'s files under ``directory`` (see the module docstring for names, units and times)."""
    files = locate_files(directory, symbol)
    base = parse_symbol(symbol).base
    bar = BAR.duration

    price = _Table(files["candles"], ("open", "high", "low", "close", "volume_usd"))
    candles: list[Candle] = []
    for i in range(len(price)):
        close = price.num(i, "close")
        if close <= 0:
            raise HistoryFormatError(f"{price.path.name}: line {i + 2}: close={close!r} is not positive")
        quote = price.num(i, "volume_usd")
        candles.append(
            Candle(
                open_time=price.times[i],
                open=price.num(i, "open"),
                high=price.num(i, "high"),
                low=price.num(i, "low"),
                close=close,
                volume=quote / close,
                quote_volume=quote,
            )
        )

    funding_table = _Table(files["funding"], ("close",))
    funding_steps = _intervals(funding_table.times_ms, (4 * 3_600_000, 8 * 3_600_000))
    funding = [
        FundingRate(
            symbol=f"{base}USDT",
            rate=funding_table.num(i, "close") / 100.0,
            interval_hours=FUNDING_INTERVAL_HOURS,
            time=funding_table.times[i] + funding_steps[i],
        )
        for i in range(len(funding_table))
    ]

    def ratio(long_col: str, ratio_col: str) -> Callable[[_Table, int, datetime], LongShortPoint]:
        def build(t: _Table, i: int, known: datetime) -> LongShortPoint:
            return LongShortPoint(time=known, long_pct=t.num(i, long_col), long_short_ratio=t.num(i, ratio_col))

        return build

    global_table, global_ls = _series(
        files["global_long_short"],
        ("global_account_long_percent", "global_account_long_short_ratio"),
        ratio("global_account_long_percent", "global_account_long_short_ratio"),
        bar,
    )
    top_table, top = _series(
        files["top_trader_positions"],
        ("top_position_long_percent", "top_position_long_short_ratio"),
        ratio("top_position_long_percent", "top_position_long_short_ratio"),
        bar,
    )
    liq_table, liquidations = _series(
        files["liquidations"],
        ("aggregated_long_liquidation_usd", "aggregated_short_liquidation_usd"),
        lambda t, i, known: LiquidationBar(
            time=known,
            long_usd=t.num(i, "aggregated_long_liquidation_usd"),
            short_usd=t.num(i, "aggregated_short_liquidation_usd"),
        ),
        bar,
    )
    close_by_open = {c.open_time: c.close for c in candles}
    oi_table, open_interest = _series(
        files["open_interest"],
        ("close",),
        lambda t, i, known: OpenInterestPoint(
            time=known,
            open_interest=t.num(i, "close"),
            open_interest_usd=(t.num(i, "close") * close_by_open[t.times[i]] if t.times[i] in close_by_open else None),
            unit="coin",
        ),
        bar,
    )
    fng_table = _Table(files["fear_greed"], ("fear_greed_value",))
    fear_greed = [
        FearGreed(
            value=fng_table.num(i, "fear_greed_value"),
            classification=fear_greed_classification(fng_table.num(i, "fear_greed_value")),
            time=fng_table.times[i],
        )
        for i in range(len(fng_table))
    ]

    gaps: list[DataGap] = [
        *find_gaps("candles", price.times, bar),
        *find_gaps("funding", funding_table.times, 2 * bar),
        *find_gaps("global_long_short", global_table.times, bar),
        *find_gaps("top_trader_positions", top_table.times, bar),
        *find_gaps("liquidations", liq_table.times, bar),
        *find_gaps("open_interest", oi_table.times, bar),
        *(
            g  # the index goes back to 2018; only holes that overlap the candles matter here
            for g in find_gaps("fear_greed", fng_table.times, timedelta(days=1, hours=1))
            if g.first_after > candles[0].open_time and g.last_before < candles[-1].open_time
        ),
    ]
    sources = {
        "candles": f"{files['candles'].name} (Binance {base}USDT 4h, volume = volume_usd / close)",
        "funding": f"{files['funding'].name} (Binance {base}USDT, percent per 8h → fraction)",
        "global_long_short": f"{files['global_long_short'].name} (Binance accounts, % long)",
        "top_trader_positions": f"{files['top_trader_positions'].name} (Binance top traders by position, % long)",
        "liquidations": f"{files['liquidations'].name} (CoinGlass aggregated, USD per 4h)",
        "open_interest": f"{files['open_interest'].name} (CoinGlass aggregated stablecoin-margined, coins)",
        "fear_greed": f"{files['fear_greed'].name} (daily index 0..100)",
    }
    return MarketHistory(
        symbol=f"{base}USDT",
        timeframe=BAR,
        candles=tuple(candles),
        funding=tuple(funding),
        global_long_short=tuple(global_ls),
        top_trader_positions=tuple(top),
        open_interest=tuple(open_interest),
        liquidations=tuple(liquidations),
        fear_greed=tuple(fear_greed),
        gaps=tuple(gaps),
        sources=sources,
    )
