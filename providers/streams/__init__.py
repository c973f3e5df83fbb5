"""Live WebSocket streams: one upstream socket per stream, fanned out through a broker.

The contract between ingestion (this package) and fan-out (:mod:`resolvers.broker`):

- A stream is named by a :class:`StreamKey` (kind, venue, symbol, interval). Its events are published
  on the broker topic ``key.topic`` as normalized models of :mod:`engine.market`: ``Liquidation``
  (kind ``liquidations``), ``Trade`` (kind ``trades``) and ``CandleUpdate`` (kind ``candles``).
- :class:`StreamHub` (``providers/streams/hub.py``) owns the upstream sockets: ``acquire(key)`` starts the
  stream on the first subscriber and returns a release callback; after the last release it stops the
  socket once ``grace_seconds`` have passed with no new subscriber.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class StreamKind(enum.Enum):
    LIQUIDATIONS = "liquidations"
    TRADES = "trades"
    CANDLES = "candles"


@dataclass(frozen=True, slots=True)
class StreamKey:
    kind: StreamKind
    venue: str
    symbol: str | None = None  # canonical (BTCUSDT); None = every symbol (Binance !forceOrder@arr)
    interval: str | None = None  # candles only: a CandleInterval value ("1m")

    @property
    def topic(self) -> str:
        return ":".join(p for p in (self.kind.value, self.venue, self.symbol or "*", self.interval or "") if p)


class Publisher(Protocol):
    """Where a stream puts its events (the broker implements it)."""

    def publish(self, topic: str, event: object) -> None: ...
