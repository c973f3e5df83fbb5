"""Pure parsers: one venue WebSocket message (already JSON-decoded) → a tuple of normalized events.

Every parser takes the decoded message and ``received_at`` (our receipt time, read from the caller's
clock: a parser never reads a clock) and returns ``Liquidation`` / ``Trade`` / ``CandleUpdate`` events
of :mod:`engine.market`, each carrying the venue's event time (``time`` / ``candle.open_time``) and
``received_at``. Messages that carry no market data (subscription acks, pongs, errors, non-JSON text
such as OKX's ``"pong"``) give an empty tuple. A data message of the right channel with a missing or
malformed field raises ``KeyError`` / ``ValueError`` / ``TypeError``: the connection counts it as a
parse error and goes on.

Liquidation side, decided once here (REFERENCE §2 defect 9), always the liquidated *position*:

- Binance ``forceOrder``: ``o.S`` is the liquidation ORDER's side; ``SELL`` closes a long ⇒ LONG.
- Bybit ``allLiquidation`` and legacy ``liquidation``: ``S`` / ``side`` is the POSITION side per Bybit's
  docs ("when you receive a Buy update, this means that a long position has been liquidated") ⇒
  ``Buy`` = LONG.
- OKX ``liquidation-orders``: ``posSide`` long/short when given; in net mode (``net`` / empty) the order
  ``side`` decides: ``sell`` closes a long ⇒ LONG.

Sizes are coins: Binance/Bybit linear quantities already are; OKX contract sizes (SWAP / FUTURES) are
multiplied by ``ctVal`` from the caller's lookup; Bybit *inverse* sizes (``XRPUSD``: contracts of 1 USD)
are divided by the price. Binance COIN-M (``BTCUSD_200925``, contracts of 10/100 USD) is not a USD-M
stream and is rejected with ``ValueError``. Symbols are canonical (``BTCUSDT``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from engine.market import (
    Candle,
    CandleInterval,
    CandleUpdate,
    Liquidation,
    PositionSide,
    Trade,
    utc_from_ms,
)

if TYPE_CHECKING:
    from datetime import datetime

Event: TypeAlias = Liquidation | Trade | CandleUpdate
Parser: TypeAlias = "Callable[[Any, datetime], tuple[Event, ...]]"
ContractValue: TypeAlias = Callable[[str], float]  # OKX instId → coins per contract (ctVal)


# --------------------------------------------------------------------------------------------- Binance


def _binance_unwrap(message: Any) -> dict[str, Any] | None:
    """Combined streams wrap the payload as ``{"stream": "btcusdt@aggTrade", "data": {...}}``."""
    if not isinstance(message, dict):
        return None
    data = message.get("data", message) if "stream" in message else message
    return data if isinstance(data, dict) else None


def _binance_usdm_symbol(symbol: str) -> str:
    if "_" in symbol:
        raise ValueError(f"{symbol}: a COIN-M contract, not a USD-M perpetual")
    return symbol.upper()


def parse_binance_force_order(message: Any, received_at: datetime) -> tuple[Liquidation, ...]:
    """``<symbol>@forceOrder`` / ``!forceOrder@arr``, bare or combined-stream wrapped.

    Sample (combined stream, live capture)::

        {"stream": "btcusdt@forceOrder", "data": {
          "e": "forceOrder", "E": 1584059031426,   # event type, event time (ms)
          "o": {"s": "BTCUSDT",                      # symbol
                "S": "BUY",                          # liquidation ORDER side: BUY closes a SHORT
                "o": "LIMIT", "f": "IOC",
                "q": "0.014",                        # original quantity (coins)
                "p": "4793.91",                      # order price
                "ap": "4706.04",                     # average fill price
                "X": "FILLED", "l": "0.015",
                "z": "0.014",                        # accumulated filled quantity (coins)
                "T": 1584059031421}}}                # trade time (ms)

    Size is the filled quantity ``z`` (``q`` when absent), price the average fill ``ap`` (``p`` when 0).
    """
    data = _binance_unwrap(message)
    if data is None or data.get("e") != "forceOrder":
        return ()
    order = data["o"]
    side = {"SELL": PositionSide.LONG, "BUY": PositionSide.SHORT}[order["S"]]
    price = float(order.get("ap") or 0) or float(order["p"])
    return (
        Liquidation(
            venue="binance",
            symbol=_binance_usdm_symbol(order["s"]),
            side=side,
            price=price,
            size=float(order.get("z") or order["q"]),
            time=utc_from_ms(order["T"]),
            received_at=received_at,
        ),
    )


def parse_binance_agg_trade(message: Any, received_at: datetime) -> tuple[Trade, ...]:
    """``<symbol>@aggTrade``, bare or combined-stream wrapped.

    Sample (live capture)::

        {"stream": "ctkusdt@aggTrade", "data": {
          "e": "aggTrade", "E": 1626992741575, "a": 16599292,
          "s": "CTKUSDT", "p": "1.01100", "q": "10",   # symbol, price, quantity (coins)
          "f": 23961322, "l": 23961322,
          "T": 1626992741421,                          # trade time (ms)
          "m": false}}                                 # buyer is the maker? true ⇒ the taker SOLD
    """
    data = _binance_unwrap(message)
    if data is None or data.get("e") != "aggTrade":
        return ()
    buyer_is_maker = data["m"]
    if not isinstance(buyer_is_maker, bool):
        raise TypeError(f"aggTrade m={buyer_is_maker!r} is not a boolean")
    return (
        Trade(
            venue="binance",
            symbol=_binance_usdm_symbol(data["s"]),
            taker_side="SELL" if buyer_is_maker else "BUY",
            price=float(data["p"]),
            size=float(data["q"]),
            time=utc_from_ms(data["T"]),
            received_at=received_at,
        ),
    )


def parse_binance_kline(message: Any, received_at: datetime) -> tuple[CandleUpdate, ...]:
    """``<symbol>@kline_<interval>``, bare or combined-stream wrapped.

    Sample (live capture)::

        {"stream": "sushiusdt@kline_1m", "data": {"e": "kline", "E": 1626992760203, "s": "SUSHIUSDT",
          "k": {"t": 1626992700000, "T": 1626992759999,   # open / close time (ms)
                "s": "SUSHIUSDT", "i": "1m",
                "o": "7.6080", "c": "7.6170", "h": "7.6180", "l": "7.6070",
                "v": "3005",                              # base volume (coins)
                "q": "22875.8590",                        # quote volume
                "x": true, ...}}}                         # is this kline closed?
    """
    data = _binance_unwrap(message)
    if data is None or data.get("e") != "kline":
        return ()
    k = data["k"]
    return (
        CandleUpdate(
            venue="binance",
            symbol=_binance_usdm_symbol(k["s"]),
            interval=CandleInterval.parse(k["i"]),
            candle=Candle(
                open_time=utc_from_ms(k["t"]),
                open=float(k["o"]),
                high=float(k["h"]),
                low=float(k["l"]),
                close=float(k["c"]),
                volume=float(k["v"]),
                quote_volume=float(k["q"]) if "q" in k else None,
            ),
            closed=bool(k["x"]),
            received_at=received_at,
        ),
    )


def parse_binance(message: Any, received_at: datetime) -> tuple[Event, ...]:
    """Any Binance USD-M market message: dispatch on the event type ``e`` (see the parsers above)."""
    data = _binance_unwrap(message)
    kind = data.get("e") if data is not None else None
    if kind == "forceOrder":
        return parse_binance_force_order(message, received_at)
    if kind == "aggTrade":
        return parse_binance_agg_trade(message, received_at)
    if kind == "kline":
        return parse_binance_kline(message, received_at)
    return ()


# ----------------------------------------------------------------------------------------------- Bybit

_BYBIT_POSITION_SIDE = {"Buy": PositionSide.LONG, "Sell": PositionSide.SHORT}
_BYBIT_INTERVALS = {
    "1": "1m", "3": "3m", "5": "5m", "15": "15m", "30": "30m", "60": "1h", "120": "2h",
    "240": "4h", "360": "6h", "720": "12h", "D": "1d", "W": "1w",
}  # fmt: skip
BYBIT_INTERVAL_CODES = {CandleInterval.parse(v): k for k, v in _BYBIT_INTERVALS.items()}


def _bybit_topic(message: Any) -> str:
    if not isinstance(message, dict):
        return ""
    topic = message.get("topic", "")
    return topic if isinstance(topic, str) else ""


def _bybit_coins(symbol: str, size: float, price: float) -> float:
    """Linear (``…USDT`` / ``…USDC`` / ``…PERP``) sizes are coins; inverse ones are USD contracts."""
    if symbol.endswith(("USDT", "USDC", "PERP")) or "-" in symbol:
        return size
    return size / price


def _bybit_liquidation(
    row: dict[str, Any], side: str, size: str, price: str, time: Any, received_at: datetime
) -> Liquidation:
    symbol = str(row["s"] if "s" in row else row["symbol"])
    px = float(price)
    return Liquidation(
        venue="bybit",
        symbol=symbol,
        side=_BYBIT_POSITION_SIDE[side],
        price=px,
        size=_bybit_coins(symbol, float(size), px),
        time=utc_from_ms(time),
        received_at=received_at,
    )


def parse_bybit_all_liquidation(message: Any, received_at: datetime) -> tuple[Liquidation, ...]:
    """v5 ``allLiquidation.<SYMBOL>`` (linear/inverse public stream).

    Sample (live capture)::

        {"topic": "allLiquidation.PIPPINUSDT", "type": "snapshot", "ts": 1740480207578,
         "data": [{"T": 1740480207110,    # event time (ms)
                   "s": "PIPPINUSDT",
                   "S": "Sell",           # POSITION side: Sell = a SHORT was liquidated, Buy = a LONG
                   "v": "2846",           # size (coins for linear)
                   "p": "0.02456"}]}      # bankruptcy price
    """
    if not _bybit_topic(message).startswith("allLiquidation."):
        return ()
    return tuple(
        _bybit_liquidation(row, row["S"], row["v"], row["p"], row["T"], received_at) for row in message["data"]
    )


def parse_bybit_liquidation(message: Any, received_at: datetime) -> tuple[Liquidation, ...]:
    """Legacy v5 ``liquidation.<SYMBOL>`` (deprecated by Bybit for ``allLiquidation``): one object.

    Sample (live capture, inverse)::

        {"topic": "liquidation.XRPUSD", "type": "snapshot", "ts": 1680673944093,
         "data": {"updatedTime": 1680673944093,   # event time (ms)
                  "symbol": "XRPUSD",
                  "side": "Sell",                 # POSITION side, as in allLiquidation: Buy = LONG
                  "size": "6949",                 # contracts: coins for linear, USD for inverse
                  "price": "0.5149"}}
    """
    if not _bybit_topic(message).startswith("liquidation."):
        return ()
    row = message["data"]
    return (_bybit_liquidation(row, row["side"], row["size"], row["price"], row["updatedTime"], received_at),)


def parse_bybit_public_trade(message: Any, received_at: datetime) -> tuple[Trade, ...]:
    """v5 ``publicTrade.<SYMBOL>``.

    Sample (live capture)::

        {"topic": "publicTrade.LTCUSDT", "type": "snapshot", "ts": 1680688979985,
         "data": [{"T": 1680688979983,   # trade time (ms)
                   "s": "LTCUSDT",
                   "S": "Buy",           # TAKER side
                   "v": "0.4",           # size (coins)
                   "p": "94.53",
                   "L": "ZeroMinusTick", "i": "4c7b6bdc-…", "BT": false}]}
    """
    if not _bybit_topic(message).startswith("publicTrade."):
        return ()
    return tuple(
        Trade(
            venue="bybit",
            symbol=str(row["s"]),
            taker_side={"Buy": "BUY", "Sell": "SELL"}[row["S"]],
            price=float(row["p"]),
            size=_bybit_coins(str(row["s"]), float(row["v"]), float(row["p"])),
            time=utc_from_ms(row["T"]),
            received_at=received_at,
        )
        for row in message["data"]
    )


def parse_bybit_kline(message: Any, received_at: datetime) -> tuple[CandleUpdate, ...]:
    """v5 ``kline.<interval>.<SYMBOL>`` (interval codes ``1``…``720``, ``D``, ``W``).

    Sample (Bybit docs)::

        {"topic": "kline.5.BTCUSDT", "type": "snapshot", "ts": 1672324988882,
         "data": [{"start": 1672324800000, "end": 1672325099999, "interval": "5",
                   "open": "16649.5", "close": "16677", "high": "16677", "low": "16608",
                   "volume": "2.081",           # base volume (coins)
                   "turnover": "34666.4005",    # quote volume
                   "confirm": false,            # closed?
                   "timestamp": 1672324988882}]}
    """
    topic = _bybit_topic(message)
    if not topic.startswith("kline."):
        return ()
    symbol = topic.split(".")[2]
    return tuple(
        CandleUpdate(
            venue="bybit",
            symbol=symbol,
            interval=CandleInterval.parse(_BYBIT_INTERVALS[str(row["interval"])]),
            candle=Candle(
                open_time=utc_from_ms(row["start"]),
                open=float(row["open"]),
                high=float(row["high"]),
                low=float(row["low"]),
                close=float(row["close"]),
                volume=float(row["volume"]),
                quote_volume=float(row["turnover"]),
            ),
            closed=bool(row["confirm"]),
            received_at=received_at,
        )
        for row in message["data"]
    )


def parse_bybit(message: Any, received_at: datetime) -> tuple[Event, ...]:
    """Any Bybit v5 public message: dispatch on the topic prefix; acks/pongs (no topic) give ``()``."""
    prefix = _bybit_topic(message).split(".", 1)[0]
    parsers: dict[str, Parser] = {
        "allLiquidation": parse_bybit_all_liquidation,
        "liquidation": parse_bybit_liquidation,
        "publicTrade": parse_bybit_public_trade,
        "kline": parse_bybit_kline,
    }
    parser = parsers.get(prefix)
    return parser(message, received_at) if parser else ()


# ------------------------------------------------------------------------------------------------- OKX


def okx_canonical_symbol(inst_id: str) -> str:
    """``BTC-USDT-SWAP`` → ``BTCUSDT`` (futures keep their expiry: ``XRP-USD-230929`` → ``XRPUSD230929``)."""
    return inst_id.removesuffix("-SWAP").replace("-", "")


def _okx_contract_value(inst_id: str, ctval: ContractValue) -> float:
    """SWAP / FUTURES sizes are contracts (× ctVal); SPOT (``BTC-USDT``, two parts) sizes are coins."""
    return ctval(inst_id) if inst_id.count("-") >= 2 else 1.0


def _okx_channel(message: Any) -> str:
    if not isinstance(message, dict) or "data" not in message:
        return ""  # acks ({"event": "subscribe", ...}), errors, "pong"
    arg = message.get("arg")
    return str(arg.get("channel", "")) if isinstance(arg, dict) else ""


def _okx_liquidated_side(detail: dict[str, Any]) -> PositionSide:
    pos_side = detail.get("posSide") or "net"
    if pos_side == "long":
        return PositionSide.LONG
    if pos_side == "short":
        return PositionSide.SHORT
    return {"sell": PositionSide.LONG, "buy": PositionSide.SHORT}[detail["side"]]


def parse_okx_liquidation_orders(message: Any, received_at: datetime, ctval: ContractValue) -> tuple[Liquidation, ...]:
    """``liquidation-orders`` (instType SWAP / FUTURES): every instrument of the type.

    Sample (live capture)::

        {"arg": {"channel": "liquidation-orders", "instType": "FUTURES"},
         "data": [{"instId": "XRP-USD-230929", "instFamily": "XRP-USD", "instType": "FUTURES",
                   "uly": "XRP-USD",
                   "details": [{"bkLoss": "0",
                                "bkPx": "0.55205",      # bankruptcy price
                                "ccy": "",
                                "posSide": "short",     # long/short; net/empty ⇒ use side
                                "side": "buy",          # order side: sell closes a LONG
                                "sz": "39",             # contracts (× ctVal = coins)
                                "ts": "1680173247614"}]}]}
    """
    if _okx_channel(message) != "liquidation-orders":
        return ()
    return tuple(
        Liquidation(
            venue="okx",
            symbol=okx_canonical_symbol(item["instId"]),
            side=_okx_liquidated_side(detail),
            price=float(detail["bkPx"]),
            size=float(detail["sz"]) * _okx_contract_value(item["instId"], ctval),
            time=utc_from_ms(detail["ts"]),
            received_at=received_at,
        )
        for item in message["data"]
        for detail in item["details"]
    )


def parse_okx_trades(message: Any, received_at: datetime, ctval: ContractValue) -> tuple[Trade, ...]:
    """``trades`` (per ``instId``).

    Sample (live capture)::

        {"arg": {"channel": "trades", "instId": "UNI-USD-SWAP"},
         "data": [{"instId": "UNI-USD-SWAP", "tradeId": "12883020",
                   "px": "5.123",
                   "sz": "100",            # contracts for SWAP/FUTURES (× ctVal), coins for SPOT
                   "side": "sell",         # TAKER side
                   "ts": "1652459215150"}]}
    """
    if _okx_channel(message) != "trades":
        return ()
    return tuple(
        Trade(
            venue="okx",
            symbol=okx_canonical_symbol(row["instId"]),
            taker_side={"buy": "BUY", "sell": "SELL"}[row["side"]],
            price=float(row["px"]),
            size=float(row["sz"]) * _okx_contract_value(row["instId"], ctval),
            time=utc_from_ms(row["ts"]),
            received_at=received_at,
        )
        for row in message["data"]
    )


def okx_parser(ctval: ContractValue) -> Parser:
    """A parser for OKX public messages bound to a ``ctVal`` lookup (instId → coins per contract)."""

    def parse(message: Any, received_at: datetime) -> tuple[Event, ...]:
        channel = _okx_channel(message)
        if channel == "liquidation-orders":
            return parse_okx_liquidation_orders(message, received_at, ctval)
        if channel == "trades":
            return parse_okx_trades(message, received_at, ctval)
        return ()

    return parse


# ----------------------------------------------------------------------------------------- Hyperliquid


def parse_hyperliquid_trades(message: Any, received_at: datetime) -> tuple[Trade, ...]:
    """``trades`` subscription (per coin); ``subscriptionResponse`` / ``pong`` give ``()``.

    Sample (live capture)::

        {"channel": "trades",
         "data": [{"coin": "BTC",
                   "side": "B",             # aggressor: B = the buyer took ⇒ BUY, A ⇒ SELL
                   "px": "69997.0",
                   "sz": "0.38111",         # coins
                   "time": 1730160006192,   # ms
                   "hash": "0x40d1…", "tid": 1016375172059570}]}
    """
    if not isinstance(message, dict) or message.get("channel") != "trades":
        return ()
    return tuple(
        Trade(
            venue="hyperliquid",
            symbol=f"{row['coin']}USDT",
            taker_side={"B": "BUY", "A": "SELL"}[row["side"]],
            price=float(row["px"]),
            size=float(row["sz"]),
            time=utc_from_ms(row["time"]),
            received_at=received_at,
        )
        for row in message["data"]
    )
