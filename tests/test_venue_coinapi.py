"""CoinAPI: parsers over the provider-published examples in ``shared/fixtures/coinapi`` (NEWEST-FIRST
``/latest`` series must come out oldest-first), the error hook (550 "no data" is an unknown symbol, not
an outage), the keyed ``build``, and the provider end to end over real HTTP against the replay server.
"""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from engine.market import CandleInterval
from providers.cache import MemoryCache
from providers.coinapi.domain import parse_ohlcv, parse_order_book, parse_trades
from providers.coinapi.models import CoinApiExchangeRate, CoinApiQuote, parse_time
from providers.coinapi.raw import CoinApiClient, coinapi_error_hook
from providers.coinapi.venue import DEFAULT_BASE_URL, KEY_SETTING, PERIODS, RATE_LIMIT_PER_SECOND, CoinApiMarket, build
from providers.config import CacheTtls
from providers.errors import AuthenticationFailed, InvalidRequest, InvalidSymbol, RateLimited
from providers.replay import Cassette, ReplayApp
from providers.symbols import parse_symbol
from providers.venue import Capability, CapabilityNotSupported, ProviderDeps
from tests.providers_helpers import fixture_json, served_deps

if TYPE_CHECKING:
    import contextlib
    from collections.abc import Mapping

    from starlette.requests import Request

    from providers.http import ErrorHook, ProviderHttp

BTC = parse_symbol("BTC")
SYMBOL_ID = "BINANCEFTS_PERP_BTC_USDT"
KEY = "73034021-THIS-IS-SAMPLE-KEY"  # the docs' sample key


def ca(name: str) -> Any:
    return fixture_json("coinapi", name)


# --------------------------------------------------------------------------------------------------
# parsers


def test_parse_time_keeps_seven_digit_fractions_as_utc() -> None:
    assert parse_time("2017-08-09T14:31:01.0000000Z") == datetime(2017, 8, 9, 14, 31, 1, tzinfo=UTC)
    assert parse_time("2025-05-13T06:03:48.6878017Z") == datetime(2025, 5, 13, 6, 3, 48, 687801, tzinfo=UTC)
    with pytest.raises(ValueError, match="without a zone"):
        parse_time("2017-08-09T14:31:01")


def test_ohlcv_latest_newest_first_comes_out_oldest_first() -> None:
    raw = ca("v1_ohlcv_symbol_latest.json")
    assert raw[0]["time_period_start"] > raw[-1]["time_period_start"]  # the wire is newest-first
    candles = parse_ohlcv(raw)
    times = [c.open_time for c in candles]
    assert all(a < b for a, b in itertools.pairwise(times))
    first, last = raw[-1], raw[0]
    assert candles[0].open_time == parse_time(first["time_period_start"]) == datetime(2017, 8, 9, 14, 30, tzinfo=UTC)
    assert (candles[0].open, candles[0].high, candles[0].low, candles[0].close, candles[0].volume) == (
        3256.0,
        3256.01,
        3247.0,
        3255.6,
        58.13139792,
    )
    assert candles[-1].close == last["price_close"] == 3244.74
    assert candles[-1].volume == 16.90327455


def test_ohlcv_history_is_already_oldest_first() -> None:
    raw = ca("v1_ohlcv_symbol_history.json")
    candles = parse_ohlcv(raw)
    assert [c.open_time for c in candles] == [parse_time(r["time_period_start"]) for r in raw]
    assert [c.close for c in candles] == [997.75, 1012.54]
    assert candles[1].high == 1032.0 and candles[1].low == 990.01
    assert parse_ohlcv(list(reversed(raw))) == candles


def test_ohlcv_out_of_order_rows_are_sorted() -> None:
    history, latest = ca("v1_ohlcv_symbol_history.json"), ca("v1_ohlcv_symbol_latest.json")
    mixed = [latest[1], history[0], latest[0], history[1]]
    candles = parse_ohlcv(mixed)
    assert [c.close for c in candles] == [997.75, 1012.54, 3255.6, 3244.74]


def test_trades_come_out_oldest_first_whatever_the_wire_order() -> None:
    raw = ca("v1_trades_symbol_latest.json")
    trades = parse_trades(raw, "BTCUSDT")
    times = [t.time for t in trades]
    assert all(a < b for a, b in itertools.pairwise(times))
    assert trades[0].time == parse_time("2013-09-28T22:40:50.0000000Z")
    assert [t.taker_side for t in trades] == ["BUY", "SELL"]
    assert [(t.price, t.size) for t in trades] == [(770.0, 0.05), (770.0, 0.05)]
    assert all(t.venue == "coinapi" and t.symbol == "BTCUSDT" for t in trades)
    # the live endpoint answers newest-first: reversed input, same oldest-first output
    newest_first = list(reversed(raw))
    again = parse_trades(newest_first, "BTCUSDT")
    assert again == trades
    assert again[0].time == parse_time(newest_first[-1]["time_exchange"])


def test_trades_in_the_same_tick_keep_chronological_order() -> None:
    row = ca("v1_trades_symbol_latest.json")[0]
    older = {**row, "size": 1.0}
    newer = {**row, "size": 2.0}  # same time_exchange
    latest = {**row, "time_exchange": "2013-09-28T22:40:51.0000000Z", "size": 3.0}
    trades = parse_trades([latest, newer, older], "BTCUSDT")  # newest-first, as the endpoint answers
    assert [t.size for t in trades] == [1.0, 2.0, 3.0]


def test_trade_sides_estimated_and_unknown() -> None:
    raw = copy.deepcopy(ca("v1_trades_symbol_latest.json"))
    raw[0]["taker_side"] = "SELL_ESTIMATED"
    raw[1]["taker_side"] = "UNKNOWN"
    trades = parse_trades(raw, "BTCUSDT")
    assert [t.taker_side for t in trades] == ["SELL"]
    raw[1]["taker_side"] = "BUY_ESTIMATED"
    assert [t.taker_side for t in parse_trades(raw, "BTCUSDT")] == ["SELL", "BUY"]


def test_order_book_current() -> None:
    raw = ca("v1_orderbooks_symbol_current.json")
    book = parse_order_book(raw, "BTCUSDT")
    assert book.symbol == "BTCUSDT"
    assert book.asks == ((272.89, 1.0), (272.9, 18.0))
    assert book.bids == ((272.83, 18.0), (272.83, 0.64185083))
    assert book.time == parse_time(raw["time_exchange"])


def test_order_book_levels_are_sorted_best_first() -> None:
    raw = ca("v1_orderbooks_symbol_latest.json")[0]  # the /latest form: a list of snapshots
    shuffled = {**raw, "asks": list(reversed(raw["asks"])), "bids": list(reversed(raw["bids"]))}
    book = parse_order_book(shuffled, "BTCUSDT")
    assert book.bids == ((456.1, 42.0), (456.09, 5.0))
    assert book.asks == ((456.35, 123.0), (456.36, 23.0))


@pytest.mark.parametrize("name", ["v1_quotes_symbol_current.json", "v1_quotes_current.json"])
def test_quote_current(name: str) -> None:
    raw = ca(name)
    for payload in (raw, raw[0]):  # the docs example is a list; the live answer an object
        quote = CoinApiQuote.model_validate(payload)
        assert quote.symbol_id == "BITSTAMP_SPOT_BTC_USD"
        assert (quote.bid_price, quote.bid_size, quote.ask_price, quote.ask_size) == (760.0, 124.0, 770.0, 3252.0)
        assert quote.time == parse_time("2013-09-28T22:40:50.0000000Z")


def test_exchange_rate() -> None:
    rate = CoinApiExchangeRate.model_validate(ca("v1_exchangerate_base_quote.json"))
    assert (rate.base, rate.quote, rate.rate) == ("BTC", "USD", 10000.0)
    assert rate.time == datetime(2025, 5, 13, 6, 3, 48, 687801, tzinfo=UTC)


def test_missing_field_is_an_error() -> None:
    raw = copy.deepcopy(ca("v1_ohlcv_symbol_latest.json"))
    del raw[0]["price_close"]
    with pytest.raises(ValueError, match="price_close"):
        parse_ohlcv(raw)


# --------------------------------------------------------------------------------------------------
# error hook, build, constants


def test_error_hook() -> None:
    no_data = coinapi_error_hook("coinapi", "ohlcv.latest", 550, {"error": "No data"})
    assert isinstance(no_data, InvalidSymbol) and "No data" in no_data.message
    assert isinstance(coinapi_error_hook("coinapi", "x", 401, {"error": "Invalid API key"}), AuthenticationFailed)
    assert isinstance(coinapi_error_hook("coinapi", "x", 403, {"message": "Forbidden"}), AuthenticationFailed)
    assert coinapi_error_hook("coinapi", "x", 429, {"error": "Too many requests"}) is None  # keeps Retry-After
    assert coinapi_error_hook("coinapi", "x", 400, {"error": "bad period"}) is None  # status-level InvalidRequest
    assert coinapi_error_hook("coinapi", "x", 200, []) is None


def _never_called(
    provider: str, base_url: str, error_hook: ErrorHook | None, headers: Mapping[str, str] | None
) -> ProviderHttp:
    raise AssertionError("no HTTP client without a key")


@pytest.mark.parametrize("keys", [{}, {"coinapi": None}, {"coinapi": ""}])
def test_build_without_a_key_is_disabled(keys: dict[str, str | None]) -> None:
    deps = ProviderDeps(
        base_urls={"coinapi": DEFAULT_BASE_URL},
        keys=keys,
        ttls=CacheTtls(),
        cache=MemoryCache(),
        http_factory=_never_called,
    )
    assert build(deps) is None


def test_module_constants() -> None:
    assert KEY_SETTING == "COINAPI_API_KEY"
    assert DEFAULT_BASE_URL == "https://rest.coinapi.io"
    assert 0 < RATE_LIMIT_PER_SECOND <= 1.0
    assert PERIODS[CandleInterval.H1] == "1HRS" and PERIODS[CandleInterval.W1] == "7DAY"
    assert CoinApiMarket.keyed
    assert CoinApiMarket.capabilities == frozenset({Capability.CANDLES, Capability.ORDER_BOOK, Capability.TRADES})


# --------------------------------------------------------------------------------------------------
# end to end over real HTTP


def _deps_for(app: Any, keys: Mapping[str, str | None]) -> contextlib.AbstractAsyncContextManager[ProviderDeps]:
    return served_deps(app, "coinapi", keys)


def _entry(path: str, body: Any, match: Mapping[str, str] | None = None, status: int = 200) -> dict[str, Any]:
    return {"provider": "coinapi", "method": "GET", "path": path, "match": dict(match or {}), "status": status,
            "body": body}  # fmt: skip


async def test_end_to_end_over_replay() -> None:
    latest = ca("v1_ohlcv_symbol_latest.json")
    trades = ca("v1_trades_symbol_latest.json")
    cassette = Cassette.model_validate(
        {
            "version": 1,
            "clock": 1502289120000,
            "http": [
                _entry(f"/v1/ohlcv/{SYMBOL_ID}/latest", latest, {"period_id": "1MIN"}),
                _entry(f"/v1/trades/{SYMBOL_ID}/latest", list(reversed(trades))),  # live order: newest-first
                _entry(f"/v1/orderbooks/{SYMBOL_ID}/current", ca("v1_orderbooks_symbol_current.json")),
                _entry(f"/v1/quotes/{SYMBOL_ID}/current", ca("v1_quotes_symbol_current.json")),
                _entry("/v1/exchangerate/BTC/USD", ca("v1_exchangerate_base_quote.json")),
                _entry("/v1/ohlcv/BINANCEFTS_PERP_NOPE_USDT/latest", {"error": "No data"}, status=550),
                _entry("/v1/trades/BINANCEFTS_PERP_BUSY_USDT/latest", {"error": "Too many requests"}, status=429),
                _entry("/v1/ohlcv/BINANCEFTS_PERP_BAD_USDT/latest", {"error": "Invalid period_id"}, status=400),
            ],
        }
    )
    replay = ReplayApp(cassette)
    async with _deps_for(replay.app, {"coinapi": KEY}) as deps:
        provider = build(deps)
        assert isinstance(provider, CoinApiMarket)

        candles = await provider.candles(BTC, CandleInterval.M1, 2)
        assert [c.open_time for c in candles] == [parse_time(r["time_period_start"]) for r in reversed(latest)]
        assert candles[0].close == latest[-1]["price_close"]

        got = await provider.trades(BTC, 2)
        assert [t.time for t in got] == [parse_time(r["time_exchange"]) for r in trades]
        assert got[0].taker_side == "BUY"

        book = await provider.order_book(BTC, 1)
        assert book.symbol == "BTCUSDT"
        assert book.bids == ((272.83, 18.0),) and book.asks == ((272.89, 1.0),)

        assert isinstance(provider.raw, CoinApiClient)
        quote = await provider.raw.quote_current(SYMBOL_ID)
        assert quote.ask_price == 770.0
        rate = await provider.raw.exchange_rate("BTC", "USD")
        assert rate.rate == 10000.0

        with pytest.raises(InvalidSymbol) as no_data:
            await provider.candles(parse_symbol("NOPE"), CandleInterval.M1, 2)
        assert no_data.value.status == 550
        with pytest.raises(RateLimited):
            await provider.trades(parse_symbol("BUSY"), 5)
        with pytest.raises(InvalidRequest) as bad:
            await provider.candles(parse_symbol("BAD"), CandleInterval.M1, 2)
        assert not isinstance(bad.value, InvalidSymbol)

        # 550 and 400 are not retried; 429 is (two attempts)
        assert replay.calls["coinapi GET /v1/ohlcv/BINANCEFTS_PERP_NOPE_USDT/latest"] == 1
        assert replay.calls["coinapi GET /v1/ohlcv/BINANCEFTS_PERP_BAD_USDT/latest"] == 1
        assert replay.calls["coinapi GET /v1/trades/BINANCEFTS_PERP_BUSY_USDT/latest"] == 2

        with pytest.raises(CapabilityNotSupported):
            await provider.funding(BTC)
        with pytest.raises(CapabilityNotSupported):
            await provider.ticker(BTC)


async def test_key_header_is_sent_and_a_bad_key_is_fatal() -> None:
    seen: list[str | None] = []

    async def ohlcv(request: Request) -> JSONResponse:
        key = request.headers.get("X-CoinAPI-Key")
        seen.append(key)
        if key != KEY:
            return JSONResponse({"error": "Invalid API key"}, status_code=401)
        assert request.query_params["period_id"] == "4HRS" and request.query_params["limit"] == "2"
        return JSONResponse(ca("v1_ohlcv_symbol_latest.json"))

    app = Starlette(routes=[Route(f"/coinapi/v1/ohlcv/{SYMBOL_ID}/latest", ohlcv)])
    async with _deps_for(app, {"coinapi": KEY}) as deps:
        provider = build(deps)
        assert provider is not None
        assert len(await provider.candles(BTC, CandleInterval.H4, 2)) == 2
    async with _deps_for(app, {"coinapi": "wrong"}) as deps:
        provider = build(deps)
        assert provider is not None
        with pytest.raises(AuthenticationFailed):
            await provider.candles(BTC, CandleInterval.H4, 2)
    assert seen == [KEY, "wrong"]  # the bad key was not retried
