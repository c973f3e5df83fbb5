"""CoinGlass v4 wire models, shaped like the venue's JSON (snake_case names as CoinGlass sends them).

Every answer is ``{"code": "0", "msg": "success", "data": ...}``; these models are the ``data`` rows.
Values arrive as numbers or numeric strings (price and OHLC history as strings, OI / liquidation / ratio
values as numbers) and both parse; a boolean or a null where a number is documented is an error. Units
stay CoinGlass's here: funding is *percent* per the venue's interval, ratios are already percent, times
are epoch milliseconds of the bar's *open*. :mod:`providers.coinglass.domain` converts.

Snapshot rows carry windowed fields (``price_change_percent_5m`` … ``_24h``); they are gathered into
``windowed``: field name → window → value (``windowed["price_change_percent"]["24h"]``), and the
snapshot models (:class:`CoinMarket`, :class:`ExchangeOpenInterest`, :class:`CoinLiquidations`) are
already in our units, so they are the results too: no conversion copies them field by field.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AliasChoices, BeforeValidator, ConfigDict, Field, model_validator

from engine.market import LiquidationTotals
from providers._shared import OptFloat, VenueModel


def _number(value: Any) -> Any:
    """CoinGlass sends numbers and numeric strings; ``True`` is not a number here (pydantic would take it)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    return value


Num = Annotated[float, BeforeValidator(_number)]
WINDOW_SUFFIX = re.compile(r"^(?P<name>.+)_(?P<window>\d+[mhdw])$")
_WINDOW = re.compile(r"^(\d+)([mhdw])$")
_WINDOW_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class _Bar(VenueModel):
    time: int  # epoch ms of the bar's open


def _either(*names: str) -> Any:
    """A field the endpoints of one family name differently (``aggregated_long_liquidation_usd`` on the
    coin route, ``long_liquidation_usd`` on the pair route): one model reads them all."""
    return Field(validation_alias=AliasChoices(*names))


class CgLiquidationBar(_Bar):
    """``liquidation/aggregated-history`` and ``liquidation/history``: USD of liquidated *long* and *short*
    positions during the bar."""

    long_usd: Num = _either("aggregated_long_liquidation_usd", "long_liquidation_usd")
    short_usd: Num = _either("aggregated_short_liquidation_usd", "short_liquidation_usd")


class CgLongShortRatio(_Bar):
    """The three ratio histories (global accounts, top positions, top accounts): percent long (already
    percent, 0..100) and the long/short ratio, each route with its own field prefix."""

    long_percent: Num = _either("global_account_long_percent", "top_position_long_percent", "top_account_long_percent")
    long_short_ratio: Num = _either(
        "global_account_long_short_ratio", "top_position_long_short_ratio", "top_account_long_short_ratio"
    )


class CgOhlc(_Bar):
    """OHLC history (open interest in USD; funding in percent): only ``close`` is read."""

    close: Num


class CgTakerVolume(_Bar):
    """Both taker-volume histories: ``aggregated_buy_volume_usd`` (coin) or ``taker_buy_volume_usd`` (pair)."""

    buy_usd: Num = _either("aggregated_buy_volume_usd", "taker_buy_volume_usd")
    sell_usd: Num = _either("aggregated_sell_volume_usd", "taker_sell_volume_usd")


def window_duration(window: str) -> timedelta:
    """``"5m"``, ``"4h"``, ``"24h"``, ``"1d"``, ``"1w"`` as a timedelta (CoinGlass window suffixes)."""
    match = _WINDOW.match(window)
    if match is None:
        raise ValueError(f"not a window: {window!r}")
    return timedelta(**{_WINDOW_UNITS[match.group(2)]: int(match.group(1))})


class WindowOf:
    """A windowed field read as an attribute: ``row.windowed[name]``, ``{}`` when the answer has none."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, row: _Windowed, owner: type[_Windowed] | None = None) -> dict[str, float]:
        return row.windowed.get(self.name, {})


class _Windowed(VenueModel):
    """A snapshot row whose ``<name>_<window>`` fields are gathered into ``windowed[name][window]``."""

    model_config = ConfigDict(ignored_types=(WindowOf,))

    windowed: dict[str, dict[str, Num]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _gather_windows(cls, row: Any) -> Any:
        if not isinstance(row, dict):
            return row
        windowed: dict[str, dict[str, Any]] = {}
        for key, value in row.items():
            match = WINDOW_SUFFIX.match(key)
            if match is not None and value is not None:
                windowed.setdefault(match["name"], {})[match["window"]] = value
        return {**row, "windowed": windowed}

    @property
    def liquidation_windows(self) -> dict[str, LiquidationTotals]:
        """``long_liquidation_usd_<w>`` / ``short_liquidation_usd_<w>`` pairs as totals per window (long /
        short = the liquidated *position* side)."""
        shorts = self.windowed.get("short_liquidation_usd", {})
        return {
            w: LiquidationTotals(window=window_duration(w), long_usd=long_usd, short_usd=shorts[w])
            for w, long_usd in self.windowed.get("long_liquidation_usd", {}).items()
            if w in shorts
        }


class CoinMarket(_Windowed):
    """``coins-markets``: one coin aggregated over the exchanges CoinGlass follows (Standard plan and up).

    ``*_pct`` fields are percent as sent (funding ``avg_funding_rate_by_*`` included: percent per the
    venues' intervals, *not* converted); windowed fields map a window (``"5m"`` … ``"24h"``) to its value.
    Fields the answer leaves out are ``None`` / empty (the docs' ETH row stops after the price changes).

    Sample: ``{"symbol": "BTC", "current_price": 84773.6, "avg_funding_rate_by_oi": 0.00196,
    "avg_funding_rate_by_vol": 0.002647, "market_cap_usd": 1683310500117.051, "open_interest_usd":
    55002072334.9376, "open_interest_quantity": 648525.0328, "price_change_percent_24h": 1.06,
    "open_interest_change_percent_24h": 4.58, "long_short_ratio_24h": 1.0313,
    "long_liquidation_usd_24h": 17793322.595016, "short_liquidation_usd_24h": 9725970.37863}``
    """

    symbol: str
    price: Num = Field(validation_alias="current_price")
    avg_funding_rate_by_oi_pct: OptFloat = Field(None, validation_alias="avg_funding_rate_by_oi")
    avg_funding_rate_by_vol_pct: OptFloat = Field(None, validation_alias="avg_funding_rate_by_vol")
    market_cap_usd: OptFloat = None
    open_interest_usd: OptFloat = None
    open_interest_quantity: OptFloat = None
    open_interest_market_cap_ratio: OptFloat = None
    open_interest_volume_ratio: OptFloat = None

    price_change_pct = WindowOf("price_change_percent")
    open_interest_change_pct = WindowOf("open_interest_change_percent")
    volume_change_pct = WindowOf("volume_change_percent")
    volume_change_usd = WindowOf("volume_change_usd")
    long_short_ratio = WindowOf("long_short_ratio")

    @property
    def liquidations(self) -> dict[str, LiquidationTotals]:
        return self.liquidation_windows


class ExchangeOpenInterest(_Windowed):
    """``open-interest/exchange-list?symbol=BTC``: one exchange (``exchange == "All"``: the sum, first).

    Sample: ``{"exchange": "All", "symbol": "BTC", "open_interest_usd": 57437891724.5572,
    "open_interest_quantity": 659557.3064,  # coins
    "open_interest_by_stable_coin_margin": 48920274435.15,  # usd
    "open_interest_quantity_by_coin_margin": 97551.2547, "open_interest_quantity_by_stable_coin_margin":
    562006.0517, "open_interest_change_percent_24h": 0.9}`` (the live answer adds
    ``open_interest_by_coin_margin``; the docs example lacks it.)
    """

    exchange: str
    symbol: str
    open_interest_usd: Num
    open_interest_quantity: Num  # coins
    open_interest_by_coin_margin_usd: OptFloat = Field(None, validation_alias="open_interest_by_coin_margin")
    open_interest_by_stable_coin_margin_usd: OptFloat = Field(
        None, validation_alias="open_interest_by_stable_coin_margin"
    )
    open_interest_quantity_by_coin_margin: OptFloat = None
    open_interest_quantity_by_stable_coin_margin: OptFloat = None

    change_pct = WindowOf("open_interest_change_percent")


class CoinLiquidations(_Windowed):
    """``liquidation/coin-list?exchange=Binance`` (Startup plan and up): liquidated USD per trailing window.

    Sample: ``{"symbol": "BTC", "liquidation_usd_24h": 82280481.50425325, "long_liquidation_usd_24h":
    68437447.33734027, "short_liquidation_usd_24h": 13843034.16691298, "long_liquidation_usd_1h":
    3182915.16289, "short_liquidation_usd_1h": 100720.7902}``
    """

    symbol: str

    @property
    def windows(self) -> dict[str, LiquidationTotals]:  # "1h", "4h", "12h", "24h"
        return self.liquidation_windows


class CgExchangeLiquidations(VenueModel):
    """``liquidation/exchange-list``: the docs spell the sides in snake case, the live answer in camel."""

    exchange: str
    liquidation_usd: Num
    long_usd: Num = _either("long_liquidation_usd", "longLiquidation_usd")
    short_usd: Num = _either("short_liquidation_usd", "shortLiquidation_usd")


class CgExchangeFunding(VenueModel):
    """One exchange of a coin in ``funding-rate/exchange-list`` (rate or interval null for some venues)."""

    exchange: str
    funding_rate: OptFloat = None  # percent per interval
    funding_rate_interval: OptFloat = None  # hours
    next_funding_time: OptFloat = None  # epoch ms, a float in live answers


class CgCoinFunding(VenueModel):
    symbol: str
    stablecoin_margin_list: tuple[CgExchangeFunding, ...] | None = None
    token_margin_list: tuple[CgExchangeFunding, ...] | None = None


class CgFearGreed(VenueModel):
    """``index/fear-greed-history``: parallel arrays; ``time_list`` in ms live, in seconds in the docs."""

    data_list: tuple[Num, ...]
    time_list: tuple[Num, ...]
