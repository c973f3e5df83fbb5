"""OKX v5 response models, shaped like the venue's JSON (camelCase fields, rows as OKX sends them).

Every REST answer is ``{"code": "0", "msg": "", "data": [...]}``; :func:`data_rows` reads ``data`` into
models (the error hook in :mod:`providers.okx.raw` has already turned a non-zero ``code`` into an error).
Series stay in the venue's order (newest-first) here; :mod:`providers.okx.domain` reorders them.
"""

from __future__ import annotations

from typing import Any, TypeVar

from providers._shared import OptFloat, OptInt, RowModel, VenueModel, rows_as

M = TypeVar("M", bound=VenueModel)


def data_list(payload: Any) -> list[Any]:
    """The ``data`` list of an answer envelope."""
    data = payload["data"]
    if not isinstance(data, list):
        raise TypeError(f"data is {type(data).__name__}, expected a list")
    return data


def data_rows(payload: Any, model: type[M]) -> tuple[M, ...]:
    """``data`` as models: objects validated by name, arrays (:class:`RowModel`) by position."""
    return rows_as(model, data_list(payload))


def first_row(payload: Any, model: type[M]) -> M:
    """The single row of a one-instrument answer; an empty ``data`` is a malformed answer."""
    data = data_list(payload)
    if not data:
        raise ValueError("empty data")
    return model.model_validate(data[0])


class OkxCandle(RowModel):
    """``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]``: volume in contracts, in base coin, in quote;
    ``confirm`` ``0`` while the bar is still forming."""

    ts: int
    o: float
    h: float
    l: float  # noqa: E741 - OKX's name
    c: float
    vol: OptFloat = None
    volCcy: float
    volCcyQuote: float
    confirm: str = ""


class OkxTicker(VenueModel):
    instId: str
    last: float
    open24h: float
    high24h: float
    low24h: float
    volCcy24h: float  # base coins for swaps (vol24h is contracts)
    ts: int


class OkxFundingRate(VenueModel):
    """``/public/funding-rate`` (and the ``funding-rate`` push, which has no ``nextFundingTime`` / ``ts``)."""

    instId: str
    fundingRate: float
    fundingTime: int
    nextFundingTime: OptInt = None
    ts: OptInt = None


class OkxFundingRateHistory(VenueModel):
    instId: str
    fundingRate: float  # the last prediction
    realizedRate: OptFloat = None  # what was actually settled, when OKX sends it
    fundingTime: int


class OkxOpenInterest(VenueModel):
    instId: str
    oiCcy: float  # coins (``oi`` is contracts)
    oiUsd: OptFloat = None  # absent from older answers
    ts: int


class OkxMarkPrice(VenueModel):
    markPx: float


class OkxInstrument(VenueModel):
    instId: str  # BTC-USDT-SWAP
    ctType: str = "linear"  # linear: ctVal counts coins; inverse: USD
    ctVal: OptFloat = None  # coins per contract
    state: str = "live"  # live / suspend / preopen / test
    settleCcy: str = ""  # USDT for USDT-margined swaps
    listTime: str = ""  # epoch ms as a string
    tickSz: OptFloat = None  # price increment


class OkxLiquidationDetail(VenueModel):
    bkPx: float  # bankruptcy price
    sz: float  # contracts
    ts: int
    posSide: str = ""  # long / short; net or empty in net mode
    side: str = ""  # the liquidation ORDER's side


class OkxLiquidationItem(VenueModel):
    instId: str
    details: tuple[OkxLiquidationDetail, ...]


class OkxLongShortRatio(RowModel):
    """``[ts, ratio]``: accounts net long / accounts net short."""

    ts: int
    ratio: float


class OkxOpenInterestHist(RowModel):
    """``[ts, oi, oiCcy, oiUsd]``: contracts, coins, USD."""

    ts: int
    oi: OptFloat = None
    oiCcy: float
    oiUsd: OptFloat = None


class OkxBook(VenueModel):
    """Levels ``[price, contracts, "0" (deprecated), orders]``."""

    asks: tuple[tuple[float, ...], ...]
    bids: tuple[tuple[float, ...], ...]
    ts: int


class OkxTrade(VenueModel):
    instId: str
    side: str  # the taker's
    sz: float  # contracts for swaps, coins for spot
    px: float
    ts: int
