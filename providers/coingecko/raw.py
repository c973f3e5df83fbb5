"""CoinGecko REST, one method per endpoint, shaped like the venue.

Docs: https://docs.coingecko.com/reference/introduction. Every method returns the venue's own model
(:mod:`providers.coingecko.models`); normalization happens in :mod:`providers.coingecko.domain`.
"""

from __future__ import annotations

from typing import Any

from providers.coingecko.models import (
    CoinGeckoCoin,
    CoinGeckoCoinDetails,
    CoinGeckoListCoin,
    CoinGeckoMarket,
    CoinGeckoSearch,
    CoinGeckoTrending,
)
from providers.venue import RawClient

MARKETS_PER_PAGE = 250  # the most coins/markets serves per page
MARKETS_PAGE_TTL_SECONDS = 300.0
# /coins/{id} answers a few hundred KB with every block on; the votes and last_updated need none of them
_COIN_BLOCKS_OFF = {
    "localization": "false",
    "tickers": "false",
    "market_data": "false",
    "community_data": "false",
    "developer_data": "false",
    "sparkline": "false",
}


class CoinGeckoRawClient(RawClient):
    """Raw client: routes and parameters exactly as CoinGecko documents them."""

    async def coin(self, coin_id: str) -> CoinGeckoCoin:
        """``GET /coins/{id}``: https://docs.coingecko.com/reference/coins-id

        Sample: ``{"id": "bitcoin", "symbol": "btc", "name": "Bitcoin", "sentiment_votes_up_percentage":
        84.07, "sentiment_votes_down_percentage": 15.93, "market_cap_rank": 1,
        "last_updated": "2024-04-07T15:24:51.021Z", ...}`` (votes null when nobody voted).
        """
        ttl, parse = self._ttls.social, CoinGeckoCoin.model_validate
        return await self._http.get(f"/coins/{coin_id}", _COIN_BLOCKS_OFF, endpoint="coins", ttl=ttl, parse=parse)

    async def coins_markets(
        self, ids: tuple[str, ...] | list[str], vs_currency: str = "usd"
    ) -> tuple[CoinGeckoMarket, ...]:
        """``GET /coins/markets?vs_currency=usd&ids=bitcoin,ethereum``: https://docs.coingecko.com/reference/coins-markets

        Sample: ``[{"id": "bitcoin", "symbol": "btc", "name": "Bitcoin", "current_price": 77671,
        "market_cap": 1555886872303, "market_cap_rank": 1, "total_volume": 33235034316, "high_24h": 78419,
        "low_24h": 76696, "price_change_percentage_24h": -0.95302,  # percent
        "circulating_supply": 20030493.0, "last_updated": "2026-05-18T12:49:21.599Z", ...}]``
        """
        query = {"vs_currency": vs_currency, "ids": ",".join(ids)}
        return await self._http.get(
            "/coins/markets", query, endpoint="coins.markets", ttl=self._ttls.price, parse=_markets
        )

    async def coins_markets_page(self, page: int, per_page: int = MARKETS_PER_PAGE) -> tuple[CoinGeckoMarket, ...]:
        """``GET /coins/markets?vs_currency=usd&order=market_cap_desc&per_page=250&page=1``: the coins ranked by
        market cap, 250 a page at most (same rows as :meth:`coins_markets`, ``fully_diluted_valuation``,
        ``total_supply`` and ``max_supply`` included). Cached :data:`MARKETS_PAGE_TTL_SECONDS`: the keyless
        floor is 5 calls a minute, so a few pages every 5 minutes leave room for the social reads."""
        query: dict[str, str | int] = {
            "vs_currency": "usd",
            "order": "market_cap_desc",
            "per_page": per_page,
            "page": page,
        }
        return await self._http.get(
            "/coins/markets", query, endpoint="coins.markets.page", ttl=MARKETS_PAGE_TTL_SECONDS, parse=_markets
        )

    async def coin_details(self, coin_id: str) -> CoinGeckoCoinDetails:
        """``GET /coins/{id}?market_data=true&community_data=true``: https://docs.coingecko.com/reference/coins-id

        Sample: ``{"id": "bitcoin", "symbol": "btc", "name": "Bitcoin", "sentiment_votes_up_percentage": 84.07,
        "watchlist_portfolio_users": 1541900, "market_cap_rank": 1, "market_data": {"current_price": {"usd":
        69840}, "fully_diluted_valuation": {"usd": 1466577759}, "circulating_supply": 19675377,
        "total_supply": 21000000, "max_supply": 21000000, ...}, "community_data": {"reddit_subscribers":
        6127543, "reddit_accounts_active_48h": 3498, "telegram_channel_user_count": null, ...},
        "last_updated": "2024-04-07T15:24:51.021Z"}``
        """
        query = {**_COIN_BLOCKS_OFF, "market_data": "true", "community_data": "true"}
        ttl, parse = self._ttls.social, CoinGeckoCoinDetails.model_validate
        return await self._http.get(f"/coins/{coin_id}", query, endpoint="coins.details", ttl=ttl, parse=parse)

    async def coins_list(self) -> tuple[CoinGeckoListCoin, ...]:
        """``GET /coins/list``: https://docs.coingecko.com/reference/coins-list (every coin, ~17k rows; cached
        as long as a listing).

        Sample: ``[{"id": "official-trump", "symbol": "trump", "name": "Official Trump", "platforms":
        {"solana": "6p6xgHyF7AeE6TZkSmFsko444wqoP15icUSqi2jfGiPN"}}]``
        """
        return await self._http.get(
            "/coins/list", None, endpoint="coins.list", ttl=self._ttls.exchange_info, parse=_coin_list
        )

    async def search(self, query: str) -> CoinGeckoSearch:
        """``GET /search?query=ethereum``: https://docs.coingecko.com/reference/search-data

        Sample: ``{"coins": [{"id": "ethereum", "name": "Ethereum", "api_symbol": "ethereum", "symbol": "ETH",
        "market_cap_rank": 2, "thumb": "...", "large": "..."}], "exchanges": [...], "icos": [],
        "categories": [...], "nfts": [...]}``
        """
        ttl, parse = self._ttls.exchange_info, CoinGeckoSearch.model_validate
        return await self._http.get("/search", {"query": query}, endpoint="search", ttl=ttl, parse=parse)

    async def search_trending(self) -> CoinGeckoTrending:
        """``GET /search/trending``: https://docs.coingecko.com/reference/trending-search

        Sample: ``{"coins": [{"item": {"id": "bonk", "coin_id": 28600, "name": "Bonk", "symbol": "BONK",
        "market_cap_rank": 103, "price_btc": 7.82e-11, "score": 0, "data": {"price": 5.938674704566297e-06,
        "price_change_percentage_24h": {"usd": -3.27, "btc": -1.26}, "market_cap": "$521,967,819", ...}}}],
        "nfts": [...], "categories": [...]}`` (``data`` amounts other than ``price`` are display strings.)
        """
        ttl, parse = self._ttls.social, CoinGeckoTrending.model_validate
        return await self._http.get("/search/trending", None, endpoint="search.trending", ttl=ttl, parse=parse)


def _coin_list(rows: list[Any]) -> tuple[CoinGeckoListCoin, ...]:
    return tuple(CoinGeckoListCoin.model_validate(r) for r in rows)


def _markets(rows: list[Any]) -> tuple[CoinGeckoMarket, ...]:
    return tuple(CoinGeckoMarket.model_validate(r) for r in rows)
