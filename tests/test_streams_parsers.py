"""Stream parsers on every real WebSocket capture in ``../shared/fixtures`` (exact values, side mapping)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.market import CandleInterval, CandleUpdate, Liquidation, PositionSide, Trade, utc_from_ms
from providers.binance.streams import parse_message as parse_binance
from providers.bybit.streams import parse_message as parse_bybit
from providers.hyperliquid.streams import parse_trades as parse_hyperliquid_trades
from providers.okx.streams import okx_parser
from tests.providers_helpers import fixture_json

RECEIVED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_binance_force_order_combined_sell_side_is_short_for_buy_order() -> None:
    (liq,) = parse_binance(fixture_json("binance", "ws_forceOrder.json"), RECEIVED)
    assert liq == Liquidation(
        venue="binance",
        symbol="BTCUSDT",
        side=PositionSide.SHORT,  # o.S == "BUY": the order closed a short
        price=4706.04,
        size=0.014,
        time=utc_from_ms(1584059031421),
        received_at=RECEIVED,
    )


def test_binance_force_order_bare_sell_order_liquidated_a_long() -> None:
    (liq,) = parse_binance(fixture_json("binance", "ws_forceOrder.docs.json"), RECEIVED)
    assert isinstance(liq, Liquidation)
    assert liq.side is PositionSide.LONG  # o.S == "SELL"
    assert (liq.symbol, liq.price, liq.size) == ("BTCUSDT", 9910.12345678, 0.014)
    assert liq.time == utc_from_ms(1568014460893)
    assert liq.received_at == RECEIVED


def test_binance_force_order_coin_m_is_rejected() -> None:
    with pytest.raises(ValueError, match="COIN-M"):
        parse_binance(fixture_json("binance", "ws_forceOrder.coinm.json"), RECEIVED)


@pytest.mark.parametrize(
    ("name", "symbol", "taker", "price", "size", "time_ms"),
    [
        ("ws_aggTrade.json", "CTKUSDT", "BUY", 1.011, 10.0, 1626992741421),
        ("ws_aggTrade.btcusdt.json", "BTCUSDT", "BUY", 10223.74, 0.236, 1568693103463),
        ("ws_aggTrade.docs.json", "BTCUSDT", "SELL", 0.001, 100.0, 123456785),  # m true: the taker sold
    ],
)
def test_binance_agg_trade(name: str, symbol: str, taker: str, price: float, size: float, time_ms: int) -> None:
    (trade,) = parse_binance(fixture_json("binance", name), RECEIVED)
    assert trade == Trade("binance", symbol, taker, price, size, utc_from_ms(time_ms), RECEIVED)


def test_binance_agg_trade_many_in_order_with_maker_flag() -> None:
    messages = fixture_json("binance", "ws_aggTrade.many.json")
    trades = [t for m in messages for t in parse_binance(m, RECEIVED)]
    assert len(trades) == len(messages)
    for message, trade in zip(messages, trades, strict=True):
        assert isinstance(trade, Trade)
        assert trade.taker_side == ("SELL" if message["data"]["m"] else "BUY")
        assert trade.price == float(message["data"]["p"])
    second = trades[1]
    assert isinstance(second, Trade)
    assert second.taker_side == "SELL" and second.symbol == "AKROUSDT"  # second capture: m true


def test_binance_kline_closed() -> None:
    (update,) = parse_binance(fixture_json("binance", "ws_kline.json"), RECEIVED)
    assert isinstance(update, CandleUpdate)
    assert (update.venue, update.symbol, update.interval, update.closed) == (
        "binance",
        "SUSHIUSDT",
        CandleInterval.M1,
        True,
    )
    c = update.candle
    assert (c.open, c.high, c.low, c.close, c.volume, c.quote_volume) == (7.608, 7.618, 7.607, 7.617, 3005.0, 22875.859)
    assert c.open_time == utc_from_ms(1626992700000)
    assert update.received_at == RECEIVED


def test_binance_kline_docs_and_many_open_candles() -> None:
    (docs,) = parse_binance(fixture_json("binance", "ws_kline.docs.json"), RECEIVED)
    assert isinstance(docs, CandleUpdate) and docs.closed and docs.candle.high == 0.0025
    many = [u for m in fixture_json("binance", "ws_kline.many.json") for u in parse_binance(m, RECEIVED)]
    first = many[0]
    assert isinstance(first, CandleUpdate)
    assert (first.symbol, first.closed, first.candle.close, first.candle.volume) == ("CTKUSDT", False, 1.011, 3917.0)


def test_bybit_all_liquidation_sell_is_short() -> None:
    (liq,) = parse_bybit(fixture_json("bybit", "ws_allLiquidation.json"), RECEIVED)
    assert liq == Liquidation(
        venue="bybit",
        symbol="PIPPINUSDT",
        side=PositionSide.SHORT,  # S is the POSITION side: Sell = a short was liquidated
        price=0.02456,
        size=2846.0,
        time=utc_from_ms(1740480207110),
        received_at=RECEIVED,
    )
    (other,) = parse_bybit(fixture_json("bybit", "ws_allLiquidation.jkorf.json"), RECEIVED)
    assert isinstance(other, Liquidation)
    assert (other.symbol, other.side, other.size, other.price) == ("ETHUSDT", PositionSide.SHORT, 20000.0, 0.04499)


def test_bybit_all_liquidation_buy_is_long() -> None:
    message = fixture_json("bybit", "ws_allLiquidation.json")
    message["data"][0]["S"] = "Buy"
    (liq,) = parse_bybit(message, RECEIVED)
    assert isinstance(liq, Liquidation) and liq.side is PositionSide.LONG


def test_bybit_legacy_liquidation() -> None:
    (docs,) = parse_bybit(fixture_json("bybit", "ws_liquidation.docs.json"), RECEIVED)
    assert docs == Liquidation(
        "bybit", "GALAUSDT", PositionSide.LONG, 0.03803, 1637.0, utc_from_ms(1673251091822), RECEIVED
    )
    (inverse,) = parse_bybit(fixture_json("bybit", "ws_liquidation.json"), RECEIVED)
    assert isinstance(inverse, Liquidation)
    assert (inverse.symbol, inverse.side, inverse.price) == ("XRPUSD", PositionSide.SHORT, 0.5149)
    assert inverse.size == pytest.approx(6949 / 0.5149)  # inverse: USD contracts → coins


@pytest.mark.parametrize(
    ("name", "symbol", "price", "size", "time_ms"),
    [
        ("ws_publicTrade.json", "LTCUSDT", 94.53, 0.4, 1680688979983),
        ("ws_publicTrade.docs.json", "BTCUSDT", 16578.5, 0.001, 1672304486865),
    ],
)
def test_bybit_public_trade(name: str, symbol: str, price: float, size: float, time_ms: int) -> None:
    (trade,) = parse_bybit(fixture_json("bybit", name), RECEIVED)
    assert trade == Trade("bybit", symbol, "BUY", price, size, utc_from_ms(time_ms), RECEIVED)


def test_bybit_kline() -> None:
    (update,) = parse_bybit(fixture_json("bybit", "ws_kline.docs.json"), RECEIVED)
    assert isinstance(update, CandleUpdate)
    assert (update.symbol, update.interval, update.closed) == ("BTCUSDT", CandleInterval.M5, False)
    c = update.candle
    assert (c.open, c.high, c.low, c.close, c.volume, c.quote_volume) == (
        16649.5,
        16677.0,
        16608.0,
        16677.0,
        2.081,
        34666.4005,
    )
    assert c.open_time == utc_from_ms(1672324800000)


def test_bybit_acks_and_pongs_are_not_data() -> None:
    assert parse_bybit({"success": True, "ret_msg": "", "op": "subscribe", "conn_id": "x"}, RECEIVED) == ()
    assert parse_bybit({"success": True, "ret_msg": "pong", "op": "ping"}, RECEIVED) == ()


def test_okx_liquidation_orders_contracts_times_ctval() -> None:
    parse = okx_parser({"XRP-USD-230929": 10.0}.__getitem__)
    (liq,) = parse(fixture_json("okx", "ws_liquidation_orders.json"), RECEIVED)
    assert liq == Liquidation(
        venue="okx",
        symbol="XRPUSD230929",
        side=PositionSide.SHORT,  # posSide short
        price=0.55205,
        size=390.0,  # 39 contracts × 10
        time=utc_from_ms(1680173247614),
        received_at=RECEIVED,
    )


@pytest.mark.parametrize(
    ("pos_side", "side", "expected"),
    [("net", "sell", "LONG"), ("", "buy", "SHORT"), (None, "sell", "LONG"), ("long", "sell", "LONG")],
)
def test_okx_liquidation_side_rules(pos_side: str | None, side: str, expected: str) -> None:
    message = fixture_json("okx", "ws_liquidation_orders.json")
    detail = message["data"][0]["details"][0]
    detail["side"] = side
    if pos_side is None:
        del detail["posSide"]
    else:
        detail["posSide"] = pos_side
    (liq,) = okx_parser(lambda _inst: 1.0)(message, RECEIVED)
    assert isinstance(liq, Liquidation) and liq.side is PositionSide(expected)


def test_okx_trades_swap_spot_and_many() -> None:
    parse = okx_parser({"UNI-USD-SWAP": 10.0, "BTC-USD-220527": 100.0}.__getitem__)
    (swap,) = parse(fixture_json("okx", "ws_trades.json"), RECEIVED)
    assert swap == Trade("okx", "UNIUSD", "SELL", 5.123, 1000.0, utc_from_ms(1652459215150), RECEIVED)
    (spot,) = parse(fixture_json("okx", "ws_trades.docs.json"), RECEIVED)  # spot: sz already coins
    assert spot == Trade("okx", "BTCUSD", "BUY", 42219.9, 0.12060306, utc_from_ms(1630048897897), RECEIVED)
    messages = fixture_json("okx", "ws_trades.many.json")
    seen = {m["data"][0]["instId"] for m in messages}
    lookup = dict.fromkeys(seen, 2.0)
    trades = [t for m in messages for t in okx_parser(lookup.__getitem__)(m, RECEIVED)]
    first = trades[0]
    assert isinstance(first, Trade)
    assert (first.symbol, first.taker_side, first.price, first.size) == ("BTCUSD220527", "BUY", 30218.8, 2.0)
    assert okx_parser(lookup.__getitem__)("pong", RECEIVED) == ()
    assert okx_parser(lookup.__getitem__)({"event": "subscribe", "arg": {"channel": "trades"}}, RECEIVED) == ()


def test_hyperliquid_trades() -> None:
    trades = parse_hyperliquid_trades(fixture_json("hyperliquid", "ws_trades.json"), RECEIVED)
    assert [t.size for t in trades] == [0.38111, 0.33458, 0.83613]
    assert trades[0] == Trade("hyperliquid", "BTCUSDT", "BUY", 69997.0, 0.38111, utc_from_ms(1730160006192), RECEIVED)
    (hype,) = parse_hyperliquid_trades(fixture_json("hyperliquid", "ws_trades.jkorf.json"), RECEIVED)
    assert (hype.symbol, hype.taker_side, hype.price, hype.size) == ("HYPEUSDT", "BUY", 35.276, 5.78)
    many = [
        t for m in fixture_json("hyperliquid", "ws_trades.many.json") for t in parse_hyperliquid_trades(m, RECEIVED)
    ]
    assert (many[0].symbol, many[0].taker_side, many[0].price, many[0].size) == ("FXSUSDT", "SELL", 1.9008, 10.5)
    assert parse_hyperliquid_trades({"channel": "subscriptionResponse", "data": {}}, RECEIVED) == ()
    assert parse_hyperliquid_trades({"channel": "pong"}, RECEIVED) == ()
