"""Bybit v5 response models, shaped like the venue's JSON (camelCase fields, rows as Bybit sends them).

Every REST answer is ``{"retCode": 0, "retMsg": "OK", "result": {...}, "time": <ms>}``; series sit in
``result.list`` (:func:`result_rows`), newest-first, and stay in that order here (the domain layer
reorders them). The error hook in :mod:`providers.bybit.raw` has already turned a non-zero ``retCode``
into an error.
"""

from __future__ import annotations

from typing import Any, TypeVar

from providers._shared import OptFloat, OptInt, RowModel, VenueModel, rows_as

M = TypeVar("M", bound=VenueModel)


def result_list(payload: Any) -> list[Any]:
    rows = payload["result"]["list"]
    if not isinstance(rows, list):
        raise TypeError(f"result.list is {type(rows).__name__}, expected a list")
    return rows


def result_rows(payload: Any, model: type[M]) -> tuple[M, ...]:
    """``result.list`` as models: objects validated by name, arrays (:class:`RowModel`) by position."""
    return rows_as(model, result_list(payload))


class BybitTicker(VenueModel):
    """A ``/v5/market/tickers`` row. Spot rows have no funding or open-interest fields."""

    symbol: str
    lastPrice: float
    price24hPcnt: float  # a fraction: 0.008047 = 0.8047 %
    highPrice24h: float
    lowPrice24h: float
    volume24h: float  # coins for linear
    turnover24h: float  # quote
    fundingRate: OptFloat = None
    nextFundingTime: OptInt = None
    markPrice: OptFloat = None
    openInterest: OptFloat = None  # coins
    openInterestValue: OptFloat = None  # USD
    fundingIntervalHour: OptFloat = None  # newer answers only


class BybitTickers(VenueModel):
    """One symbol's tickers answer: its row and the answer's ``time`` (the row carries no time)."""

    time: int
    ticker: BybitTicker

    @classmethod
    def from_answer(cls, payload: Any) -> BybitTickers:
        rows = result_list(payload)
        if not rows:
            raise ValueError("empty result.list")
        return cls.model_validate({"time": payload["time"], "ticker": rows[0]})

    @classmethod
    def every_row(cls, payload: Any) -> tuple[BybitTickers, ...]:
        """The all-symbols answer: one of these per row, all at the answer's ``time``."""
        return tuple(cls.model_validate({"time": payload["time"], "ticker": row}) for row in result_list(payload))


class BybitPriceFilter(VenueModel):
    """An instrument's ``priceFilter``: ``tickSize`` is the price increment."""

    tickSize: OptFloat = None


class BybitInstrument(VenueModel):
    """A ``/v5/market/instruments-info?category=linear`` row (the fields the listing needs)."""

    symbol: str
    contractType: str  # LinearPerpetual / LinearFutures
    status: str  # PreLaunch / Trading / Delivering / Closed
    baseCoin: str
    quoteCoin: str
    launchTime: OptInt = None  # ms
    priceFilter: BybitPriceFilter | None = None


class BybitInstrumentsPage(VenueModel):
    """One page of instruments-info: its rows and ``nextPageCursor`` (empty on the last page)."""

    rows: tuple[BybitInstrument, ...]
    next_cursor: str = ""

    @classmethod
    def from_answer(cls, payload: Any) -> BybitInstrumentsPage:
        cursor = payload["result"].get("nextPageCursor") or ""
        return cls(rows=rows_as(BybitInstrument, result_list(payload)), next_cursor=cursor)


class BybitKline(RowModel):
    """``[start, open, high, low, close, volume, turnover]``: volume in coins for linear, turnover in quote."""

    start: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    turnover: float


class BybitFundingRate(VenueModel):
    symbol: str
    fundingRate: float  # a fraction per interval
    fundingRateTimestamp: int


class BybitOpenInterest(VenueModel):
    openInterest: float  # coins for linear
    timestamp: int


class BybitAccountRatio(VenueModel):
    buyRatio: float  # share of accounts long, a fraction
    sellRatio: float
    timestamp: int


class BybitOrderBook(VenueModel):
    s: str
    a: tuple[tuple[float, float], ...]  # [price, size in coins]
    b: tuple[tuple[float, float], ...]
    ts: int


class BybitTrade(VenueModel):
    symbol: str
    price: float
    size: float  # coins for linear
    side: str  # the taker's: Buy / Sell
    time: int
