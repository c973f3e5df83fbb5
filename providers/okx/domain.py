"""OKX venue models → our normalized models (:mod:`engine.market`). Units, decided once here (REFERENCE §2):

- Series (candles, funding history, OI history, ratios, trades, liquidations) arrive newest-first and
  leave oldest-first.
- Sizes in *contracts* (swap trades, order-book levels, liquidation ``sz``) are multiplied by the
  instrument's ``ctVal`` (coins per contract, BTC-USDT-SWAP: 0.01) from ``/public/instruments``.
  Candle volume is ``volCcy`` (already in coins), OI is ``oiCcy`` (coins).
- Funding is a fraction per interval; the interval is ``nextFundingTime - fundingTime`` (usually 8 h).
- Liquidations are normalized to the liquidated *position* side: ``posSide`` when it says long/short,
  else the order side (a ``sell`` closes a long, a ``buy`` closes a short).
- Intervals of 6 h and longer use OKX's UTC-aligned bars (``6Hutc``, ``1Dutc``), not the default
  Hong Kong-aligned ones, so they line up with every other venue.
- Normalized symbols are canonical (``BTCUSDT``), never the venue's ``BTC-USDT-SWAP``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.market import (
    Candle,
    CandleInterval,
    FundingRate,
    Liquidation,
    LongShortPoint,
    OpenInterest,
    OpenInterestPoint,
    OrderBook,
    PositionSide,
    SymbolInfo,
    Ticker24h,
    Trade,
    utc_from_ms,
)
from providers.normalize import DEFAULT_FUNDING_INTERVAL_HOURS, funding_interval_hours, oldest_first

if TYPE_CHECKING:
    from providers.okx.models import (
        OkxBook,
        OkxCandle,
        OkxFundingRate,
        OkxFundingRateHistory,
        OkxInstrument,
        OkxLiquidationItem,
        OkxLongShortRatio,
        OkxOpenInterest,
        OkxOpenInterestHist,
        OkxTicker,
        OkxTrade,
    )

PROVIDER = "okx"

# /api/v5/market/candles ``bar``: 6 h and longer in their UTC-aligned form
CANDLE_BARS: dict[CandleInterval, str] = {
    CandleInterval.M1: "1m",
    CandleInterval.M3: "3m",
    CandleInterval.M5: "5m",
    CandleInterval.M15: "15m",
    CandleInterval.M30: "30m",
    CandleInterval.H1: "1H",
    CandleInterval.H2: "2H",
    CandleInterval.H4: "4H",
    CandleInterval.H6: "6Hutc",
    CandleInterval.H12: "12Hutc",
    CandleInterval.D1: "1Dutc",
    CandleInterval.W1: "1Wutc",
}
# /api/v5/rubik/stat/contracts/* ``period``: the same spellings, but nothing shorter than 5m
STAT_PERIODS: dict[CandleInterval, str] = {k: v for k, v in CANDLE_BARS.items() if k.duration.total_seconds() >= 300}


def canonical_symbol(inst_id: str) -> str:
    """``BTC-USDT-SWAP`` → ``BTCUSDT`` (futures keep their expiry: ``XRP-USD-230929`` → ``XRPUSD230929``)."""
    return inst_id.removesuffix("-SWAP").replace("-", "")


def inst_id(canonical: str) -> str | None:
    """``BTCUSDT`` → ``BTC-USDT-SWAP``, the USDT swap of a canonical symbol (None for any other quote)."""
    return f"{canonical.removesuffix('USDT')}-USDT-SWAP" if canonical.endswith("USDT") else None


def liquidated_side(pos_side: str, order_side: str) -> PositionSide:
    """The side of the position that was liquidated.

    ``posSide`` names it directly (``long`` / ``short``); in net mode it is ``net`` (or empty) and the
    liquidation order's ``side`` decides: a ``sell`` order closes a long, a ``buy`` order a short.
    """
    if pos_side == "long":
        return PositionSide.LONG
    if pos_side == "short":
        return PositionSide.SHORT
    if order_side == "sell":
        return PositionSide.LONG
    if order_side == "buy":
        return PositionSide.SHORT
    raise ValueError(f"liquidation without a usable side: posSide={pos_side!r} side={order_side!r}")


def taker_side(side: str) -> str:
    """OKX's taker ``buy`` / ``sell`` in our spelling."""
    return {"buy": "BUY", "sell": "SELL"}[side]


def to_candles(rows: tuple[OkxCandle, ...]) -> tuple[Candle, ...]:
    """Volume is ``volCcy`` (coins), not ``vol`` (contracts); oldest-first out."""
    return tuple(
        Candle(
            open_time=utc_from_ms(r.ts),
            open=r.o,
            high=r.h,
            low=r.l,
            close=r.c,
            volume=r.volCcy,
            quote_volume=r.volCcyQuote,
        )
        for r in oldest_first(rows, lambda r: r.ts)
    )


def to_ticker(row: OkxTicker) -> Ticker24h:
    """For swaps ``volCcy24h`` is base coins; OKX gives no quote volume for swaps, so it is estimated as
    ``volCcy24h × last``. The change is against ``open24h`` (the price 24 h ago), in percent."""
    return Ticker24h(
        symbol=canonical_symbol(row.instId),
        last_price=row.last,
        price_change_pct=(row.last - row.open24h) / row.open24h * 100.0 if row.open24h else 0.0,
        high=row.high24h,
        low=row.low24h,
        volume=row.volCcy24h,
        quote_volume=row.volCcy24h * row.last,
        close_time=utc_from_ms(row.ts),
    )


def to_funding(row: OkxFundingRate) -> FundingRate:
    """The rate charged at ``fundingTime``; interval = ``nextFundingTime - fundingTime`` (8 h when unknown)."""
    next_time = row.nextFundingTime or 0
    interval = (
        (next_time - row.fundingTime) / 3_600_000 if next_time > row.fundingTime else DEFAULT_FUNDING_INTERVAL_HOURS
    )
    return FundingRate(
        symbol=canonical_symbol(row.instId),
        rate=row.fundingRate,
        interval_hours=interval,
        time=utc_from_ms(row.ts or row.fundingTime),
        next_funding_time=utc_from_ms(row.fundingTime),
    )


def to_funding_history(rows: tuple[OkxFundingRateHistory, ...]) -> tuple[FundingRate, ...]:
    """``realizedRate`` (the rate actually settled) when present, else ``fundingRate``; the interval is the
    spacing of ``fundingTime``."""
    ordered = oldest_first(rows, lambda r: r.fundingTime)
    interval = funding_interval_hours(r.fundingTime for r in ordered)
    return tuple(
        FundingRate(
            symbol=canonical_symbol(r.instId),
            rate=r.realizedRate if r.realizedRate is not None else r.fundingRate,
            interval_hours=interval,
            time=utc_from_ms(r.fundingTime),
        )
        for r in ordered
    )


def to_open_interest(row: OkxOpenInterest) -> OpenInterest:
    """Coins from ``oiCcy``; USD from ``oiUsd`` (``None`` when OKX omits it: the adapter fills it in)."""
    return OpenInterest(symbol=canonical_symbol(row.instId), coins=row.oiCcy, usd=row.oiUsd, time=utc_from_ms(row.ts))


def contract_value(instruments: tuple[OkxInstrument, ...]) -> float:
    """Coins per contract of the one instrument asked for. Only linear contracts have ``ctVal`` in coins
    (inverse ones count USD), so anything else is rejected."""
    if not instruments:
        raise ValueError("empty data")
    row = instruments[0]
    if row.ctType != "linear":
        raise ValueError(f"{row.instId}: ctType {row.ctType!r}, expected linear")
    if row.ctVal is None or row.ctVal <= 0:
        raise ValueError(f"{row.instId}: ctVal {row.ctVal} is not positive")
    return row.ctVal


def contract_values(instruments: tuple[OkxInstrument, ...]) -> dict[str, float]:
    """Every linear swap's coins per contract, by ``instId``."""
    return {
        row.instId: row.ctVal
        for row in instruments
        if row.ctType == "linear" and row.ctVal is not None and row.ctVal > 0
    }


def to_liquidations(
    items: tuple[OkxLiquidationItem, ...], ctval: float, only_inst_id: str | None = None
) -> tuple[Liquidation, ...]:
    """``sz`` is contracts (× ``ctval`` = coins); ``bkPx`` the bankruptcy price. Only items of
    ``only_inst_id`` are kept when given (an underlying can list several instruments)."""
    liquidations = [
        Liquidation(
            venue=PROVIDER,
            symbol=canonical_symbol(item.instId),
            side=liquidated_side(detail.posSide, detail.side),
            price=detail.bkPx,
            size=detail.sz * ctval,
            time=utc_from_ms(detail.ts),
        )
        for item in items
        if only_inst_id is None or item.instId == only_inst_id
        for detail in item.details
    ]
    return tuple(oldest_first(liquidations, lambda liq: liq.time))


def to_long_short(rows: tuple[OkxLongShortRatio, ...]) -> tuple[LongShortPoint, ...]:
    """The long share is ``ratio / (1 + ratio)``, carried in percent."""
    return tuple(
        LongShortPoint(time=utc_from_ms(r.ts), long_pct=r.ratio / (1.0 + r.ratio) * 100.0, long_short_ratio=r.ratio)
        for r in oldest_first(rows, lambda r: r.ts)
    )


def to_open_interest_history(rows: tuple[OkxOpenInterestHist, ...]) -> tuple[OpenInterestPoint, ...]:
    return tuple(
        OpenInterestPoint(time=utc_from_ms(r.ts), open_interest=r.oiCcy, open_interest_usd=r.oiUsd, unit="coin")
        for r in oldest_first(rows, lambda r: r.ts)
    )


def to_order_book(book: OkxBook, ctval: float, symbol: str) -> OrderBook:
    """Level sizes are contracts (× ``ctval`` = coins)."""

    def levels(rows: tuple[tuple[float, ...], ...]) -> tuple[tuple[float, float], ...]:
        return tuple((r[0], r[1] * ctval) for r in rows)

    return OrderBook(symbol=symbol, bids=levels(book.bids), asks=levels(book.asks), time=utc_from_ms(book.ts))


def to_trades(rows: tuple[OkxTrade, ...], ctval: float) -> tuple[Trade, ...]:
    """``sz`` is contracts for swaps: pass the contract value (1.0 for spot); ``side`` is the taker's."""
    return tuple(
        Trade(
            venue=PROVIDER,
            symbol=canonical_symbol(r.instId),
            taker_side=r.side.upper(),
            price=r.px,
            size=r.sz * ctval,
            time=utc_from_ms(r.ts),
        )
        for r in oldest_first(rows, lambda r: r.ts)
    )


def to_listing(instruments: tuple[OkxInstrument, ...]) -> dict[str, SymbolInfo]:
    """Live USDT-margined linear swaps by canonical symbol (``BTC-USDT-SWAP`` → ``BTCUSDT``)."""
    listing: dict[str, SymbolInfo] = {}
    for row in instruments:
        base, _, rest = row.instId.partition("-")
        quote = rest.partition("-")[0]
        if row.ctType != "linear" or row.state != "live" or quote != "USDT" or not base:
            continue
        listed = utc_from_ms(int(row.listTime)) if row.listTime.isdigit() else None
        listing[f"{base}{quote}"] = SymbolInfo(
            symbol=f"{base}{quote}",
            base_asset=base,
            quote_asset=quote,
            status="TRADING",
            onboard_date=listed,
            contract_type="PERPETUAL",
            tick_size=row.tickSz,
        )
    return listing


def to_open_interests(rows: tuple[OkxOpenInterest, ...]) -> dict[str, OpenInterest]:
    """The USDT-margined swaps of the all-swaps answer, by canonical symbol (``usd`` ``None`` where OKX
    omits ``oiUsd``)."""
    return {oi.symbol: oi for oi in (to_open_interest(r) for r in rows if r.instId.endswith("-USDT-SWAP"))}


def to_tickers(rows: tuple[OkxTicker, ...]) -> dict[str, Ticker24h]:
    """The USDT-margined swaps of the all-swaps answer, by canonical symbol."""
    return {t.symbol: t for t in (to_ticker(r) for r in rows if r.instId.endswith("-USDT-SWAP"))}
