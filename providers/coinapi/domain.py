"""CoinAPI venue models → our normalized models: candles, trades and order books, every series oldest-first
(the ``/latest`` routes answer NEWEST-FIRST: REFERENCE §2 defect 1), at the boundary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from engine.market import Candle, OrderBook, Trade
from providers.coinapi.models import CoinApiOhlcv, CoinApiOrderBook, CoinApiTrade

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

R = TypeVar("R")

PROVIDER = "coinapi"
# taker_side values: BUY, SELL, BUY_ESTIMATED, SELL_ESTIMATED (CoinAPI inferred the aggressor), UNKNOWN
_TAKER_SIDES = {"BUY": "BUY", "SELL": "SELL", "BUY_ESTIMATED": "BUY", "SELL_ESTIMATED": "SELL"}


def oldest_first(rows: Sequence[R], time: Callable[[R], datetime]) -> list[R]:
    """Oldest-first whatever order the venue used; ties keep their chronological order (a newest-first
    answer is reversed before the stable sort, so two trades in the same tick are not swapped)."""
    if len(rows) > 1 and time(rows[0]) > time(rows[-1]):
        rows = rows[::-1]
    return sorted(rows, key=time)


def to_candles(rows: Sequence[CoinApiOhlcv]) -> tuple[Candle, ...]:
    ordered = oldest_first(rows, lambda r: r.time_period_start)
    # Candle(open_time, open, high, low, close, volume): CoinAPI has no quote volume
    return tuple(
        Candle(r.time_period_start, r.price_open, r.price_high, r.price_low, r.price_close, r.volume_traded)
        for r in ordered
    )


def to_trades(rows: Sequence[CoinApiTrade], symbol: str) -> tuple[Trade, ...]:
    """Oldest-first by ``time_exchange``; ``UNKNOWN``-side trades are dropped, since every normalized trade
    names its aggressor (``*_ESTIMATED`` count as their side)."""
    return tuple(
        Trade(
            venue=PROVIDER,
            symbol=symbol,
            taker_side=_TAKER_SIDES[r.taker_side],
            price=r.price,
            size=r.size,
            time=r.time_exchange,
        )
        for r in oldest_first(rows, lambda r: r.time_exchange)
        if r.taker_side in _TAKER_SIDES
    )


def to_order_book(book: CoinApiOrderBook, symbol: str, depth: int | None = None) -> OrderBook:
    """Levels sorted best first (bids high to low, asks low to high; equal prices keep their order),
    at most ``depth`` per side."""
    bids = sorted(((b.price, b.size) for b in book.bids), key=lambda level: -level[0])
    asks = sorted(((a.price, a.size) for a in book.asks), key=lambda level: level[0])
    return OrderBook(symbol=symbol, bids=tuple(bids[:depth]), asks=tuple(asks[:depth]), time=book.time_exchange)


def parse_ohlcv(payload: list[Any]) -> tuple[Candle, ...]:
    return to_candles([CoinApiOhlcv.model_validate(r) for r in payload])


def parse_trades(payload: list[Any], symbol: str) -> tuple[Trade, ...]:
    return to_trades([CoinApiTrade.model_validate(r) for r in payload], symbol)


def parse_order_book(payload: Any, symbol: str) -> OrderBook:
    return to_order_book(CoinApiOrderBook.model_validate(payload), symbol)
