"""Bybit venue models → our normalized models (:mod:`engine.market`). Units, decided once here (REFERENCE §2):

- Series (klines, funding history, OI history, account ratio, trades) arrive newest-first and leave
  oldest-first.
- ``price24hPcnt`` is a fraction (``0.008047`` = 0.8047 %); :class:`Ticker24h` carries percent.
- Funding is a fraction per interval. The interval is the ticker's ``fundingIntervalHour`` when Bybit
  sends it, else the spacing of ``/v5/market/funding/history`` (8 h for most symbols, 4 h / 1 h for some).
- Linear sizes are coins: ``volume24h``, kline volume, ``openInterest``, order-book and trade sizes.
  Current OI in USD is Bybit's own ``openInterestValue`` (falling back to ``openInterest × lastPrice``
  only if that field is empty); OI history has coins only (``open_interest_usd`` is ``None``).
- Liquidations: Bybit has no REST liquidation feed (only the ``allLiquidation`` WebSocket topic), so
  the adapter does not claim the capability.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.market import (
    Candle,
    CandleInterval,
    FundingRate,
    LongShortPoint,
    OpenInterest,
    OpenInterestPoint,
    OrderBook,
    SymbolInfo,
    Ticker24h,
    Trade,
    utc_from_ms,
)
from providers.normalize import funding_interval_hours, oldest_first

if TYPE_CHECKING:
    from providers.bybit.models import (
        BybitAccountRatio,
        BybitFundingRate,
        BybitInstrument,
        BybitKline,
        BybitOpenInterest,
        BybitOrderBook,
        BybitTickers,
        BybitTrade,
    )

PROVIDER = "bybit"

# /v5/market/kline ``interval`` (and the ``kline.<interval>.<SYMBOL>`` stream topic)
KLINE_INTERVALS: dict[CandleInterval, str] = {
    CandleInterval.M1: "1",
    CandleInterval.M3: "3",
    CandleInterval.M5: "5",
    CandleInterval.M15: "15",
    CandleInterval.M30: "30",
    CandleInterval.H1: "60",
    CandleInterval.H2: "120",
    CandleInterval.H4: "240",
    CandleInterval.H6: "360",
    CandleInterval.H12: "720",
    CandleInterval.D1: "D",
    CandleInterval.W1: "W",
}
# /v5/market/open-interest ``intervalTime`` and /v5/market/account-ratio ``period``
STAT_PERIODS: dict[CandleInterval, str] = {
    CandleInterval.M5: "5min",
    CandleInterval.M15: "15min",
    CandleInterval.M30: "30min",
    CandleInterval.H1: "1h",
    CandleInterval.H4: "4h",
    CandleInterval.D1: "1d",
}


def taker_side(side: str) -> str:
    """Bybit's ``Buy`` / ``Sell`` in our spelling (unknown sides raise ``KeyError``)."""
    return {"Buy": "BUY", "Sell": "SELL"}[side]


def to_ticker(answer: BybitTickers) -> Ticker24h:
    """``price24hPcnt`` is a fraction: × 100; linear ``volume24h`` is coins, ``turnover24h`` USDT."""
    row = answer.ticker
    return Ticker24h(
        symbol=row.symbol,
        last_price=row.lastPrice,
        price_change_pct=row.price24hPcnt * 100.0,
        high=row.highPrice24h,
        low=row.lowPrice24h,
        volume=row.volume24h,
        quote_volume=row.turnover24h,
        close_time=utc_from_ms(answer.time),
    )


def to_funding(answer: BybitTickers, interval_hours: float) -> FundingRate:
    """The current rate from the tickers answer; ``interval_hours`` is used when the ticker carries no
    ``fundingIntervalHour``."""
    row = answer.ticker
    if row.fundingRate is None:
        raise ValueError(f"{row.symbol}: the ticker has no fundingRate")
    sent = row.fundingIntervalHour
    return FundingRate(
        symbol=row.symbol,
        rate=row.fundingRate,
        interval_hours=sent if sent is not None else interval_hours,
        time=utc_from_ms(answer.time),
        next_funding_time=utc_from_ms(row.nextFundingTime) if row.nextFundingTime is not None else None,
        mark_price=row.markPrice,
    )


def to_open_interest(answer: BybitTickers) -> OpenInterest:
    """``openInterest`` coins, ``openInterestValue`` USD; when that is empty, USD is ``openInterest × lastPrice``."""
    row = answer.ticker
    if row.openInterest is None:
        raise ValueError(f"{row.symbol}: the ticker has no openInterest")
    usd = row.openInterestValue if row.openInterestValue is not None else row.openInterest * row.lastPrice
    return OpenInterest(symbol=row.symbol, coins=row.openInterest, usd=usd, time=utc_from_ms(answer.time))


def to_candles(rows: tuple[BybitKline, ...]) -> tuple[Candle, ...]:
    return tuple(
        Candle(
            open_time=utc_from_ms(r.start),
            open=r.open,
            high=r.high,
            low=r.low,
            close=r.close,
            volume=r.volume,
            quote_volume=r.turnover,
        )
        for r in oldest_first(rows, lambda r: r.start)
    )


def to_funding_history(rows: tuple[BybitFundingRate, ...]) -> tuple[FundingRate, ...]:
    """The interval is the spacing of ``fundingRateTimestamp`` (8 h when a single row)."""
    ordered = oldest_first(rows, lambda r: r.fundingRateTimestamp)
    interval = funding_interval_hours(r.fundingRateTimestamp for r in ordered)
    return tuple(
        FundingRate(
            symbol=r.symbol, rate=r.fundingRate, interval_hours=interval, time=utc_from_ms(r.fundingRateTimestamp)
        )
        for r in ordered
    )


def to_open_interest_history(rows: tuple[BybitOpenInterest, ...]) -> tuple[OpenInterestPoint, ...]:
    return tuple(
        OpenInterestPoint(time=utc_from_ms(r.timestamp), open_interest=r.openInterest, unit="coin")
        for r in oldest_first(rows, lambda r: r.timestamp)
    )


def to_long_short(rows: tuple[BybitAccountRatio, ...]) -> tuple[LongShortPoint, ...]:
    """``buyRatio`` is the share of accounts long (a fraction: × 100), ``sellRatio`` the share short."""
    return tuple(
        LongShortPoint(
            time=utc_from_ms(r.timestamp),
            long_pct=r.buyRatio * 100.0,
            long_short_ratio=r.buyRatio / r.sellRatio if r.sellRatio > 0 else float("inf"),
        )
        for r in oldest_first(rows, lambda r: r.timestamp)
    )


def to_order_book(book: BybitOrderBook) -> OrderBook:
    return OrderBook(symbol=book.s, bids=book.b, asks=book.a, time=utc_from_ms(book.ts))


def to_trades(rows: tuple[BybitTrade, ...]) -> tuple[Trade, ...]:
    """``side`` is the taker's; ``size`` coins for linear."""
    return tuple(
        Trade(
            venue=PROVIDER,
            symbol=r.symbol,
            taker_side=r.side.upper(),
            price=r.price,
            size=r.size,
            time=utc_from_ms(r.time),
        )
        for r in oldest_first(rows, lambda r: r.time)
    )


def to_tickers(answers: tuple[BybitTickers, ...]) -> dict[str, Ticker24h]:
    """The all-symbols answer's USDT perpetuals by symbol (USDC perpetuals and dated futures left out)."""
    return {a.ticker.symbol: to_ticker(a) for a in answers if a.ticker.symbol.endswith("USDT")}


def to_listing(rows: tuple[BybitInstrument, ...]) -> dict[str, SymbolInfo]:
    """Trading USDT linear perpetuals by symbol (``BTCUSDT`` is already canonical)."""
    return {
        r.symbol: SymbolInfo(
            symbol=r.symbol,
            base_asset=r.baseCoin,
            quote_asset=r.quoteCoin,
            status="TRADING",
            onboard_date=utc_from_ms(r.launchTime) if r.launchTime else None,
            contract_type="PERPETUAL",
            tick_size=r.priceFilter.tickSize if r.priceFilter is not None else None,
        )
        for r in rows
        if r.contractType == "LinearPerpetual" and r.quoteCoin == "USDT" and r.status == "Trading"
    }
