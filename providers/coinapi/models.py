"""CoinAPI wire models, shaped like its JSON. Times are ISO 8601 with seven fractional digits
(``2017-08-09T14:31:00.0000000Z``) and parse to aware UTC datetimes; numbers are JSON numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from providers._shared import VenueModel


def parse_time(text: str) -> datetime:
    """CoinAPI's ISO 8601 (``...00.0000000Z``, seven fractional digits) to an aware UTC datetime."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"time without a zone: {text!r}")
    return parsed


Time = Annotated[datetime, BeforeValidator(parse_time)]


class CoinApiOhlcv(VenueModel):
    """``/v1/ohlcv/{symbol_id}/latest|history`` row; ``time_open`` / ``time_close`` (first and last trade)
    and ``trades_count`` are not read."""

    time_period_start: Time  # candle open
    price_open: float
    price_high: float
    price_low: float
    price_close: float
    volume_traded: float  # base asset


class CoinApiTrade(VenueModel):
    time_exchange: Time
    price: float
    size: float
    taker_side: str  # BUY, SELL, BUY_ESTIMATED, SELL_ESTIMATED, UNKNOWN


class CoinApiLevel(VenueModel):
    price: float
    size: float  # ``id`` only on L3 venues


class CoinApiOrderBook(VenueModel):
    time_exchange: Time
    asks: tuple[CoinApiLevel, ...]
    bids: tuple[CoinApiLevel, ...]


class CoinApiQuote(VenueModel):
    """``/v1/quotes/{symbol_id}/current``: best bid and ask. The published example wraps the object in a
    list; both shapes are read."""

    symbol_id: str
    ask_price: float
    ask_size: float
    bid_price: float
    bid_size: float
    time: Time = Field(validation_alias="time_exchange")

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, payload: Any) -> Any:
        return payload[0] if isinstance(payload, list) and payload else payload


class CoinApiExchangeRate(VenueModel):
    base: str = Field(validation_alias="asset_id_base")
    quote: str = Field(validation_alias="asset_id_quote")
    rate: float
    time: Time
