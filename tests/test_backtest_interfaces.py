"""The two front doors of the backtest: ``signal-api backtest`` prints tables, and the GraphQL ``backtest``
query answers through real schema execution (a minimal Query holding ``BacktestQuery``)."""

from __future__ import annotations

import argparse
import json
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
import strawberry
from strawberry.tools import merge_types

from resolvers.backtest import BacktestService, horizons_to_bars
from schema.backtest import BacktestQuery
from signal_api.backtest_cli import add_commands
from tests.test_backtest_support import real_history_dir, write_synthetic_history

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="signal-api")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_history(tmp_path_factory.mktemp("history"), bars=400)


def test_cli_prints_the_tables_on_real_history(capsys: pytest.CaptureFixture[str]) -> None:
    directory = real_history_dir()
    assert _cli(["backtest", "--history", str(directory), "--walk-forward", "--mode", "ultra"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert out.startswith("# Backtest BTCUSDT 4h, mode ultra (SHORT ≤ 48, LONG ≥ 52)")
    assert "| strategy | rec | horizon | n | win % | win 95% CI | mean % | mean 95% CI | median % |" in out
    for strategy in ("engine", "always_long", "momentum_only", "only_liquidations", "only_fear_greed"):
        assert f"| {strategy} | LONG | 24h |" in out
    assert "2025-05-13 08:00" in out  # the gap is reported
    assert "## Walk-forward" in out and "**Verdict:** " in out
    assert "bars scored in" in captured.err  # progress and timing go to stderr


def test_cli_json_on_user_files(synthetic_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(["backtest", "--history", str(synthetic_dir), "--format", "json", "--horizons", "4,8"]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert data["symbol"] == "BTCUSDT" and data["horizonsHours"] == [4.0, 8.0]
    assert data["walkForward"] is None  # only with --walk-forward
    engine_rows = [r for r in data["rows"] if r["name"] == "engine"]
    assert {(r["recommendation"], r["horizonHours"]) for r in engine_rows} == {
        (rec, h) for rec in ("LONG", "SHORT", "ANY") for h in (4.0, 8.0)
    }


def test_cli_names_missing_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(["backtest", "--history", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_horizons_must_be_whole_bars() -> None:
    assert horizons_to_bars([4, 24]) == (1, 6)
    with pytest.raises(ValueError, match="multiple of the 4h bar"):
        horizons_to_bars([6])
    with pytest.raises(ValueError, match="twice"):
        horizons_to_bars([4, 4])


# --------------------------------------------------------------------------------------------- GraphQL

SCHEMA = strawberry.Schema(query=merge_types("Query", (BacktestQuery,)))

QUERY = """
query Backtest($symbol: String!, $mode: Mode!, $h: [Int!], $from: DateTime, $to: DateTime) {
  backtest(symbol: $symbol, mode: $mode, horizonsHours: $h, from: $from, to: $to) {
    __typename
    ... on BacktestResult {
      symbol mode shortMax longMin horizonsHours barsScored skippedWarmup skippedGap
      gaps { series hours }
      rows { name recommendation horizonHours count winRatePct winRateLowPct winRateHighPct
             meanReturnPct meanReturnLowPct meanReturnHighPct medianReturnPct }
      walkForward { testBars verdict { beatsBaselines statement }
                    folds { number trainBars fits { name d shortMax longMin } } }
    }
    ... on HistoryNotAvailable { code message missing }
    ... on InvalidInput { code field message }
  }
}
"""


_SERVICES: dict[Path, BacktestService] = {}  # one service (and worker process) per history directory


@pytest.fixture(scope="module", autouse=True)
def _close_services() -> Iterator[None]:
    yield
    for service in _SERVICES.values():
        service.close()
    _SERVICES.clear()


def _context(directory: Path) -> Any:
    service = _SERVICES.setdefault(directory, BacktestService(directory))
    return SimpleNamespace(services=SimpleNamespace(backtest=service))


async def _run(directory: Path, **variables: Any) -> dict[str, Any]:
    values = {"symbol": "BTC", "mode": "AGGRESSIVE", **variables}
    result = await SCHEMA.execute(QUERY, variable_values=values, context_value=_context(directory))
    assert result.errors is None, result.errors
    assert result.data is not None
    data: dict[str, Any] = result.data["backtest"]
    return data


async def test_graphql_backtest_on_real_history() -> None:
    data = await _run(real_history_dir())
    assert data["__typename"] == "BacktestResult"
    assert (data["symbol"], data["mode"], data["shortMax"], data["longMin"]) == ("BTCUSDT", "AGGRESSIVE", 45.0, 55.0)
    assert data["horizonsHours"] == [4.0, 24.0]
    assert data["skippedGap"] == 59
    assert {g["series"] for g in data["gaps"]} >= {"candles", "liquidations"}
    names = {r["name"] for r in data["rows"]}
    assert {"engine", "always_long", "momentum_only", "only_funding"} <= names
    engine = next(
        r for r in data["rows"] if r["name"] == "engine" and r["recommendation"] == "ANY" and r["horizonHours"] == 24
    )
    assert engine["winRateLowPct"] <= engine["winRatePct"] <= engine["winRateHighPct"]
    assert 1 < engine["winRatePct"] <= 100  # percent, not a fraction
    assert engine["meanReturnLowPct"] <= engine["meanReturnPct"] <= engine["meanReturnHighPct"]
    wf = data["walkForward"]
    assert isinstance(wf["verdict"]["beatsBaselines"], bool) and wf["verdict"]["statement"]
    assert [f["number"] for f in wf["folds"]] == [0, 1, 2, 3]
    fit = wf["folds"][1]["fits"][0]
    assert fit["shortMax"] == 50 - fit["d"] and fit["longMin"] == 50 + fit["d"]


async def test_graphql_date_range_and_user_files(synthetic_dir: Path) -> None:
    data = await _run(synthetic_dir, h=[4], **{"from": "2024-01-20T00:00:00Z", "to": "2024-02-20T00:00:00"})
    assert data["__typename"] == "BacktestResult"
    assert data["horizonsHours"] == [4.0]
    assert data["barsScored"] == 31 * 6 + 1  # both ends inclusive; a zone-less time is UTC


async def test_graphql_history_not_available(tmp_path: Path) -> None:
    data = await _run(tmp_path / "none")
    assert data["__typename"] == "HistoryNotAvailable"
    assert data["code"] == "HISTORY_NOT_AVAILABLE"
    assert str(tmp_path) not in data["message"] and "/" not in data["message"]  # no server path in answers
    assert data["missing"] == []


async def test_graphql_missing_file_is_named(tmp_path: Path) -> None:
    write_synthetic_history(tmp_path, bars=80)
    (tmp_path / "coinglass" / "btc_funding_binance_btcusdt.csv").unlink()
    data = await _run(tmp_path)
    assert data["__typename"] == "HistoryNotAvailable"
    assert data["missing"] == ["btc_funding_binance_btcusdt.csv"]


async def test_graphql_invalid_inputs(synthetic_dir: Path) -> None:
    bad_h = await _run(synthetic_dir, h=[5])
    assert (bad_h["__typename"], bad_h["field"]) == ("InvalidInput", "horizonsHours")
    bad_symbol = await _run(synthetic_dir, symbol="BTC-EUR")
    assert (bad_symbol["__typename"], bad_symbol["field"]) == ("InvalidInput", "symbol")
    backwards = await _run(synthetic_dir, **{"from": "2024-02-01T00:00:00Z", "to": "2024-01-01T00:00:00Z"})
    assert (backwards["__typename"], backwards["field"]) == ("InvalidInput", "to")


async def test_graphql_without_a_configured_service() -> None:
    context = SimpleNamespace(services=SimpleNamespace(backtest=None))
    result = await SCHEMA.execute(QUERY, variable_values={"symbol": "BTC", "mode": "ULTRA"}, context_value=context)
    assert result.data is not None and result.data["backtest"]["__typename"] == "HistoryNotAvailable"


def test_service_caches_history_and_reports(synthetic_dir: Path) -> None:
    from engine import Mode

    service = BacktestService(synthetic_dir)
    first = service.report("BTC", Mode.AGGRESSIVE, (4, 24), walk_forward=False)
    assert service.report("btcusdt", Mode.AGGRESSIVE, (4, 24), walk_forward=False) is first
    assert service.history("BTC") is service.history("BTCUSDT")
