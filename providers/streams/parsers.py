"""The contract every venue's ``streams`` module (``providers/<venue>/streams.py``) implements.

A venue's streams module exposes ``open_stream(key, ctval) -> VenueStream``: how to open one
:class:`~providers.streams.StreamKey` on that venue (URL path, subscribe frames, keepalive) and its
parser, or :class:`UnsupportedStream`. The client looks the module up by venue name (one table in
:mod:`providers.streams.client`); nothing here knows a venue.

A parser is pure: one WebSocket message (already JSON-decoded) and ``received_at`` (our receipt time,
read from the caller's clock: a parser never reads a clock) → a tuple of ``Liquidation`` / ``Trade`` /
``CandleUpdate`` events of :mod:`engine.market`, each carrying the venue's event time (``time`` /
``candle.open_time``) and ``received_at``. Messages that carry no market data (subscription acks,
pongs, errors, non-JSON text such as OKX's ``"pong"``) give an empty tuple. A data message of the right
channel with a missing or malformed field raises ``KeyError`` / ``ValueError`` / ``TypeError``: the
connection counts it as a parse error and goes on.

Decided once for every venue: liquidation sides are always the liquidated *position*, sizes are coins,
symbols are canonical (``BTCUSDT``); each venue's module says how its wire maps onto that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import orjson

from engine.market import CandleUpdate, Liquidation, Trade

if TYPE_CHECKING:
    from datetime import datetime

    from providers.streams import StreamKey

Event: TypeAlias = Liquidation | Trade | CandleUpdate
Parser: TypeAlias = "Callable[[Any, datetime], tuple[Event, ...]]"
ContractValue: TypeAlias = Callable[[str], float]  # OKX instId → coins per contract (ctVal)


class UnsupportedStream(ValueError):
    """The venue offers no such public stream (or this service does not implement it yet)."""


class StreamNotRecorded(UnsupportedStream):
    """The upstream is a replayed cassette that holds no such stream: a socket would never get an event."""


@dataclass(frozen=True, slots=True)
class VenueStream:
    """How to open one stream on one venue."""

    path: str  # appended to the venue's ws base URL
    subscribe: tuple[str, ...]  # text frames sent after each connect
    parse: Parser
    ping_text: str | None = None  # application-level keepalive, when the venue wants one
    ping_seconds: float = 0.0


def json_text(obj: Any) -> str:
    """A text frame (subscribe or ping) as JSON."""
    return orjson.dumps(obj).decode()


def no_such_stream(key: StreamKey) -> UnsupportedStream:
    return UnsupportedStream(f"no {key.kind.value} stream for {key.venue} {key.symbol or '*'} {key.interval or ''}")


def channel_of(message: Any, field: str) -> str:
    """The string ``message[field]`` of a decoded object message (a topic, a channel), else ``""``."""
    if not isinstance(message, dict):
        return ""
    value = message.get(field, "")
    return value if isinstance(value, str) else ""
