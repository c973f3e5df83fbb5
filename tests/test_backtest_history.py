"""The history loader: the real CoinGlass files (counts, first/last values, units, the May 2025 gap), and
clear errors for missing files and columns. Expectations are read from the CSV text itself."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from providers.history_files import HistoryFormatError, HistoryNotAvailable, load_history
from signal_api.paths import default_history_dir
from tests.test_backtest_support import real_history, real_history_dir, write_synthetic_history

if TYPE_CHECKING:
    from pathlib import Path

    from engine.backtest import MarketHistory

H4 = timedelta(hours=4)
H8 = timedelta(hours=8)


def _csv(name: str) -> list[dict[str, str]]:
    directory = real_history_dir()
    path = next(iter(directory.glob(f"*/{name}")), None) or directory / name
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _t(row: dict[str, str]) -> datetime:
    return datetime.fromtimestamp(int(row["time"]) / 1000, tz=UTC)


@pytest.fixture(scope="module")
def history() -> MarketHistory:
    return real_history()


def test_default_directory_is_next_to_the_checkout() -> None:
    assert default_history_dir().parts[-3:] == ("shared", "fixtures", "history")


def test_row_counts_match_the_files(history: MarketHistory) -> None:
    assert len(history.candles) == len(_csv("btc_price_binance_btcusdt_4h.csv")) == 2191
    assert len(history.funding) == len(_csv("btc_funding_binance_btcusdt.csv")) == 1633
    assert len(history.global_long_short) == 2160
    assert len(history.top_trader_positions) == 2160
    assert len(history.liquidations) == 2160
    assert len(history.open_interest) == 2160
    assert len(history.fear_greed) == len(_csv("fear_greed_daily_2018-02_2025-11.csv")) == 2824


def test_candles_first_and_last_with_base_volume(history: MarketHistory) -> None:
    rows = _csv("btc_price_binance_btcusdt_4h.csv")
    for candle, row in ((history.candles[0], rows[0]), (history.candles[-1], rows[-1])):
        assert candle.open_time == _t(row)
        assert (candle.open, candle.high, candle.low, candle.close) == tuple(
            float(row[k]) for k in ("open", "high", "low", "close")
        )
        assert candle.quote_volume == float(row["volume_usd"])
        assert candle.volume == pytest.approx(float(row["volume_usd"]) / float(row["close"]))
    assert history.candles[0].open_time == datetime(2024, 11, 13, 12, tzinfo=UTC)
    assert history.candles[0].close == 92608.1
    assert history.candles[0].volume == pytest.approx(16215769478.4041 / 92608.1)


def test_funding_percent_becomes_a_fraction_per_8h_known_at_its_bar_end(history: MarketHistory) -> None:
    rows = _csv("btc_funding_binance_btcusdt.csv")
    first, last = history.funding[0], history.funding[-1]
    assert float(rows[0]["close"]) == 0.01  # 0.01 % per 8 h in the file ...
    assert first.rate == pytest.approx(0.0001)  # ... is a fraction of 0.0001
    assert first.interval_hours == 8.0
    assert first.percent_8h == pytest.approx(0.01)
    assert first.time == _t(rows[0]) + H4  # 4 h bars until May 2025
    assert last.rate == pytest.approx(float(rows[-1]["close"]) / 100) == pytest.approx(0.00007002)
    assert last.time == _t(rows[-1]) + H8  # 8 h bars afterwards
    assert all(-0.01 < f.rate < 0.01 for f in history.funding)  # fractions, never percent


def test_ratios_liquidations_oi_fear_greed_values_and_times(history: MarketHistory) -> None:
    g = _csv("btc_ls_global_account_binance_btcusdt_4h.csv")
    assert history.global_long_short[0].long_pct == float(g[0]["global_account_long_percent"]) == 48.98
    assert history.global_long_short[0].long_short_ratio == 0.96
    assert history.global_long_short[0].time == _t(g[0]) + H4
    assert history.global_long_short[-1].long_pct == 76.06
    top = _csv("btc_ls_top_position_binance_btcusdt_4h.csv")
    assert history.top_trader_positions[0].long_pct == float(top[0]["top_position_long_percent"]) == 61.17
    assert history.top_trader_positions[-1].long_pct == 69.49
    liq = _csv("btc_liquidations_aggregated_4h.csv")
    assert history.liquidations[0].long_usd == float(liq[0]["aggregated_long_liquidation_usd"])
    assert history.liquidations[-1].short_usd == 0.0
    assert history.liquidations[-1].time == _t(liq[-1]) + H4
    oi = _csv("btc_oi_aggregated_stablecoin_margin_4h.csv")
    assert history.open_interest[0].open_interest == float(oi[0]["close"]) == 90272.42
    assert history.open_interest[0].unit == "coin"
    assert history.open_interest[-1].open_interest == 102059.985
    fng = _csv("fear_greed_daily_2018-02_2025-11.csv")
    assert history.fear_greed[0].value == 30.0
    assert history.fear_greed[0].time == _t(fng[0]) == datetime(2018, 2, 1, tzinfo=UTC)
    assert history.fear_greed[-1].value == 15.0
    assert history.fear_greed[-1].classification == "Extreme Fear"


def test_the_may_2025_gap_is_reported_not_filled(history: MarketHistory) -> None:
    by_series = {g.series: g for g in history.gaps}
    candles = by_series["candles"]
    assert (candles.last_before, candles.first_after) == (
        datetime(2025, 5, 13, 8, tzinfo=UTC),
        datetime(2025, 5, 14, 16, tzinfo=UTC),
    )
    for series in ("global_long_short", "top_trader_positions", "liquidations", "open_interest"):
        gap = by_series[series]
        assert (gap.last_before, gap.first_after) == (
            datetime(2025, 5, 13, 8, tzinfo=UTC),
            datetime(2025, 5, 18, 20, tzinfo=UTC),
        )
        assert gap.duration == timedelta(hours=132)
    assert {g.series for g in history.gaps} == {
        "candles",
        "funding",
        "global_long_short",
        "top_trader_positions",
        "liquidations",
        "open_interest",
    }
    # Not papered over: no candle exists inside the gap.
    assert not any(candles.last_before < c.open_time < candles.first_after for c in history.candles)


def test_missing_directory_and_file_are_named(tmp_path: Path) -> None:
    with pytest.raises(HistoryNotAvailable, match="does not exist"):
        load_history(tmp_path / "nowhere")
    write_synthetic_history(tmp_path, bars=80)
    (tmp_path / "coinglass" / "btc_liquidations_aggregated_4h.csv").unlink()
    with pytest.raises(HistoryNotAvailable) as info:
        load_history(tmp_path)
    assert info.value.missing == ("btc_liquidations_aggregated_4h.csv",)
    assert "btc_liquidations_aggregated_4h.csv" in str(info.value)


def test_a_symbol_without_price_history_is_refused_by_name() -> None:
    with pytest.raises(HistoryNotAvailable, match=r"eth_price_binance_ethusdt_4h\.csv"):
        load_history(real_history_dir(), "ETH")


def test_missing_column_is_named(tmp_path: Path) -> None:
    write_synthetic_history(tmp_path, bars=80, drop_column=("global", "global_account_long_percent"))
    with pytest.raises(
        HistoryFormatError,
        match=r"btc_ls_global_account_binance_btcusdt_4h.csv: missing column\(s\) global_account_long_percent",
    ):
        load_history(tmp_path)


def test_bad_number_is_named_with_its_line(tmp_path: Path) -> None:
    write_synthetic_history(tmp_path, bars=80)
    path = tmp_path / "coinglass" / "btc_oi_aggregated_stablecoin_margin_4h.csv"
    lines = path.read_text().splitlines()
    cells = lines[3].split(",")
    cells[-1] = "n/a"
    lines[3] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(HistoryFormatError, match=r"btc_oi_aggregated_stablecoin_margin_4h.csv: line 4: close='n/a'"):
        load_history(tmp_path)


def test_user_files_of_the_same_shape_load_and_gaps_are_found(tmp_path: Path) -> None:
    history = load_history(write_synthetic_history(tmp_path, bars=200, gap=(100, 110)), "btcusdt")
    assert history.symbol == "BTCUSDT"
    assert len(history.candles) == 190
    assert {g.series for g in history.gaps} >= {"candles", "liquidations", "open_interest"}
    candle_gap = next(g for g in history.gaps if g.series == "candles")
    assert candle_gap.duration == H4 * 11
