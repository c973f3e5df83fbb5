"""Hyperliquid: the ``/info`` parsers over every shared fixture (SDK cassettes of live calls, JKorf and
nautilus captures), funding units (hourly since 2023-06-08), and the provider end to end over real HTTP
against the replay server, POST entries matched on their JSON body fields.

Expected values are read from the fixture text (``float(text)``), so a unit slip fails here.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from engine.market import Candle, CandleInterval, OrderBook, utc_from_ms
from providers.cache import MemoryCache
from providers.config import CacheTtls
from providers.errors import InvalidRequest, InvalidSymbol, MalformedPayload
from providers.http import ProviderHttp, RetryPolicy
from providers.hyperliquid.domain import (
    FUNDING_INTERVAL_HOURS,
    HOURLY_FUNDING_SINCE_MS,
    INTERVALS,
    funding_interval_hours,
    to_candles,
    to_funding,
    to_order_book,
)
from providers.hyperliquid.raw import (
    HyperliquidClient,
    hyperliquid_error_hook,
    parse_candle_snapshot,
    parse_funding_history,
    parse_l2_book,
    parse_meta_and_asset_ctxs,
)
from providers.hyperliquid.venue import DEFAULT_BASE_URL, RATE_LIMIT_PER_SECOND, HyperliquidMarket, build
from providers.replay import Cassette, ReplayApp, serve_in_background
from providers.symbols import parse_symbol
from providers.upstream_client import UpstreamClient
from providers.venue import Capability, CapabilityNotSupported, IntervalNotSupported, ProviderDeps
from tests.providers_helpers import fixture_json

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from providers.http import ErrorHook
    from providers.hyperliquid.models import HyperliquidCandle

BTC = parse_symbol("BTC")
# a fixed "now" for the provider: 2023-11-14T22:13:20.500Z
CLOCK_S = 1_700_000_000.5


def hl(name: str) -> Any:
    return fixture_json("hyperliquid", name)


# --------------------------------------------------------------------------------------------------
# metaAndAssetCtxs


def test_meta_and_asset_ctxs_joins_contexts_to_names_by_index() -> None:
    raw = hl("info_metaAndAssetCtxs.json")
    ctxs = parse_meta_and_asset_ctxs(raw)
    names = [u["name"] for u in raw[0]["universe"]]
    assert list(ctxs) == names == ["BTC", "ETH", "HPOS"]
    for i, name in enumerate(names):
        wire = raw[1][i]
        ctx = ctxs[name]
        assert ctx.coin == name
        assert ctx.mark_px == float(wire["markPx"])
        assert ctx.prev_day_px == float(wire["prevDayPx"])
        assert ctx.day_ntl_vlm == float(wire["dayNtlVlm"])
        assert ctx.funding == float(wire["funding"])
        assert ctx.open_interest == float(wire["openInterest"])
        assert ctx.oracle_px == float(wire["oraclePx"])
        assert ctx.premium == float(wire["premium"])
        assert ctx.mid_px == float(wire["midPx"])
        assert ctx.day_base_vlm is None  # this capture predates dayBaseVlm
    # exact values from the fixture text, so an index slip (ETH's context on BTC) fails
    assert ctxs["BTC"].mark_px == 14.3161
    assert ctxs["ETH"].open_interest == 1882.55
    assert ctxs["HPOS"].prev_day_px == 8.8097


def test_meta_and_asset_ctxs_current_schema_with_base_volume() -> None:
    """The ``allDexsAssetCtxs`` capture carries today's context fields (``dayBaseVlm`` included)."""
    ctxs_wire = hl("ws_allDexsAssetCtxs.json")["data"]["ctxs"][0][1][:2]
    ctxs = parse_meta_and_asset_ctxs([{"universe": [{"name": "BTC"}, {"name": "ETH"}]}, ctxs_wire])
    assert ctxs["BTC"].mark_px == float(ctxs_wire[0]["markPx"]) == 77562.0
    assert ctxs["BTC"].day_base_vlm == float(ctxs_wire[0]["dayBaseVlm"]) == 19707.77457
    assert ctxs["BTC"].funding == -0.0000015186
    assert ctxs["ETH"].open_interest == float(ctxs_wire[1]["openInterest"])


def test_meta_and_asset_ctxs_websocket_context_fields() -> None:
    ctx_wire = hl("ws_activeAssetCtx.json")["data"]["ctx"]
    ctx = parse_meta_and_asset_ctxs([{"universe": [{"name": "MOODENG"}]}, [ctx_wire]])["MOODENG"]
    assert ctx.open_interest == 18617460.0
    assert ctx.mark_px == 0.19963
    assert ctx.funding == 0.00004863


def test_meta_and_asset_ctxs_rejects_misaligned_lists() -> None:
    raw = hl("info_metaAndAssetCtxs.json")
    with pytest.raises(ValueError, match="universe has 3 coins"):
        parse_meta_and_asset_ctxs([raw[0], raw[1][:2]])


def test_delisted_universe_entry_is_flagged() -> None:
    raw = hl("info_metaAndAssetCtxs.json")
    raw[0]["universe"][2]["isDelisted"] = True
    ctxs = parse_meta_and_asset_ctxs(raw)
    assert ctxs["HPOS"].is_delisted
    assert not ctxs["BTC"].is_delisted


# --------------------------------------------------------------------------------------------------
# candleSnapshot


@pytest.mark.parametrize("name", ["info_candleSnapshot.json", "info_candleSnapshot.spot.json"])
def test_candle_snapshot(name: str) -> None:
    raw = hl(name)
    candles = to_candles(parse_candle_snapshot(raw))
    assert len(candles) == len(raw)
    times = [c.open_time for c in candles]
    assert times == sorted(times) and len(set(times)) == len(times)
    for candle, row in zip(candles, sorted(raw, key=lambda r: r["t"]), strict=True):
        assert candle == Candle(
            open_time=utc_from_ms(row["t"]),
            open=float(row["o"]),
            high=float(row["h"]),
            low=float(row["l"]),
            close=float(row["c"]),
            volume=float(row["v"]),
        )


def test_candle_snapshot_values_and_order_is_restored() -> None:
    raw = hl("info_candleSnapshot.json")
    candles = to_candles(parse_candle_snapshot(list(reversed(raw))))
    assert candles[0].open_time == datetime(2023, 5, 21, 20, 0, tzinfo=UTC)  # t=1684699200000
    assert (candles[0].open, candles[0].high, candles[0].close, candles[0].volume) == (
        0.001601,
        0.001616,
        0.001604,
        520665683.0,
    )
    assert candles[-1].open_time == utc_from_ms(1684782000000)


# --------------------------------------------------------------------------------------------------
# fundingHistory: fraction per hour since 2023-06-08, per 8 h before


def test_funding_history_hourly_rows() -> None:
    raw = hl("info_fundingHistory.nautilus.json")
    rows = parse_funding_history(raw)
    assert [r.funding_rate for r in rows] == [0.0000125, -0.0000081, 0.0000033]
    assert rows[2].premium is None  # the third row has no premium
    for row, wire in zip(rows, raw, strict=True):
        funding = to_funding(row, "BTCUSDT")
        assert funding.rate == float(wire["fundingRate"])  # a fraction, never percent
        assert funding.interval_hours == FUNDING_INTERVAL_HOURS == 1.0
        assert funding.rate_8h_equivalent == pytest.approx(8.0 * float(wire["fundingRate"]))
        assert funding.time == utc_from_ms(wire["time"])


@pytest.mark.parametrize("name", ["info_fundingHistory.json", "info_fundingHistory.jkorf.json"])
def test_funding_history_before_hourly_payments_is_8h(name: str) -> None:
    """May 2023 rows are 8 h apart and clamp at 0.0001, the 8 h interest rate: they are 8 h rates."""
    raw = hl(name)
    rows = parse_funding_history(raw)
    assert len(rows) == len(raw)
    for row in rows:
        funding = to_funding(row, "BTCUSDT")
        assert funding.interval_hours == 8.0
        assert funding.rate_8h_equivalent == pytest.approx(funding.rate)
    if name == "info_fundingHistory.json":
        assert rows[0].funding_rate == -0.00061334
        assert rows[16].funding_rate == 0.0001


def test_funding_history_long_capture_switches_to_hourly() -> None:
    raw = hl("info_fundingHistory.long.json")
    rows = parse_funding_history(raw)
    assert len(rows) == len(raw) == 1038
    intervals = [funding_interval_hours(r.time_ms) for r in rows]
    first_hourly = intervals.index(1.0)
    assert set(intervals[:first_hourly]) == {8.0} and set(intervals[first_hourly:]) == {1.0}
    assert rows[first_hourly - 1].time_ms == 1686182400254 < HOURLY_FUNDING_SINCE_MS
    assert rows[first_hourly].time_ms == 1686186000054
    # the interest-only rate is 0.0001 per 8 h before the switch and 0.0000125 per hour after it
    assert rows[first_hourly - 1].funding_rate == 0.0001
    assert rows[first_hourly].funding_rate == 0.0000125
    assert to_funding(rows[first_hourly - 1], "BTCUSDT").rate_8h_equivalent == pytest.approx(
        to_funding(rows[first_hourly], "BTCUSDT").rate_8h_equivalent
    )


# --------------------------------------------------------------------------------------------------
# l2Book


@pytest.mark.parametrize("name", ["info_l2Book.json", "info_l2Book.sdk.json"])
def test_l2_book(name: str) -> None:
    raw = hl(name)
    assert parse_l2_book(raw).coin == raw["coin"]
    book = to_order_book(parse_l2_book(raw), raw["coin"])
    assert book.symbol == raw["coin"]
    assert book.bids == tuple((float(lv["px"]), float(lv["sz"])) for lv in raw["levels"][0])
    assert book.asks == tuple((float(lv["px"]), float(lv["sz"])) for lv in raw["levels"][1])
    assert book.time == utc_from_ms(raw["time"])
    assert [p for p, _ in book.bids] == sorted((p for p, _ in book.bids), reverse=True)
    assert [p for p, _ in book.asks] == sorted(p for p, _ in book.asks)
    assert book.bids[0][0] < book.asks[0][0]


def test_l2_book_values() -> None:
    book = to_order_book(parse_l2_book(hl("info_l2Book.json")), "BTC")
    assert book.bids[0] == (110427.0, 4.11882)
    assert book.asks[0] == (110428.0, 3.72573)
    assert len(book.bids) == len(book.asks) == 5


# --------------------------------------------------------------------------------------------------
# error hook


def test_error_hook() -> None:
    assert isinstance(hyperliquid_error_hook("hyperliquid", "l2Book", 200, None), InvalidSymbol)
    assert hyperliquid_error_hook("hyperliquid", "l2Book", 200, {"coin": "BTC"}) is None
    assert hyperliquid_error_hook("hyperliquid", "l2Book", 422, None) is None  # status-level: InvalidRequest
    assert hyperliquid_error_hook("hyperliquid", "l2Book", 429, None) is None


# --------------------------------------------------------------------------------------------------
# the provider: windows and unsupported requests without HTTP


class _RecordingClient:
    """Stands in for HyperliquidClient; records the windows asked for."""

    def __init__(self, candles: tuple[HyperliquidCandle, ...]) -> None:
        self.candles = candles
        self.calls: list[tuple[Any, ...]] = []

    async def candle_snapshot(
        self, coin: str, interval: str, start_ms: int, end_ms: int
    ) -> tuple[HyperliquidCandle, ...]:
        self.calls.append(("candleSnapshot", coin, interval, start_ms, end_ms))
        return self.candles

    async def funding_history(self, coin: str, start_ms: int) -> tuple[Any, ...]:
        self.calls.append(("fundingHistory", coin, start_ms))
        return parse_funding_history(hl("info_fundingHistory.nautilus.json"))


def _market(client: Any, clock: float = CLOCK_S) -> HyperliquidMarket:
    return HyperliquidMarket(client, clock=lambda: clock)


async def test_candle_window_ends_at_the_current_candle_close() -> None:
    candles = parse_candle_snapshot(hl("info_candleSnapshot.json"))
    client = _RecordingClient(candles)
    got = await _market(client).candles(BTC, CandleInterval.H4, 10)
    step = 4 * 3_600_000
    end = (1_700_000_000_500 // step + 1) * step
    assert client.calls == [("candleSnapshot", "BTC", "4h", end - 10 * step, end)]
    assert got == to_candles(candles)[-10:]
    # a second later the request (and so the cache key) is the same
    await _market(client, CLOCK_S + 1).candles(BTC, CandleInterval.H4, 10)
    assert client.calls[1] == client.calls[0]


async def test_funding_history_window_and_limit() -> None:
    client = _RecordingClient(())
    got = await _market(client).funding_history(BTC, 2)
    hour = 3_600_000
    assert client.calls == [("fundingHistory", "BTC", (1_700_000_000_500 // hour - 2) * hour)]
    assert [f.rate for f in got] == [-0.0000081, 0.0000033]  # the last two, oldest-first
    assert all(f.symbol == "BTCUSDT" and f.interval_hours == 1.0 for f in got)


async def test_empty_candles_mean_an_unknown_coin() -> None:
    with pytest.raises(InvalidSymbol):
        await _market(_RecordingClient(())).candles(parse_symbol("NOPE"), CandleInterval.H1, 5)


async def test_interval_without_a_hyperliquid_code() -> None:
    client = _RecordingClient(())
    assert CandleInterval.H6 not in INTERVALS
    with pytest.raises(IntervalNotSupported) as info:
        await _market(client).candles(BTC, CandleInterval.H6, 5)
    assert "6h" in str(info.value) and "12h" in str(info.value)
    assert client.calls == []  # rejected before any request


@pytest.mark.parametrize(
    ("capability", "call"),
    [
        (Capability.LIQUIDATIONS, lambda m: m.liquidations(BTC, 10)),
        (Capability.TRADES, lambda m: m.trades(BTC, 10)),
        (Capability.LONG_SHORT_RATIO, lambda m: m.long_short_ratio(BTC, CandleInterval.H4, 10)),
        (Capability.OPEN_INTEREST_HISTORY, lambda m: m.open_interest_history(BTC, CandleInterval.H4, 10)),
        (Capability.SOCIAL, lambda m: m.social(BTC)),
    ],
)
async def test_unsupported_capabilities(capability: Capability, call: Any) -> None:
    market = _market(_RecordingClient(()))
    assert not market.supports(capability)
    with pytest.raises(CapabilityNotSupported) as info:
        await call(market)
    assert info.value.capability is capability


def test_module_constants() -> None:
    assert DEFAULT_BASE_URL == "https://api.hyperliquid.xyz"
    assert 0 < RATE_LIMIT_PER_SECOND <= 1.0
    assert HyperliquidMarket.capabilities == frozenset(
        {
            Capability.TICKER,
            Capability.CANDLES,
            Capability.FUNDING,
            Capability.FUNDING_HISTORY,
            Capability.OPEN_INTEREST,
            Capability.ORDER_BOOK,
            Capability.INSTRUMENTS,
        }
    )


# --------------------------------------------------------------------------------------------------
# end to end over real HTTP: replay server, ProviderDeps, build()


def _entry(match: Mapping[str, Any], body: Any, status: int = 200) -> dict[str, Any]:
    return {"provider": "hyperliquid", "method": "POST", "path": "/info", "match": dict(match), "status": status,
            "body": body}  # fmt: skip


@contextlib.asynccontextmanager
async def _replayed(entries: list[dict[str, Any]]) -> AsyncIterator[tuple[ProviderDeps, ReplayApp]]:
    replay = ReplayApp(Cassette.model_validate({"version": 1, "clock": int(CLOCK_S * 1000), "http": entries}))
    client = UpstreamClient()
    cache = MemoryCache()

    def factory(
        provider: str, base_url: str, error_hook: ErrorHook | None, headers: Mapping[str, str] | None
    ) -> ProviderHttp:
        return ProviderHttp(
            provider,
            client,
            base_url,
            cache=cache,
            timeout_seconds=2,
            retry=RetryPolicy(attempts=2, max_wait_seconds=0.1),
            headers=headers,
            keyed=bool(headers),
            error_hook=error_hook,
        )

    try:
        async with serve_in_background(replay.app) as server:
            yield (
                ProviderDeps(
                    base_urls={"hyperliquid": f"{server.base_url}/hyperliquid"},
                    keys={},
                    ttls=CacheTtls(),
                    cache=cache,
                    http_factory=factory,
                ),
                replay,
            )
    finally:
        await client.aclose()


async def test_end_to_end_over_replay() -> None:
    meta = hl("info_metaAndAssetCtxs.json")
    candles = hl("info_candleSnapshot.json")
    funding = hl("info_fundingHistory.nautilus.json")
    book = hl("info_l2Book.json")
    entries = [
        _entry({"type": "metaAndAssetCtxs"}, meta),
        _entry({"type": "candleSnapshot"}, candles),
        _entry({"type": "fundingHistory", "coin": "BTC"}, funding),
        _entry({"type": "l2Book", "coin": "BTC"}, book),
        _entry({"type": "l2Book", "coin": "NOPE"}, None),
        _entry({"type": "fundingHistory", "coin": "BAD"}, "Failed to deserialize the JSON body", status=422),
    ]
    async with _replayed(entries) as (deps, replay):
        built = build(deps)
        assert isinstance(built, HyperliquidMarket)
        assert isinstance(built.raw, HyperliquidClient)
        provider = HyperliquidMarket(built.raw, clock=lambda: CLOCK_S)  # a fixed "now"
        btc_ctx = meta[1][0]
        mark = float(btc_ctx["markPx"])

        rate = await provider.funding(BTC)
        assert rate.symbol == "BTCUSDT"
        assert rate.rate == float(btc_ctx["funding"]) == 0.0000125  # fraction per hour
        assert rate.interval_hours == 1.0
        assert rate.rate_8h_equivalent == pytest.approx(8 * 0.0000125)
        assert rate.mark_price == mark
        assert rate.time == utc_from_ms(1_700_000_000_500)
        assert rate.next_funding_time == datetime(2023, 11, 14, 23, 0, tzinfo=UTC)

        oi = await provider.open_interest(BTC)
        assert oi.coins == float(btc_ctx["openInterest"]) == 688.11
        assert oi.usd == pytest.approx(688.11 * 14.3161)

        ticker = await provider.ticker(BTC)
        prev = float(btc_ctx["prevDayPx"])
        assert ticker.symbol == "BTCUSDT"
        assert ticker.last_price == mark
        assert ticker.price_change_pct == pytest.approx((mark - prev) / prev * 100.0)
        assert ticker.quote_volume == float(btc_ctx["dayNtlVlm"])
        last_day = sorted(candles, key=lambda r: r["t"])[-24:]
        assert ticker.high == max(float(r["h"]) for r in last_day)
        assert ticker.low == min(float(r["l"]) for r in last_day)
        assert ticker.volume == pytest.approx(sum(float(r["v"]) for r in last_day))  # no dayBaseVlm here

        got = await provider.candles(BTC, CandleInterval.H1, 5)
        assert [c.open_time for c in got] == [utc_from_ms(r["t"]) for r in sorted(candles, key=lambda r: r["t"])[-5:]]

        history = await provider.funding_history(BTC, 3)
        assert [f.rate for f in history] == [float(r["fundingRate"]) for r in funding]
        assert all(f.interval_hours == 1.0 for f in history)

        ob = await provider.order_book(BTC, 2)
        assert isinstance(ob, OrderBook)
        assert ob.symbol == "BTCUSDT"
        assert ob.bids == ((110427.0, 4.11882), (110426.0, 0.31694))
        assert ob.asks == ((110428.0, 3.72573), (110430.0, 0.03586))

        # a coin missing from the universe, a null l2Book, a 422 (not retried)
        with pytest.raises(InvalidSymbol):
            await provider.funding(parse_symbol("DOGE"))
        with pytest.raises(InvalidSymbol):
            await provider.order_book(parse_symbol("NOPE"), 5)
        before = replay.calls["hyperliquid POST /info"]
        with pytest.raises(InvalidRequest) as info:
            await provider.funding_history(parse_symbol("BAD"), 5)
        assert info.value.status == 422
        assert not isinstance(info.value, MalformedPayload)
        assert replay.calls["hyperliquid POST /info"] == before + 1

        # ticker, funding, OI and the DOGE lookup share one cached metaAndAssetCtxs read:
        # meta 1 + candles 2 (24 h and 5 h windows) + fundingHistory 2 + l2Book 2
        assert replay.calls["hyperliquid POST /info"] == 7
