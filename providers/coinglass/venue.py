"""CoinGlass (keyed: header ``CG-API-KEY``) on the common :class:`~providers.venue.MarketProvider` interface,
preferred for liquidations, ratios and OI when a key is set."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar

from engine.market import OpenInterest
from providers.coinglass.domain import DEFAULT_EXCHANGE, PROVIDER, CoinGlassClient, to_long_short
from providers.coinglass.raw import (
    FUNDING_RATE_EXCHANGE_LIST,
    GLOBAL_ACCOUNT_RATIO_HISTORY,
    LIQUIDATION_AGGREGATED_HISTORY,
    OPEN_INTEREST_AGGREGATED_HISTORY,
    OPEN_INTEREST_EXCHANGE_LIST,
    TOP_POSITION_RATIO_HISTORY,
    coinglass_error_hook,
)
from providers.errors import InvalidSymbol
from providers.venue import Capability, MarketProvider

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.market import CandleInterval, FundingRate, LiquidationTotals, LongShortPoint, OpenInterestPoint
    from providers.symbols import Instrument
    from providers.venue import ProviderDeps

T = TypeVar("T")
KEY_SETTING = "COINGLASS_API_KEY"
DEFAULT_BASE_URL = "https://open-api-v4.coinglass.com"
# CoinGlass meters per API key and per minute, by plan: "The rate limit is depending on the paid plan"
# (https://docs.coinglass.com/reference/responses-error-codes; the answer headers API-KEY-MAX-LIMIT /
# API-KEY-USE-LIMIT report the key's limit and use). Plans (https://www.coinglass.com/pricing): Hobbyist
# 30/min, Startup 80/min, Standard 300/min. The default is the smallest plan, 30/min = 0.5/s, so any key
# stays under its limit; a bigger plan raises it in configuration.
RATE_LIMIT_PER_SECOND = 0.5


def _last(series: tuple[T, ...], limit: int) -> tuple[T, ...]:
    """The newest ``limit`` items of an oldest-first series (the venue may send more than asked)."""
    return series[-limit:] if limit > 0 else ()


class CoinGlassProvider(MarketProvider):
    """CoinGlass behind the normalized :class:`MarketProvider` interface (keyed).

    - FUNDING: ``funding-rate/exchange-list``, the ``funding_exchange`` (Binance by default: the deepest
      USDT perpetual, the same venue the keyless path reads) stablecoin-margined row, as a fraction per
      that row's ``funding_rate_interval``.
    - FUNDING_HISTORY: ``funding-rate/oi-weight-history`` in 8h bars (the cross-venue view), fractions
      recorded per 8 h (see :func:`providers.coinglass.domain.to_funding`).
    - OPEN_INTEREST: ``open-interest/exchange-list``, the ``All`` row (coins and USD), timed at receipt.
    - OPEN_INTEREST_HISTORY: ``open-interest/aggregated-history``, unit ``usd`` (CoinGlass gives notional).
    - LONG_SHORT_RATIO: ``global-long-short-account-ratio/history`` on Binance (percent of accounts long).
    - TOP_TRADER_POSITIONS: ``top-long-short-position-ratio/history`` on Binance (percent of positions long).
    - LIQUIDATION_TOTALS: ``liquidation/aggregated-history``, the last 24 h over the major venues.

    Liquidations are served as totals and bars (:class:`CoinGlassClient`), not as the individual orders
    that :meth:`MarketProvider.liquidations` promises, so LIQUIDATIONS is not claimed.
    """

    name = PROVIDER
    keyed = True
    capabilities = frozenset(
        {
            Capability.FUNDING,
            Capability.FUNDING_HISTORY,
            Capability.OPEN_INTEREST,
            Capability.OPEN_INTEREST_HISTORY,
            Capability.LONG_SHORT_RATIO,
            Capability.TOP_TRADER_POSITIONS,
            Capability.LIQUIDATION_TOTALS,
        }
    )
    endpoints = MappingProxyType(
        {
            Capability.FUNDING: FUNDING_RATE_EXCHANGE_LIST.name,
            Capability.OPEN_INTEREST: OPEN_INTEREST_EXCHANGE_LIST.name,
            Capability.OPEN_INTEREST_HISTORY: OPEN_INTEREST_AGGREGATED_HISTORY.name,
            Capability.LONG_SHORT_RATIO: GLOBAL_ACCOUNT_RATIO_HISTORY.name,
            Capability.TOP_TRADER_POSITIONS: TOP_POSITION_RATIO_HISTORY.name,
            Capability.LIQUIDATION_TOTALS: LIQUIDATION_AGGREGATED_HISTORY.name,
        }
    )

    def __init__(
        self,
        client: CoinGlassClient,
        *,
        funding_exchange: str = DEFAULT_EXCHANGE,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = client
        self._funding_exchange = funding_exchange
        self._clock = clock or (lambda: datetime.now(UTC))

    async def funding(self, instrument: Instrument) -> FundingRate:
        rates = await self.client.funding_rates_by_exchange(instrument)
        rate = rates.get(self._funding_exchange)
        if rate is None:
            raise InvalidSymbol(
                PROVIDER,
                FUNDING_RATE_EXCHANGE_LIST.name,
                f"no {self._funding_exchange} funding rate with an interval for {instrument.base}",
            )
        return rate

    async def funding_history(self, instrument: Instrument, limit: int) -> tuple[FundingRate, ...]:
        return _last(await self.client.funding_rate_oi_weight_history(instrument, "8h", limit), limit)

    async def open_interest(self, instrument: Instrument) -> OpenInterest:
        rows = await self.client.open_interest_exchange_list(instrument)
        total = next((r for r in rows if r.exchange == "All"), None)
        if total is None:
            raise InvalidSymbol(
                PROVIDER, OPEN_INTEREST_EXCHANGE_LIST.name, f"no aggregate OI row for {instrument.base}"
            )
        return OpenInterest(
            symbol=instrument.canonical,
            coins=total.open_interest_quantity,
            usd=total.open_interest_usd,
            time=self._clock(),
        )

    async def open_interest_history(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[OpenInterestPoint, ...]:
        return _last(await self.client.aggregated_open_interest_history(instrument, interval, limit), limit)

    async def long_short_ratio(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[LongShortPoint, ...]:
        return _last(await self.client.global_account_ratio_history(instrument, interval, limit=limit), limit)

    async def top_trader_positions(
        self, instrument: Instrument, interval: CandleInterval, limit: int
    ) -> tuple[LongShortPoint, ...]:
        series = await self.client.pair_series(
            TOP_POSITION_RATIO_HISTORY, to_long_short, instrument, interval, limit=limit
        )
        return _last(series, limit)

    async def liquidation_totals(self, instrument: Instrument) -> LiquidationTotals:
        return await self.client.liquidations_24h(instrument)


def build(deps: ProviderDeps) -> MarketProvider | None:
    """The CoinGlass adapter, or ``None`` when no key is configured (``COINGLASS_API_KEY``)."""
    http = deps.keyed_http(PROVIDER, coinglass_error_hook, lambda key: {"CG-API-KEY": key})
    return CoinGlassProvider(CoinGlassClient(http, deps.ttls)) if http else None
