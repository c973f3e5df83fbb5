"""OKX v5 public WebSocket (``/ws/v5/public``): liquidation orders and trades, parsed to our events.

Contract sizes (SWAP / FUTURES) are multiplied by ``ctVal`` from the caller's lookup (instId → coins per
contract, loaded at start-up); SPOT sizes are coins. Liquidation sides follow
:func:`providers.okx.domain.liquidated_side` (``posSide`` long/short, else the order side: ``sell``
closes a LONG). Keepalive: the text ``ping`` every 25 s (OKX answers ``pong``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.market import Liquidation, Trade, utc_from_ms
from providers.okx.domain import PROVIDER, canonical_symbol, inst_id, liquidated_side, taker_side
from providers.streams import StreamKind
from providers.streams.parsers import UnsupportedStream, VenueStream, json_text, no_such_stream

if TYPE_CHECKING:
    from datetime import datetime

    from providers.streams import StreamKey
    from providers.streams.parsers import ContractValue, Event, Parser


def _contract_value(instrument: str, ctval: ContractValue) -> float:
    """SWAP / FUTURES sizes are contracts (× ctVal); SPOT (``BTC-USDT``, two parts) sizes are coins."""
    return ctval(instrument) if instrument.count("-") >= 2 else 1.0


def _channel(message: Any) -> str:
    if not isinstance(message, dict) or "data" not in message:
        return ""  # acks ({"event": "subscribe", ...}), errors, "pong"
    arg = message.get("arg")
    return str(arg.get("channel", "")) if isinstance(arg, dict) else ""


def parse_liquidation_orders(message: Any, received_at: datetime, ctval: ContractValue) -> tuple[Liquidation, ...]:
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
    if _channel(message) != "liquidation-orders":
        return ()
    return tuple(
        Liquidation(
            venue=PROVIDER,
            symbol=canonical_symbol(item["instId"]),
            side=liquidated_side(detail.get("posSide") or "net", detail["side"]),
            price=float(detail["bkPx"]),
            size=float(detail["sz"]) * _contract_value(item["instId"], ctval),
            time=utc_from_ms(detail["ts"]),
            received_at=received_at,
        )
        for item in message["data"]
        for detail in item["details"]
    )


def parse_trades(message: Any, received_at: datetime, ctval: ContractValue) -> tuple[Trade, ...]:
    """``trades`` (per ``instId``).

    Sample (live capture)::

        {"arg": {"channel": "trades", "instId": "UNI-USD-SWAP"},
         "data": [{"instId": "UNI-USD-SWAP", "tradeId": "12883020",
                   "px": "5.123",
                   "sz": "100",            # contracts for SWAP/FUTURES (× ctVal), coins for SPOT
                   "side": "sell",         # TAKER side
                   "ts": "1652459215150"}]}
    """
    if _channel(message) != "trades":
        return ()
    return tuple(
        Trade(
            venue=PROVIDER,
            symbol=canonical_symbol(row["instId"]),
            taker_side=taker_side(row["side"]),
            price=float(row["px"]),
            size=float(row["sz"]) * _contract_value(row["instId"], ctval),
            time=utc_from_ms(row["ts"]),
            received_at=received_at,
        )
        for row in message["data"]
    )


def okx_parser(ctval: ContractValue) -> Parser:
    """A parser for OKX public messages bound to a ``ctVal`` lookup (instId → coins per contract)."""

    def parse(message: Any, received_at: datetime) -> tuple[Event, ...]:
        channel = _channel(message)
        if channel == "liquidation-orders":
            return parse_liquidation_orders(message, received_at, ctval)
        if channel == "trades":
            return parse_trades(message, received_at, ctval)
        return ()

    return parse


def open_stream(key: StreamKey, ctval: ContractValue | None) -> VenueStream:
    """Liquidations of every swap (``liquidation-orders``, filtered to the key's symbol by the client) and
    one swap's trades; both need the ``ctVal`` lookup to size contracts in coins."""
    if key.kind not in (StreamKind.LIQUIDATIONS, StreamKind.TRADES):
        raise no_such_stream(key)
    if ctval is None:
        raise UnsupportedStream("okx streams need a ctVal lookup (contract sizes)")
    if key.kind is StreamKind.LIQUIDATIONS:
        arg = {"channel": "liquidation-orders", "instType": "SWAP"}
    else:
        swap = inst_id(key.symbol) if key.symbol else None
        if swap is None:
            raise UnsupportedStream(f"okx trades need a USDT symbol, got {key.symbol!r}")
        arg = {"channel": "trades", "instId": swap}
    return VenueStream(
        path="/ws/v5/public",
        subscribe=(json_text({"op": "subscribe", "args": [arg]}),),
        parse=okx_parser(ctval),
        ping_text="ping",
        ping_seconds=25.0,
    )
