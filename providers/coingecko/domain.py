"""CoinGecko venue models → our normalized models (:mod:`engine.market`), and the id table.

The social score is the share of community votes that are "up" (0..100). Its time is the coin's
``last_updated``: CoinGecko can serve the same votes for months, and the engine's freshness rule (48 h for
social) can only judge a score that says when it was made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.hype import SocialMetrics, TrendingCoin
from engine.listings import CoinMarket, coin_symbol
from engine.market import SocialSentiment
from engine.mss import CoinDetails
from providers._shared import converted
from providers.coingecko.models import CoinGeckoCoin, CoinGeckoMarket, CoinGeckoSearch, CoinGeckoTrending
from providers.coingecko.raw import CoinGeckoRawClient
from providers.errors import InvalidSymbol

if TYPE_CHECKING:
    from providers.coingecko.models import CoinGeckoCoinDetails, CoinGeckoSearchCoin, CoinGeckoTrendingCoin
    from providers.config import CacheTtls
    from providers.http import ProviderHttp
    from providers.symbols import Instrument

PROVIDER = "coingecko"
SENTIMENT_KIND = "coingecko_sentiment_votes_up_pct"

# CoinGecko ids are not derivable from tickers (many coins share a symbol); this table covers the
# most traded perpetuals. A base asset outside it has no keyless social score, and the factor says so.
COINGECKO_IDS: dict[str, str] = {
    "BTC": "bitcoin",
    "ETH": "ethereum",
    "SOL": "solana",
    "XRP": "ripple",
    "BNB": "binancecoin",
    "DOGE": "dogecoin",
    "ADA": "cardano",
    "TRX": "tron",
    "AVAX": "avalanche-2",
    "LINK": "chainlink",
    "DOT": "polkadot",
    "TON": "the-open-network",
    "LTC": "litecoin",
    "BCH": "bitcoin-cash",
    "NEAR": "near",
    "APT": "aptos",
    "ARB": "arbitrum",
    "OP": "optimism",
    "SUI": "sui",
    "UNI": "uniswap",
    "ATOM": "cosmos",
    "FIL": "filecoin",
    "ETC": "ethereum-classic",
    "XLM": "stellar",
    "INJ": "injective-protocol",
    "AAVE": "aave",
    "HBAR": "hedera-hashgraph",
    "PEPE": "pepe",
    "1000PEPE": "pepe",
    "WIF": "dogwifcoin",
    "SEI": "sei-network",
    "TIA": "celestia",
    "RUNE": "thorchain",
    "HYPE": "hyperliquid",
    "ENA": "ethena",
    "TAO": "bittensor",
    "SHIB": "shiba-inu",
    "1000SHIB": "shiba-inu",
    "ORDI": "ordinals",
    "JUP": "jupiter-exchange-solana",
}


def to_social(coin: CoinGeckoCoin) -> SocialSentiment:
    """The up-vote share, timed by ``last_updated``; no votes is a ``ValueError`` (a malformed answer for us)."""
    if coin.sentiment_votes_up_percentage is None:
        raise ValueError("sentiment_votes_up_percentage is null (no votes)")
    return SocialSentiment(score=coin.sentiment_votes_up_percentage, kind=SENTIMENT_KIND, time=coin.last_updated)


def to_coin_market(row: CoinGeckoMarket) -> CoinMarket:
    """A ``coins/markets`` row in our vocabulary; the symbol upper-cased as perpetual bases are spelled."""
    return CoinMarket(
        coin_id=row.id,
        symbol=row.symbol.upper(),
        name=row.name,
        price_usd=row.current_price,
        market_cap_usd=row.market_cap,
        market_cap_rank=row.market_cap_rank,
        fdv_usd=row.fully_diluted_valuation,
        total_volume_usd=row.total_volume,
        circulating_supply=row.circulating_supply,
        total_supply=row.total_supply,
        max_supply=row.max_supply,
        last_updated=row.last_updated,
    )


def _usd(amounts: dict[str, float | None]) -> float | None:
    return amounts.get("usd")


def to_details(coin: CoinGeckoCoinDetails) -> CoinDetails:
    """``/coins/{id}`` with market and community data → the market facts and the keyless social numbers."""
    data = coin.market_data
    market = CoinMarket(
        coin_id=coin.id,
        symbol=coin.symbol.upper(),
        name=coin.name,
        price_usd=_usd(data.current_price) if data else None,
        market_cap_usd=_usd(data.market_cap) if data else None,
        market_cap_rank=coin.market_cap_rank,
        fdv_usd=_usd(data.fully_diluted_valuation) if data else None,
        total_volume_usd=_usd(data.total_volume) if data else None,
        circulating_supply=data.circulating_supply if data else None,
        total_supply=data.total_supply if data else None,
        max_supply=data.max_supply if data else None,
        last_updated=(data.last_updated if data else None) or coin.last_updated,
    )
    community: dict[str, float] = {}
    if coin.community_data is not None:
        community = {k: v for k, v in coin.community_data.model_dump().items() if v is not None}
    if coin.watchlist_portfolio_users is not None:
        community["watchlist_portfolio_users"] = coin.watchlist_portfolio_users
    social = SocialMetrics(
        venue=PROVIDER, sentiment_pct=coin.sentiment_votes_up_percentage, community=community, time=coin.last_updated
    )
    categories = None if coin.categories is None else tuple(c for c in coin.categories if c)
    return CoinDetails(market=market, social=social, categories=categories)


def to_trending(trending: CoinGeckoTrending) -> tuple[TrendingCoin, ...]:
    """Most searched first; ``position`` is the place in that order (0 = most searched)."""
    return tuple(
        TrendingCoin(c.symbol.upper(), c.name, position, c.price_change_percentage_24h_usd)
        for position, c in enumerate(trending_by_score(trending))
    )


def parse_sentiment(payload: dict[str, Any]) -> SocialSentiment:
    """A ``/coins/{id}`` answer straight to the social score (wire model, then :func:`to_social`)."""
    return to_social(CoinGeckoCoin.model_validate(payload))


def parse_markets(payload: list[dict[str, Any]]) -> tuple[CoinGeckoMarket, ...]:
    return tuple(CoinGeckoMarket.model_validate(r) for r in payload)


def parse_search(payload: dict[str, Any]) -> tuple[CoinGeckoSearchCoin, ...]:
    return CoinGeckoSearch.model_validate(payload).coins


def parse_trending(payload: dict[str, Any]) -> tuple[CoinGeckoTrendingCoin, ...]:
    return trending_by_score(CoinGeckoTrending.model_validate(payload))


def trending_by_score(trending: CoinGeckoTrending) -> tuple[CoinGeckoTrendingCoin, ...]:
    """Most searched first (``score`` 0 first)."""
    return tuple(sorted(trending.coins, key=lambda c: c.score))


class CoinGeckoClient:
    """Normalized CoinGecko: the social score per instrument, plus market snapshots, search and trending
    as venue models (they have no engine equivalent). ``raw`` is the venue-shaped client."""

    def __init__(self, http: ProviderHttp, ttls: CacheTtls) -> None:
        self.raw = CoinGeckoRawClient(http, ttls)

    async def coin(self, coin_id: str) -> SocialSentiment:
        """The up-vote share from the same (cached) ``coins/{id}`` answer MSS and hype read, market and
        community data included: one keyless call per coin serves the signal, ``mss`` and ``socialHype``
        (the keyless budget is 5 calls a minute)."""
        return converted(PROVIDER, "coins", await self.raw.coin_details(coin_id), to_social)

    async def sentiment(self, instrument: Instrument) -> SocialSentiment:
        coin_id = COINGECKO_IDS.get(instrument.base)
        if coin_id is None:
            raise InvalidSymbol(PROVIDER, "coins", f"no CoinGecko id known for {instrument.base}")
        return await self.coin(coin_id)

    async def markets(self, ids: tuple[str, ...] | list[str], vs_currency: str = "usd") -> tuple[CoinGeckoMarket, ...]:
        """Market snapshots by CoinGecko id (see :data:`COINGECKO_IDS`)."""
        return await self.raw.coins_markets(ids, vs_currency)

    async def market_page(self, page: int) -> tuple[CoinMarket, ...]:
        """Page ``page`` (1-based) of the coins by market cap, 250 a page, as :class:`CoinMarket`."""
        rows = await self.raw.coins_markets_page(page)
        return converted(PROVIDER, "coins.markets.page", rows, lambda r: tuple(to_coin_market(m) for m in r))

    async def coin_id(self, instrument: Instrument) -> str:
        """The CoinGecko id of the instrument's coin: the table for the majors, else ``/coins/list`` (one cached
        call); of several coins sharing the symbol, the best market-cap rank (one ``coins/markets`` call)."""
        coin_id = COINGECKO_IDS.get(instrument.base)
        if coin_id is not None:
            return coin_id
        wanted = coin_symbol(instrument.base).lower()
        ids = [c.id for c in await self.raw.coins_list() if c.symbol.lower() == wanted]
        if not ids:
            raise InvalidSymbol(PROVIDER, "coins.list", f"CoinGecko lists no coin with the symbol {wanted.upper()}")
        if len(ids) == 1:
            return ids[0]
        ranked = [m for m in await self.raw.coins_markets(ids[:250]) if m.market_cap_rank is not None]
        if not ranked:
            message = f"none of the {len(ids)} coins named {wanted.upper()} is ranked"
            raise InvalidSymbol(PROVIDER, "coins.markets", message)
        return min(ranked, key=lambda m: m.market_cap_rank or 0).id

    async def details(self, instrument: Instrument) -> CoinDetails:
        coin_id = await self.coin_id(instrument)
        return converted(PROVIDER, "coins.details", await self.raw.coin_details(coin_id), to_details)

    async def social_metrics(self, instrument: Instrument) -> SocialMetrics:
        return (await self.details(instrument)).social

    async def trending_coins(self) -> tuple[TrendingCoin, ...]:
        return converted(PROVIDER, "search.trending", await self.raw.search_trending(), to_trending)

    async def search(self, query: str) -> tuple[CoinGeckoSearchCoin, ...]:
        """Coins whose name, symbol or id match."""
        return (await self.raw.search(query)).coins

    async def trending(self) -> tuple[CoinGeckoTrendingCoin, ...]:
        return trending_by_score(await self.raw.search_trending())
