"""Binance USD-M futures WebSocket (``wss://fstream.binance.com``): liquidations, trades and klines.

One raw stream per socket, named in the path (``/ws/btcusdt@aggTrade``); no subscribe frame, the server
pings. Liquidation side: ``forceOrder``'s ``o.S`` is the liquidation ORDER's side, so ``SELL`` closed a
LONG. Sizes are coins (USD-M quantities); a COIN-M symbol (``BTCUSD_200925``, contracts of 10/100 USD)
is not a USD-M stream and is rejected with ``ValueError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.market import Candle, CandleInterval, CandleUpdate, Liquidation, PositionSide, Trade, utc_from_ms
from providers.streams import StreamKind
from providers.streams.parsers import VenueStream, no_such_stream

if TYPE_CHECKING:
    from datetime import datetime

    from providers.streams import StreamKey
    from providers.streams.parsers import ContractValue, Event

PROVIDER = "binance"


def _unwrap(message: Any) -> dict[str, Any] | None:
    """Combined streams wrap the payload as ``{"stream": "btcusdt@aggTrade", "data": {...}}``."""
    if not isinstance(message, dict):
        return None
    data = message.get("data", message) if "stream" in message else message
    return data if isinstance(data, dict) else None


def _usdm_symbol(symbol: str) -> str:
    if "_" in symbol:
        raise ValueError(f"{symbol}: a COIN-M contract, not a USD-M perpetual")
    return symbol.upper()


def parse_force_order(message: Any, received_at: datetime) -> tuple[Liquidation, ...]:
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
    data = _unwrap(message)
    if data is None or data.get("e") != "forceOrder":
        return ()
    order = data["o"]
    side = {"SELL": PositionSide.LONG, "BUY": PositionSide.SHORT}[order["S"]]
    price = float(order.get("ap") or 0) or float(order["p"])
    return (
        Liquidation(
            venue=PROVIDER,
            symbol=_usdm_symbol(order["s"]),
            side=side,
            price=price,
            size=float(order.get("z") or order["q"]),
            time=utc_from_ms(order["T"]),
            received_at=received_at,
        ),
    )


def parse_agg_trade(message: Any, received_at: datetime) -> tuple[Trade, ...]:
    """``<symbol>@aggTrade``, bare or combined-stream wrapped.

    Sample (live capture)::

        {"stream": "ctkusdt@aggTrade", "data": {
          "e": "aggTrade", "E": 1626992741575, "a": 16599292,
          "s": "CTKUSDT", "p": "1.01100", "q": "10",   # symbol, price, quantity (coins)
          "f": 23961322, "l": 23961322,
          "T": 1626992741421,                          # trade time (ms)
          "m": false}}                                 # buyer is the maker? true ⇒ the taker SOLD
    """
    data = _unwrap(message)
    if data is None or data.get("e") != "aggTrade":
        return ()
    buyer_is_maker = data["m"]
    if not isinstance(buyer_is_maker, bool):
        raise TypeError(f"aggTrade m={buyer_is_maker!r} is not a boolean")
    return (
        Trade(
            venue=PROVIDER,
            symbol=_usdm_symbol(data["s"]),
            taker_side="SELL" if buyer_is_maker else "BUY",
            price=float(data["p"]),
            size=float(data["q"]),
            time=utc_from_ms(data["T"]),
            received_at=received_at,
        ),
    )


def parse_kline(message: Any, received_at: datetime) -> tuple[CandleUpdate, ...]:
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
    data = _unwrap(message)
    if data is None or data.get("e") != "kline":
        return ()
    k = data["k"]
    return (
        CandleUpdate(
            venue=PROVIDER,
            symbol=_usdm_symbol(k["s"]),
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


def parse_message(message: Any, received_at: datetime) -> tuple[Event, ...]:
    """Any Binance USD-M market message: dispatch on the event type ``e`` (see the parsers above)."""
    data = _unwrap(message)
    kind = data.get("e") if data is not None else None
    if kind == "forceOrder":
        return parse_force_order(message, received_at)
    if kind == "aggTrade":
        return parse_agg_trade(message, received_at)
    if kind == "kline":
        return parse_kline(message, received_at)
    return ()


def open_stream(key: StreamKey, ctval: ContractValue | None) -> VenueStream:
    """``<symbol>@forceOrder`` (or ``!forceOrder@arr`` for every symbol), ``@aggTrade``, ``@kline_<interval>``."""
    sym = key.symbol
    if key.kind is StreamKind.LIQUIDATIONS:
        stream = f"{sym.lower()}@forceOrder" if sym else "!forceOrder@arr"
    elif key.kind is StreamKind.TRADES and sym:
        stream = f"{sym.lower()}@aggTrade"
    elif key.kind is StreamKind.CANDLES and sym and key.interval:
        stream = f"{sym.lower()}@kline_{key.interval}"
    else:
        raise no_such_stream(key)
    return VenueStream(path=f"/ws/{stream}", subscribe=(), parse=parse_message)
