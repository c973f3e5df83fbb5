"""The history's GraphQL fields (on a schema of just this area) and the ``migrate`` / ``export`` commands."""

from __future__ import annotations

import argparse
import io
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

import orjson
import pytest
import strawberry
from strawberry.tools import merge_types

from engine import Recommendation
from engine.outcomes import Outcome, Verdict
from engine.stats import wilson_interval
from persistence.repository import DueOutcome, OutcomeRepository, SignalRepository
from persistence.rows import SignalRow
from persistence.runtime import HistoryConfig
from resolvers.context import RequestContext, Services
from resolvers.history import HistoryService, encode_cursor
from schema.history import HistoryQuery
from signal_api.history_cli import add_commands, run_export, run_migrate
from tests.history_helpers import T0, fresh_database, make_signal

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from persistence.db import Database

H = timedelta(hours=1)
SCHEMA = strawberry.Schema(query=merge_types("Query", (HistoryQuery,)))

HISTORY = """
query($symbol: String, $rec: Recommendation, $first: Int!, $after: String, $from: DateTime) {
  signalHistory(symbol: $symbol, recommendation: $rec, first: $first, after: $after, from: $from) {
    __typename
    ... on SignalHistoryConnection {
      edges { cursor node { id symbol recommendation mode timeframe score generatedAt
                            factors { name score } sources { input ok } outcomes { horizonHours verdict } } }
      pageInfo { hasNextPage endCursor }
    }
    ... on Problem { code message }
    ... on InvalidInput { field }
  }
}
"""

PERFORMANCE = """
query($horizon: OutcomeHorizon!) {
  signalPerformance(horizon: $horizon, symbol: "BTC") {
    __typename
    ... on SignalPerformance {
      horizonHours pending
      overall { count wins losses flats winRatePct winRatePctCi95 { low high } meanReturnPct medianReturnPct }
      byRecommendation { key count }
      byMode { key count }
    }
    ... on Problem { code message }
  }
}
"""

INSIGHTS = """
{ symbolInsights(symbol: "btcusdt", recent: 2) {
    __typename
    ... on SymbolInsights { symbol recent { id } performance { overall { count } }
                            factorAgreement { factor agreed disagreed flat abstained ratePct } }
    ... on Problem { code message }
} }
"""


def context(service: HistoryService | None) -> RequestContext:
    return RequestContext(services=Services(gateway=cast("Any", None), history=service), loaders=cast("Any", None))


async def run(query: str, ctx: RequestContext, **variables: Any) -> dict[str, Any]:
    result = await SCHEMA.execute(query, variable_values=variables, context_value=ctx)
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


def row(**kwargs: Any) -> SignalRow:
    return SignalRow.from_signal(make_signal(**kwargs), uuid.uuid4())


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database(tmp_path) as (database, _url):
        yield database


async def test_signal_history_pages_by_opaque_cursor_and_filters(db: Database) -> None:
    repo = SignalRepository(db, dedup_window_seconds=0)
    rows = [row(at=T0 + i * H, score=60 + i) for i in range(5)]
    short = row(at=T0 + 10 * H, recommendation=Recommendation.SHORT, symbol="ETHUSDT")
    await repo.insert_many([*rows, short])
    ctx = context(HistoryService(repo))

    ids: list[str] = []
    after = None
    pages = 0
    while True:
        data = (await run(HISTORY, ctx, symbol="btc", first=2, after=after))["signalHistory"]
        assert data["__typename"] == "SignalHistoryConnection"
        ids += [e["node"]["id"] for e in data["edges"]]
        assert data["pageInfo"]["endCursor"] == data["edges"][-1]["cursor"]
        pages += 1
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert pages == 3 and ids == [str(r.id) for r in reversed(rows)]

    node = (await run(HISTORY, ctx, first=1))["signalHistory"]["edges"][0]["node"]
    assert (node["symbol"], node["recommendation"], node["mode"], node["timeframe"]) == (
        "ETHUSDT",
        "SHORT",
        "AGGRESSIVE",
        "H4",
    )
    assert len(node["factors"]) == 8 and node["sources"][1] == {"input": "SOCIAL", "ok": False}
    shorts = (await run(HISTORY, ctx, rec="SHORT", first=10))["signalHistory"]["edges"]
    assert [e["node"]["id"] for e in shorts] == [str(short.id)]
    recent = (await run(HISTORY, ctx, first=10, **{"from": (T0 + 3 * H).isoformat()}))["signalHistory"]["edges"]
    assert len(recent) == 3


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"first": 5, "after": "not-a-cursor"}, "after"),
        ({"first": 5, "after": "c2gxOmJhZA=="}, "after"),  # base64 of "sh1:bad"
        ({"first": 0}, "first"),
        ({"first": 101}, "first"),
        ({"first": 5, "rec": "NEUTRAL"}, "recommendation"),
        ({"first": 5, "symbol": "BTC/EUR"}, "symbol"),
    ],
)
async def test_bad_arguments_are_typed_problems(db: Database, variables: dict[str, Any], field: str) -> None:
    data = (await run(HISTORY, context(HistoryService(SignalRepository(db))), **variables))["signalHistory"]
    assert (data["__typename"], data["code"], data["field"]) == ("InvalidInput", "INVALID_INPUT", field)


async def test_history_disabled_or_database_down_is_history_unavailable(tmp_path: Path) -> None:
    for query, name, variables in (
        (HISTORY, "signalHistory", {"first": 5}),
        (PERFORMANCE, "signalPerformance", {"horizon": "H24"}),
        (INSIGHTS, "symbolInsights", {}),
    ):
        data = (await run(query, context(None), **variables))[name]
        assert (data["__typename"], data["code"]) == ("HistoryUnavailable", "HISTORY_UNAVAILABLE")

    async with fresh_database(tmp_path) as (database, _):
        repo = SignalRepository(database)
    ctx = context(HistoryService(repo))  # its pool is closed now: the database is gone
    for query, name, variables in (
        (HISTORY, "signalHistory", {"first": 5}),
        (PERFORMANCE, "signalPerformance", {"horizon": "H1"}),
        (INSIGHTS, "symbolInsights", {}),
    ):
        data = (await run(query, ctx, **variables))[name]
        assert (data["__typename"], data["code"]) == ("HistoryUnavailable", "HISTORY_UNAVAILABLE")


async def test_performance_and_insights_over_graphql(db: Database) -> None:
    repo = SignalRepository(db, dedup_window_seconds=0)
    rows = [row(at=T0 + i * H) for i in range(4)]
    await repo.insert_many(rows)
    outcomes = OutcomeRepository(db)
    results = [(1.0, Verdict.WIN), (2.0, Verdict.WIN), (-1.0, Verdict.LOSS)]  # the fourth stays pending
    for r, (ret, verdict) in zip(rows, results, strict=False):
        due = DueOutcome(r.id, r.symbol, r.recommendation, r.price, r.generated_at, 24)
        await outcomes.insert(
            due, Outcome(ret, 1.0, 1.0, 100.0, verdict), window_start=r.generated_at, price_source="t"
        )
    ctx = context(HistoryService(repo))

    perf = (await run(PERFORMANCE, ctx, horizon="H24"))["signalPerformance"]
    assert perf["__typename"] == "SignalPerformance" and (perf["horizonHours"], perf["pending"]) == (24, 1)
    overall = perf["overall"]
    ci = wilson_interval(2, 3)
    assert ci is not None
    assert (overall["count"], overall["wins"], overall["losses"], overall["flats"]) == (3, 2, 1, 0)
    assert overall["winRatePct"] == pytest.approx(100 * 2 / 3)  # percent, like meanReturnPct
    assert overall["winRatePctCi95"] == {"low": pytest.approx(100 * ci.low), "high": pytest.approx(100 * ci.high)}
    assert overall["meanReturnPct"] == pytest.approx(2 / 3) and overall["medianReturnPct"] == pytest.approx(1.0)
    assert [g["key"] for g in perf["byRecommendation"]] == ["LONG", "SHORT"]
    assert {g["key"]: g["count"] for g in perf["byMode"]} == {
        "conservative": 0,
        "aggressive": 3,
        "ultra": 0,
        "calibrated": 0,
    }
    assert (await run(PERFORMANCE, ctx, horizon="H1"))["signalPerformance"]["overall"]["count"] == 0

    insights = (await run(INSIGHTS, ctx))["symbolInsights"]
    assert insights["symbol"] == "BTCUSDT" and [s["id"] for s in insights["recent"]] == [
        str(rows[3].id),
        str(rows[2].id),
    ]
    assert insights["performance"]["overall"]["count"] == 3  # the default horizon is 24 h
    funding = next(f for f in insights["factorAgreement"] if f["factor"] == "FUNDING")
    assert funding == {"factor": "FUNDING", "agreed": 0, "disagreed": 0, "flat": 0, "abstained": 3, "ratePct": None}


async def test_migrate_command_applies_then_reports_up_to_date(tmp_path: Path) -> None:
    async with fresh_database(tmp_path, migrate=False) as (_db, url):
        config = HistoryConfig(database_url=url, data_dir=tmp_path)
        out = io.StringIO()
        assert await run_migrate(config, out) == 0
        assert out.getvalue().splitlines() == [
            "applied 0001_signals",
            "applied 0002_outcomes",
            "applied 0003_api_keys",
            "applied 0004_signals_with_outcomes",
            "applied 0005_watchlist",
            "applied 0006_verdicts",
            "applied 0007_alerts",
            "applied 0008_watchlist_owners",
        ]
        out = io.StringIO()
        await run_migrate(config, out)
        assert out.getvalue() == "database schema is up to date\n"


async def test_export_writes_jsonl_with_outcomes_oldest_first(tmp_path: Path) -> None:
    async with fresh_database(tmp_path) as (db, url):
        repo = SignalRepository(db, dedup_window_seconds=0)
        rows = [row(at=T0 + i * H, score=60 + i) for i in range(3)]
        eth = row(at=T0, symbol="ETHUSDT", recommendation=Recommendation.SHORT)
        await repo.insert_many([*rows, eth])
        due = DueOutcome(rows[0].id, "BTCUSDT", "LONG", 100.0, T0, 1)
        await OutcomeRepository(db).insert(
            due, Outcome(0.5, 0.7, 0.2, 100.5, Verdict.WIN), window_start=T0, price_source="binance:5m"
        )
        config = HistoryConfig(database_url=url, data_dir=tmp_path)

        out, progress = io.BytesIO(), io.StringIO()
        assert await run_export(config, out, progress) == 4
        lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
        assert progress.getvalue() == "exported 4 signals\n"
        assert [line["id"] for line in lines][2:] == [str(r.id) for r in rows[1:]]
        assert {lines[0]["id"], lines[1]["id"]} == {str(rows[0].id), str(eth.id)}  # same time: by id
        first = next(line for line in lines if line["id"] == str(rows[0].id))
        assert first["generated_at"] == T0.isoformat() and len(first["factors"]) == 8
        assert first["outcomes"][0]["verdict"] == "WIN" and first["outcomes"][0]["horizon_hours"] == 1
        assert first["outcomes"][0]["return_pct"] == 0.5 and first["data_quality"]["score"] == 90.0

        out = io.BytesIO()
        assert await run_export(config, out, io.StringIO(), symbol="ETHUSDT") == 1
        out = io.BytesIO()
        assert await run_export(config, out, io.StringIO(), start=T0 + H, end=T0 + 2 * H) == 1


def test_commands_are_registered_with_their_options() -> None:
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["export", "--format", "jsonl", "-o", "out.jsonl", "--symbol", "btc", "--from", "2025-07-11"]
    )
    assert (args.command, args.symbol, args.start, args.end) == ("export", "BTCUSDT", T0.replace(hour=0), None)
    assert str(args.output) == "out.jsonl"
    assert parser.parse_args(["migrate"]).command == "migrate"
    with pytest.raises(SystemExit):
        parser.parse_args(["export", "--format", "csv"])


def test_cursor_is_opaque_and_round_trips() -> None:
    from persistence.repository import Keyset
    from resolvers.history import decode_cursor

    keyset = Keyset(T0 + timedelta(microseconds=123), uuid.uuid4())
    cursor = encode_cursor(keyset)
    assert str(keyset.id) not in cursor and decode_cursor(cursor) == keyset
