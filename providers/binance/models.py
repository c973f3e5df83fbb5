"""Binance USD-M futures response models, shaped exactly like the venue's JSON (camelCase fields).

Pydantic parses Binance's decimal strings to float (the written decision in :mod:`engine.market`) and
rejects a payload that lacks a documented field, which the HTTP layer reports as MalformedPayload.
Unknown fields are ignored: Binance adds fields (``markPrice`` and ``rateType`` on fundingRate, ``nq``
on aggTrades, ``CMCCirculatingSupply`` on openInterestHist) without notice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, field_validator

from providers.normalize import FiniteFloat  # noqa: TC001 (pydantic resolves the row type's annotations at run time)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from pydantic_core import InitErrorDetails


class _Venue(BaseModel):
    # allow_inf_nan=False: Binance sends numbers as strings and "NaN" would parse; a non-finite number
    # is a malformed payload (the input is missing and named), not a value
    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)


class BinanceSymbol(_Venue):
    symbol: str
    pair: str = ""
    contractType: str
    status: str
    baseAsset: str
    quoteAsset: str
    marginAsset: str = ""
    onboardDate: int | None = None
    deliveryDate: int | None = None
    filters: tuple[dict[str, Any], ...] = ()

    @property
    def tick_size(self) -> float | None:
        """The ``PRICE_FILTER`` entry's ``tickSize`` (None if absent, unparsable or not positive)."""
        for entry in self.filters:
            if entry.get("filterType") == "PRICE_FILTER":
                return positive_float(entry.get("tickSize"))
        return None


def positive_float(text: Any) -> float | None:
    """A tick size as a float; None unless a finite positive number."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if 0 < value < float("inf") else None


class BinanceExchangeInfo(_Venue):
    serverTime: int
    symbols: tuple[BinanceSymbol, ...]


class BinanceTicker24h(_Venue):
    symbol: str
    priceChange: float
    priceChangePercent: float
    lastPrice: float
    highPrice: float
    lowPrice: float
    volume: float
    quoteVolume: float
    openTime: int
    closeTime: int


class BinancePremiumIndex(_Venue):
    symbol: str
    markPrice: float
    indexPrice: float
    lastFundingRate: float | None = None  # empty string for delivery contracts
    nextFundingTime: int  # 0 for delivery contracts
    time: int

    @field_validator("lastFundingRate", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        """Delivery contracts (``BTCUSDT_250926``) answer ``"lastFundingRate": ""``: no funding, not an error."""
        return None if value == "" else value


class BinanceFundingInfo(_Venue):
    """A ``/fapi/v1/fundingInfo`` row: only symbols whose cap, floor or interval Binance adjusted are listed."""

    symbol: str
    fundingIntervalHours: int


class BinanceFundingRate(_Venue):
    symbol: str
    fundingTime: int
    fundingRate: float
    markPrice: float | None = None


class BinanceOpenInterest(_Venue):
    symbol: str
    openInterest: float
    time: int


class BinanceOpenInterestHist(_Venue):
    symbol: str
    sumOpenInterest: float
    sumOpenInterestValue: float
    timestamp: int


class BinanceLongShortRatio(_Venue):
    """globalLongShortAccountRatio, topLongShortAccountRatio and topLongShortPositionRatio rows."""

    symbol: str
    longShortRatio: float
    longAccount: float  # a fraction 0..1 despite the name (also for the position ratio)
    shortAccount: float
    timestamp: int


class BinanceTakerRatio(_Venue):
    buySellRatio: float
    buyVol: float
    sellVol: float
    timestamp: int


class BinanceAggTrade(_Venue):
    """One ``/fapi/v1/aggTrades`` row: ``m`` true when the buyer was the maker (the taker sold)."""

    a: int  # aggregate trade id
    p: float  # price
    q: float  # quantity, coins
    T: int  # trade time, epoch ms
    m: bool  # buyer is the maker


class BinanceDepth(_Venue):
    lastUpdateId: int
    E: int | None = None
    T: int | None = None
    bids: tuple[tuple[float, float], ...]
    asks: tuple[tuple[float, float], ...]


class BinanceKline(NamedTuple):
    """One ``/fapi/v1/klines`` row, validated by position as Binance sends it (an array; the twelfth column,
    "ignore", is dropped). A row type, not a model: a whole answer (200 rows) validates in one pydantic call
    straight from the arrays, about 0.1 ms where naming every row's fields for a model took 0.4 ms (the cold
    ``signal``'s largest answer). Parsed by :meth:`from_row`/:meth:`from_rows`, its floats are finite
    (:data:`FiniteFloat`), as in every venue model; built by hand (``BinanceKline(...)``, ``_replace``) nothing is
    checked, and the non-finite scan trusts the annotation, so production code only parses rows."""

    open_time: int
    open: FiniteFloat
    high: FiniteFloat
    low: FiniteFloat
    close: FiniteFloat
    volume: FiniteFloat
    close_time: int
    quote_volume: FiniteFloat
    trades: int
    taker_buy_volume: FiniteFloat
    taker_buy_quote_volume: FiniteFloat

    @classmethod
    def from_row(cls, row: Sequence[object]) -> BinanceKline:
        """One row; a short row, a non-number or a non-finite number raises ``ValidationError`` naming the
        field (``close``), as a model's would."""
        try:
            return _KLINE_ROW.validate_python(_columns(row))
        except ValidationError as exc:
            raise _named(exc, column_at=0) from None

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[object]]) -> tuple[BinanceKline, ...]:
        """Every row as :meth:`from_row` parses it, in one pydantic call (errors: row index, field name)."""
        try:
            return _KLINE_ROWS.validate_python([_columns(row) for row in rows])
        except ValidationError as exc:
            raise _named(exc, column_at=1) from None


_KLINE_COLUMNS = len(BinanceKline._fields)
_KLINE_ROW = TypeAdapter(BinanceKline)
_KLINE_ROWS = TypeAdapter(tuple[BinanceKline, ...])


def _named(exc: ValidationError, *, column_at: int) -> ValidationError:
    """The same errors with the column index at ``loc[column_at]`` spelled as its field name (``1.4`` →
    ``1.close``): what an operator reads in the MalformedPayload detail (only on the failure path). A
    location that stops before the column (an error about a whole row) is left as it is."""
    details: list[InitErrorDetails] = []
    for error in exc.errors(include_url=False):
        loc = list(error["loc"])
        column = loc[column_at] if len(loc) > column_at else None
        if isinstance(column, int) and 0 <= column < _KLINE_COLUMNS:
            loc[column_at] = BinanceKline._fields[column]
        details.append({"type": error["type"], "loc": tuple(loc), "input": error["input"], "ctx": error.get("ctx", {})})
    return ValidationError.from_exception_data(exc.title, details)


def _columns(row: Sequence[object]) -> Sequence[object]:
    if not isinstance(row, list | tuple):  # a slice of a string or a dict would not be a row
        raise TypeError(f"kline row is {type(row).__name__}, expected an array")
    return row[:_KLINE_COLUMNS]
