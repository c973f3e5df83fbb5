"""Trade flow: volume delta, the CVD path and large trades on real Binance aggTrade payloads; the trade
window's coverage, de-duplication and bounds; and ``flow`` end to end over the latest cassette's recorded
``btcusdt@aggTrade`` section (200 trades over its last ten minutes, 11 of them ≥ $100k)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from engine.flow import VolumeDelta, cvd_path, large_trades, volume_delta
from engine.market import Trade, utc_from_ms
from providers.binance.streams import parse_agg_trade
from providers.streams import StreamKey, StreamKind
from providers.streams.parsers import StreamNotRecorded
from resolvers.trade_window import MAX_WINDOW, TradeWindow
from tests.conftest import CASSETTE_NAMES, load_cassette_json, running_service
from tests.providers_helpers import fixture_json

if TYPE_CHECKING:
    from collections.abc import Callable

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def real_trades() -> list[Trade]:
    """The 40 live aggTrade messages of the fixture (several symbols), parsed by the stream parser."""
    messages = fixture_json("binance", "ws_aggTrade.many.json")
    return [t for m in messages for t in parse_agg_trade(m, T0)]


def test_volume_delta_on_real_agg_trades() -> None:
    trades = [t for t in real_trades() if t.symbol == "CTKUSDT"]
    assert trades, "the fixture carries CTKUSDT trades"
    start, end = trades[0].time - timedelta(seconds=1), trades[-1].time
    delta = volume_delta(trades, start, end)
    messages = [m["data"] for m in fixture_json("binance", "ws_aggTrade.many.json") if m["data"]["s"] == "CTKUSDT"]
    # m (buyer is maker) true: the taker sold
    buys = sum(float(d["p"]) * float(d["q"]) for d in messages if not d["m"])
    sells = sum(float(d["p"]) * float(d["q"]) for d in messages if d["m"])
    assert delta.buy_usd == pytest.approx(buys)
    assert delta.sell_usd == pytest.approx(sells)
    assert delta.trades == len(messages)
    assert delta.delta_usd == pytest.approx(buys - sells)
    # the window is (start, end]: a trade at start is outside, one at end inside
    assert volume_delta(trades, trades[0].time, end).trades == len(messages) - sum(
        1 for t in trades if t.time == trades[0].time
    )


def test_hand_built_delta_cvd_and_large_trades() -> None:
    def trade(seconds: int, side: str, price: float, size: float) -> Trade:
        return Trade("binance", "BTCUSDT", side, price, size, T0 + timedelta(seconds=seconds))

    trades = [
        trade(10, "BUY", 100_000.0, 2.0),  # 200,000 bought: large
        trade(20, "SELL", 100_000.0, 0.5),  # 50,000 sold
        trade(70, "SELL", 99_000.0, 1.5),  # 148,500 sold: large
        trade(100, "BUY", 99_500.0, 0.1),  # 9,950 bought
    ]
    delta = volume_delta(trades, T0, T0 + timedelta(minutes=2))
    assert delta == VolumeDelta(buy_usd=209_950.0, sell_usd=198_500.0, trades=4)
    assert delta.delta_usd == pytest.approx(11_450.0)
    assert delta.delta_pct == pytest.approx(11_450 / 408_450 * 100)
    path = cvd_path(trades, T0, T0 + timedelta(minutes=2), timedelta(minutes=1))
    assert path == ((T0 + timedelta(minutes=1), 150_000.0), (T0 + timedelta(minutes=2), 11_450.0))
    big = large_trades(trades, T0, T0 + timedelta(minutes=2), 100_000.0)
    assert [t.usd for t in big] == [148_500.0, 200_000.0]  # newest first
    assert VolumeDelta.merge([delta, VolumeDelta(1.0, 2.0, 1)]) == VolumeDelta(209_951.0, 198_502.0, 5)
    assert volume_delta([], T0, T0 + timedelta(minutes=1)).delta_pct is None  # nothing traded: no percent


class FakeHub:
    def __init__(self, refuse: dict[str, Exception] | None = None) -> None:
        self.acquired: list[StreamKey] = []
        self.released: list[StreamKey] = []
        self.refuse = refuse or {}

    def check(self, key: StreamKey) -> None:
        if key.venue in self.refuse:
            raise self.refuse[key.venue]

    def acquire(self, key: StreamKey) -> Callable[[], None]:
        self.acquired.append(key)
        return lambda: self.released.append(key)


def test_trade_window_follows_covers_and_bounds() -> None:
    now = [T0]
    hub = FakeHub({"okx": StreamNotRecorded("okx trades are not in the cassette")})
    window = TradeWindow(
        lambda: now[0], hub.acquire, hub.check, idle=timedelta(minutes=30), max_streams=2, max_events=3
    )
    assert window.follow("binance", "BTCUSDT") is None
    assert window.follow("binance", "BTCUSDT") is None  # once per key
    assert hub.acquired == [StreamKey(StreamKind.TRADES, "binance", "BTCUSDT")]
    refusal = window.follow("okx", "BTCUSDT")
    assert refusal is not None and "not in the replayed recording" in refusal
    # a trade of a key nobody follows is not kept; coverage starts at the first trade received
    window.add(Trade("bybit", "BTCUSDT", "BUY", 1.0, 1.0, T0))
    assert window.coverage_start("binance", "BTCUSDT") is None
    first = Trade("binance", "BTCUSDT", "BUY", 100.0, 1.0, T0 - timedelta(seconds=5))
    window.add(first)
    window.add(first)  # a replay loop sends it again: counted once
    assert window.coverage_start("binance", "BTCUSDT") == first.time
    assert window.trades("binance", "BTCUSDT") == (first,)
    for i in range(3):  # at most max_events per key: the oldest go first
        window.add(Trade("binance", "BTCUSDT", "SELL", 100.0, 1.0 + i, T0 + timedelta(seconds=i)))
    held = window.trades("binance", "BTCUSDT")
    assert len(held) == 3 and first not in held
    assert window.coverage_start("binance", "BTCUSDT") == T0  # what the cap dropped is no longer covered
    # trades leave the window after MAX_WINDOW
    now[0] = T0 + MAX_WINDOW + timedelta(seconds=3)
    assert window.trades("binance", "BTCUSDT") == ()
    # followed streams are released after idle time, and beyond max_streams the least recently asked goes
    window.follow("bybit", "ETHUSDT")
    assert StreamKey(StreamKind.TRADES, "binance", "BTCUSDT") in hub.released  # idle since T0
    window.follow("bybit", "SOLUSDT")
    window.follow("bybit", "XRPUSDT")
    assert StreamKey(StreamKind.TRADES, "bybit", "ETHUSDT") in hub.released
    assert window.followed() == [("bybit", "SOLUSDT"), ("bybit", "XRPUSDT")]
    window.close()
    assert window.followed() == []


class DroppingFeed:
    """A broker subscription stand-in: yields trades and reports a drop before the third."""

    def __init__(self, trades: list[Trade]) -> None:
        self.trades = trades
        self.dropped = 0

    async def __aiter__(self) -> Any:
        for index, trade in enumerate(self.trades):
            if index == 2:
                self.dropped = 5
            yield trade


def test_a_reconnect_restarts_coverage() -> None:
    now = [T0]
    count = {"n": 0}
    hub = FakeHub()
    window = TradeWindow(lambda: now[0], hub.acquire, hub.check, reconnects=lambda key: count["n"])
    window.follow("binance", "BTCUSDT")
    window.add(Trade("binance", "BTCUSDT", "BUY", 100.0, 1.0, T0 - timedelta(minutes=20)))
    assert window.coverage_start("binance", "BTCUSDT") == T0 - timedelta(minutes=20)
    now[0] = T0 + timedelta(minutes=1)
    count["n"] = 1  # the socket dropped and came back: what traded meanwhile never arrived
    assert window.coverage_start("binance", "BTCUSDT") == T0 + timedelta(minutes=1)
    assert window.coverage_start("binance", "BTCUSDT") == T0 + timedelta(minutes=1)  # once per reconnect


async def test_dropped_events_restart_coverage() -> None:
    hub = FakeHub()
    window = TradeWindow(lambda: T0 + timedelta(minutes=10), hub.acquire, hub.check)
    window.follow("binance", "BTCUSDT")
    trades = [Trade("binance", "BTCUSDT", "BUY", 100.0, 1.0, T0 + timedelta(minutes=i)) for i in range(4)]
    await window.run(DroppingFeed(trades))
    # five trades were lost between the second and the third: coverage starts at the third
    assert window.coverage_start("binance", "BTCUSDT") == trades[2].time
    assert len(window.trades("binance", "BTCUSDT")) == 4


# -- end to end ----------------------------------------------------------------------------------------

FLOW = """
query F($symbol: String!, $window: FlowWindow!) {
  flow(symbol: $symbol, window: $window) {
    __typename
    ... on Problem { code message }
    ... on FlowReport {
      symbol window thresholdUsd mergedVenues missing
      merged { buyUsd sellUsd deltaUsd trades }
      largeTrades { venue takerSide price size valueUsd }
      venues { venue complete coveredFrom error cvd { time cvdUsd } delta { buyUsd sellUsd trades } }
    }
  }
}
"""


def recorded_trades(cassette: dict[str, Any]) -> list[dict[str, Any]]:
    (section,) = [w for w in cassette["ws"] if w["stream"] == "btcusdt@aggTrade"]
    return [m["data"] for m in section["messages"]]


async def flow_when_recorded(graphql: Callable[..., Any], base: str, window: str, count: int) -> dict[str, Any]:
    """Ask until the replayed section has been delivered (200 messages, 20 ms apart): at most ~10 s."""
    report: dict[str, Any] = {}
    for _ in range(100):
        status, body = await graphql(base, FLOW, {"symbol": "BTC", "window": window})
        assert status == 200, body
        report = body["data"]["flow"]
        delta = report["venues"][0]["delta"]
        if delta is not None and delta["trades"] >= count:
            return report
        await asyncio.sleep(0.1)
    raise AssertionError(f"the recorded trades did not arrive: {report}")


async def test_flow_end_to_end(graphql: Callable[..., Any]) -> None:
    cassette = load_cassette_json(CASSETTE_NAMES[2])
    clock = cassette["clock"]
    trades = recorded_trades(cassette)
    async with running_service(cassette) as (base, _replay):
        # the first request starts following: nothing covered yet, and it says so
        _status, body = await graphql(base, FLOW, {"symbol": "BTC", "window": "H1"})
        first = body["data"]["flow"]
        assert first["merged"] is None and not first["venues"][0]["complete"]

        # the last hour: the recording covers its last ten minutes only: incomplete, nothing merged
        hour = await flow_when_recorded(graphql, base, "H1", len(trades))
        binance, okx, bybit = hour["venues"]
        assert (binance["venue"], binance["complete"], hour["merged"]) == ("binance", False, None)
        assert binance["coveredFrom"].startswith(utc_from_ms(trades[0]["T"]).isoformat()[:19])
        assert "covers the last 9m of the 1h00m window" in binance["error"]
        assert binance["cvd"] == []
        # the replay server has no OKX or Bybit trades: no trade arrives, and each says so
        for other in (okx, bybit):
            assert not other["complete"] and other["delta"] is None and "no trade received yet" in other["error"]
        assert [m.split(":")[0] for m in hour["missing"]] == ["binance", "okx", "bybit"]
        # large trades are facts whatever the coverage: 11 of the recorded 200 are ≥ $100k
        big = [t for t in trades if float(t["p"]) * float(t["q"]) >= 100_000]
        assert len(hour["largeTrades"]) == len(big) == 11
        assert all(t["valueUsd"] >= 100_000 for t in hour["largeTrades"])

        # the last five minutes are covered: complete, merged, and equal to the recorded trades in (clock-5m, clock]
        five = await flow_when_recorded(graphql, base, "M5", 1)
        recent = [t for t in trades if clock - 300_000 < t["T"] <= clock]
        buys = sum(float(t["p"]) * float(t["q"]) for t in recent if not t["m"])
        sells = sum(float(t["p"]) * float(t["q"]) for t in recent if t["m"])
        assert five["mergedVenues"] == ["binance"]
        assert five["merged"]["trades"] == len(recent) == 100
        assert five["merged"]["buyUsd"] == pytest.approx(buys)
        assert five["merged"]["sellUsd"] == pytest.approx(sells)
        venue = five["venues"][0]
        assert venue["complete"] and venue["error"] is None and len(venue["cvd"]) == 12
        assert venue["cvd"][-1]["cvdUsd"] == pytest.approx(buys - sells)

        _status, body = await graphql(base, FLOW, {"symbol": "!!", "window": "M5"})
        assert body["data"]["flow"]["code"] == "INVALID_INPUT"
        query = 'query { flow(symbol: "BTC", venues: [coingecko]) { __typename ... on Problem { code } } }'
        _status, body = await graphql(base, query)
        assert body["data"]["flow"] == {"__typename": "CapabilityUnsupported", "code": "CAPABILITY_NOT_SUPPORTED"}


async def test_flow_with_streams_off_says_so(graphql: Callable[..., Any]) -> None:
    async with running_service(load_cassette_json(CASSETTE_NAMES[2]), streams_enabled=False) as (base, _replay):
        _status, body = await graphql(base, FLOW, {"symbol": "BTC", "window": "M5"})
        report = body["data"]["flow"]
        assert report["merged"] is None and report["largeTrades"] == []
        assert all("streams are off" in v["error"] and v["delta"] is None for v in report["venues"])
