"""Hyperliquid WebSocket (``/ws``): one coin's trades, parsed to our events.

Sizes are coins; the aggressor side ``B`` (the buyer took) is a BUY, ``A`` a SELL. Coins are named by
their base asset and stand for the USD quote (``BTC`` → ``BTCUSDT``). Keepalive: ``{"method": "ping"}``
every 50 s. Hyperliquid has no public liquidation stream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.market import Trade, utc_from_ms
from providers.hyperliquid.domain import PROVIDER, canonical_symbol
from providers.streams import StreamKind
from providers.streams.parsers import VenueStream, channel_of, json_text, no_such_stream

if TYPE_CHECKING:
    from datetime import datetime

    from providers.streams import StreamKey
    from providers.streams.parsers import ContractValue


def parse_trades(message: Any, received_at: datetime) -> tuple[Trade, ...]:
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
    if channel_of(message, "channel") != "trades":
        return ()
    return tuple(
        Trade(
            venue=PROVIDER,
            symbol=canonical_symbol(row["coin"]),
            taker_side={"B": "BUY", "A": "SELL"}[row["side"]],
            price=float(row["px"]),
            size=float(row["sz"]),
            time=utc_from_ms(row["time"]),
            received_at=received_at,
        )
        for row in message["data"]
    )


def open_stream(key: StreamKey, ctval: ContractValue | None) -> VenueStream:
    """A ``trades`` subscription for the coin of a ``…USDT`` symbol."""
    if key.kind is not StreamKind.TRADES or not key.symbol or not key.symbol.endswith("USDT"):
        raise no_such_stream(key)
    coin = key.symbol.removesuffix("USDT")
    return VenueStream(
        path="/ws",
        subscribe=(json_text({"method": "subscribe", "subscription": {"type": "trades", "coin": coin}}),),
        parse=parse_trades,
        ping_text=json_text({"method": "ping"}),
        ping_seconds=50.0,
    )
