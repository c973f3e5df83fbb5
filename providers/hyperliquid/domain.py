"""Hyperliquid venue models → our normalized models (:mod:`engine.market`). Units, decided once here:

- ``funding`` in ``metaAndAssetCtxs`` and ``fundingRate`` in ``fundingHistory`` are fractions *per
  hour*: Hyperliquid computes an 8 h rate and pays one eighth of it every hour (docs, "Funding"). So a
  :class:`FundingRate` carries ``interval_hours=1`` and ``rate_8h_equivalent`` is 8 × the hourly rate.
  Rows settled before the switch to hourly payments (2023-06-08) were paid every 8 h at the full 8 h
  rate (``0.0001`` = the 8 h interest rate is the clamped value there); they keep ``interval_hours=8``.
- ``openInterest`` is in coins; its USD value is coins × ``markPx``.
- ``dayNtlVlm`` is USD (quote) volume, ``dayBaseVlm`` coins; ``prevDayPx`` is the price 24 h ago.

Coins are named by their base asset (``BTC``); prices are in USDC, which the normalized models treat as
the USD quote.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.market import Candle, CandleInterval, FundingRate, OrderBook, SymbolInfo, utc_from_ms

if TYPE_CHECKING:
    from providers.hyperliquid.models import (
        HyperliquidAssetCtx,
        HyperliquidCandle,
        HyperliquidFunding,
        HyperliquidL2Book,
        HyperliquidLevel,
    )

PROVIDER = "hyperliquid"
FUNDING_INTERVAL_HOURS = 1.0
# Hyperliquid paid funding every 8 h until 2023-06-08 00:00 UTC (the last 8 h settlement in the SDK's
# recorded BTC history is 1686182400254, the first hourly one 1686186000054); anything between is hourly.
HOURLY_FUNDING_SINCE_MS = 1_686_184_200_000
_LEGACY_FUNDING_INTERVAL_HOURS = 8.0

# candleSnapshot intervals: 1m 3m 5m 15m 30m 1h 2h 4h 8h 12h 1d 3d 1w 1M (no 6h)
INTERVALS: dict[CandleInterval, str] = {
    CandleInterval.M1: "1m",
    CandleInterval.M3: "3m",
    CandleInterval.M5: "5m",
    CandleInterval.M15: "15m",
    CandleInterval.M30: "30m",
    CandleInterval.H1: "1h",
    CandleInterval.H2: "2h",
    CandleInterval.H4: "4h",
    CandleInterval.H12: "12h",
    CandleInterval.D1: "1d",
    CandleInterval.W1: "1w",
}


def canonical_symbol(coin: str) -> str:
    """``BTC`` → ``BTCUSDT``: Hyperliquid's USDC-margined perpetuals stand for the USD quote."""
    return f"{coin}USDT"


def funding_interval_hours(time_ms: int) -> float:
    """Hourly since 2023-06-08; every 8 h (and at the full 8 h rate) before."""
    return FUNDING_INTERVAL_HOURS if time_ms >= HOURLY_FUNDING_SINCE_MS else _LEGACY_FUNDING_INTERVAL_HOURS


def to_funding(row: HyperliquidFunding, symbol: str) -> FundingRate:
    return FundingRate(
        symbol=symbol,
        rate=row.funding_rate,
        interval_hours=funding_interval_hours(row.time_ms),
        time=utc_from_ms(row.time_ms),
    )


def to_candles(rows: tuple[HyperliquidCandle, ...]) -> tuple[Candle, ...]:
    """Sorted here, so the oldest-first invariant does not rest on the venue's order."""
    return tuple(
        Candle(open_time=utc_from_ms(r.t), open=r.o, high=r.h, low=r.l, close=r.c, volume=r.v)
        for r in sorted(rows, key=lambda r: r.t)
    )


def to_order_book(book: HyperliquidL2Book, symbol: str, depth: int | None = None) -> OrderBook:
    """Best ``depth`` levels a side (all when ``None``), sizes in coins."""

    def levels(side: tuple[HyperliquidLevel, ...]) -> tuple[tuple[float, float], ...]:
        return tuple((level.px, level.sz) for level in side[:depth])

    bids, asks = book.levels
    return OrderBook(symbol=symbol, bids=levels(bids), asks=levels(asks), time=utc_from_ms(book.time))


def to_listing(contexts: dict[str, HyperliquidAssetCtx]) -> dict[str, SymbolInfo]:
    """Listed (not delisted) perpetuals by canonical symbol: Hyperliquid's coin ``BTC`` is our ``BTCUSDT``
    (its perpetuals settle in USDC, the quote it reports)."""
    return {
        f"{coin}USDT": SymbolInfo(
            symbol=f"{coin}USDT",
            base_asset=coin,
            quote_asset="USDC",
            status="TRADING",
            onboard_date=None,
            contract_type="PERPETUAL",
        )
        for coin, ctx in contexts.items()
        if not ctx.is_delisted
    }
