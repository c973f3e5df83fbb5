"""Bybit v5 public WebSocket (``/v5/public/linear``): liquidations, trades and klines, parsed to our events.

Liquidation side: ``allLiquidation`` and the legacy ``liquidation`` topic send the POSITION side per
Bybit's docs ("when you receive a Buy update, this means that a long position has been liquidated"), so
``Buy`` = LONG. Linear sizes are coins; *inverse* sizes (``XRPUSD``: contracts of 1 USD) are divided by
the price. Keepalive: ``{"op": "ping"}`` every 20 s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.market import Candle, CandleInterval, CandleUpdate, Liquidation, PositionSide, Trade, utc_from_ms
from providers.bybit.domain import KLINE_INTERVALS, PROVIDER, taker_side
from providers.streams import StreamKind
from providers.streams.parsers import UnsupportedStream, VenueStream, channel_of, json_text, no_such_stream

if TYPE_CHECKING:
    from datetime import datetime

    from providers.streams import StreamKey
    from providers.streams.parsers import ContractValue, Event, Parser

_POSITION_SIDE = {"Buy": PositionSide.LONG, "Sell": PositionSide.SHORT}
_INTERVAL_OF_CODE: dict[str, CandleInterval] = {code: interval for interval, code in KLINE_INTERVALS.items()}
_TOPICS = {StreamKind.LIQUIDATIONS: "allLiquidation", StreamKind.TRADES: "publicTrade"}


def _coins(symbol: str, size: float, price: float) -> float:
    """Linear (``…USDT`` / ``…USDC`` / ``…PERP``) sizes are coins; inverse ones are USD contracts."""
    if symbol.endswith(("USDT", "USDC", "PERP")) or "-" in symbol:
        return size
    return size / price


def _liquidation(
    row: dict[str, Any], side: str, size: str, price: str, time: Any, received_at: datetime
) -> Liquidation:
    symbol = str(row["s"] if "s" in row else row["symbol"])
    px = float(price)
    return Liquidation(
        venue=PROVIDER,
        symbol=symbol,
        side=_POSITION_SIDE[side],
        price=px,
        size=_coins(symbol, float(size), px),
        time=utc_from_ms(time),
        received_at=received_at,
    )


def parse_all_liquidation(message: Any, received_at: datetime) -> tuple[Liquidation, ...]:
    """v5 ``allLiquidation.<SYMBOL>`` (linear/inverse public stream).

    Sample (live capture)::

        {"topic": "allLiquidation.PIPPINUSDT", "type": "snapshot", "ts": 1740480207578,
         "data": [{"T": 1740480207110,    # event time (ms)
                   "s": "PIPPINUSDT",
                   "S": "Sell",           # POSITION side: Sell = a SHORT was liquidated, Buy = a LONG
                   "v": "2846",           # size (coins for linear)
                   "p": "0.02456"}]}      # bankruptcy price
    """
    if not channel_of(message, "topic").startswith("allLiquidation."):
        return ()
    return tuple(_liquidation(row, row["S"], row["v"], row["p"], row["T"], received_at) for row in message["data"])


def parse_liquidation(message: Any, received_at: datetime) -> tuple[Liquidation, ...]:
    """Legacy v5 ``liquidation.<SYMBOL>`` (deprecated by Bybit for ``allLiquidation``): one object.

    Sample (live capture, inverse)::

        {"topic": "liquidation.XRPUSD", "type": "snapshot", "ts": 1680673944093,
         "data": {"updatedTime": 1680673944093,   # event time (ms)
                  "symbol": "XRPUSD",
                  "side": "Sell",                 # POSITION side, as in allLiquidation: Buy = LONG
                  "size": "6949",                 # contracts: coins for linear, USD for inverse
                  "price": "0.5149"}}
    """
    if not channel_of(message, "topic").startswith("liquidation."):
        return ()
    row = message["data"]
    return (_liquidation(row, row["side"], row["size"], row["price"], row["updatedTime"], received_at),)


def parse_public_trade(message: Any, received_at: datetime) -> tuple[Trade, ...]:
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
    if not channel_of(message, "topic").startswith("publicTrade."):
        return ()
    return tuple(
        Trade(
            venue=PROVIDER,
            symbol=str(row["s"]),
            taker_side=taker_side(row["S"]),
            price=float(row["p"]),
            size=_coins(str(row["s"]), float(row["v"]), float(row["p"])),
            time=utc_from_ms(row["T"]),
            received_at=received_at,
        )
        for row in message["data"]
    )


def parse_kline(message: Any, received_at: datetime) -> tuple[CandleUpdate, ...]:
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
    topic = channel_of(message, "topic")
    if not topic.startswith("kline."):
        return ()
    symbol = topic.split(".")[2]
    return tuple(
        CandleUpdate(
            venue=PROVIDER,
            symbol=symbol,
            interval=_INTERVAL_OF_CODE[str(row["interval"])],
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


def parse_message(message: Any, received_at: datetime) -> tuple[Event, ...]:
    """Any Bybit v5 public message: dispatch on the topic prefix; acks/pongs (no topic) give ``()``."""
    prefix = channel_of(message, "topic").split(".", 1)[0]
    parsers: dict[str, Parser] = {
        "allLiquidation": parse_all_liquidation,
        "liquidation": parse_liquidation,
        "publicTrade": parse_public_trade,
        "kline": parse_kline,
    }
    parser = parsers.get(prefix)
    return parser(message, received_at) if parser else ()


def open_stream(key: StreamKey, ctval: ContractValue | None) -> VenueStream:
    """One symbol's ``allLiquidation.<SYMBOL>``, ``publicTrade.<SYMBOL>`` or ``kline.<code>.<SYMBOL>``."""
    sym = key.symbol
    if not sym:
        raise no_such_stream(key)
    if key.kind is StreamKind.CANDLES:
        code = KLINE_INTERVALS.get(CandleInterval.parse(key.interval or ""))
        if code is None:
            raise UnsupportedStream(f"bybit has no {key.interval} kline")
        topic = f"kline.{code}.{sym}"
    else:
        topic = f"{_TOPICS[key.kind]}.{sym}"
    return VenueStream(
        path="/v5/public/linear",
        subscribe=(json_text({"op": "subscribe", "args": [topic]}),),
        parse=parse_message,
        ping_text=json_text({"op": "ping"}),
        ping_seconds=20.0,
    )
