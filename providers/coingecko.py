"""CoinGecko (keyless; a demo key raises the rate limit): a social proxy from community sentiment votes,
plus market snapshots, search and trending coins as raw reads.

Docs: https://docs.coingecko.com/reference/coins-id, /coins-markets, /search-data, /trending-search
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.market import SocialSentiment
from providers.errors import InvalidSymbol

if TYPE_CHECKING:
    from providers.config import CacheTtls
    from providers.http import ProviderHttp
    from providers.symbols import Instrument

PROVIDER = "coingecko"

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


def parse_sentiment(payload: dict[str, Any]) -> SocialSentiment:
    """``GET /coins/{id}``: only ``sentiment_votes_up_percentage`` is read.

    Sample: ``{"id": "bitcoin", "symbol": "btc", "name": "Bitcoin", "sentiment_votes_up_percentage": 84.07,
    "sentiment_votes_down_percentage": 15.93, "market_cap_rank": 1, ...}`` (null when nobody voted).
    """
    value = payload["sentiment_votes_up_percentage"]
    if value is None:
        raise ValueError("sentiment_votes_up_percentage is null (no votes)")
    return SocialSentiment(score=float(value), kind="coingecko_sentiment_votes_up_pct")


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True, slots=True)
class CoinGeckoMarket:
    """One row of ``/coins/markets``; CoinGecko sends null for fields it does not know."""

    id: str
    symbol: str  # lower case, as CoinGecko sends it
    name: str
    current_price: float | None
    market_cap: float | None
    market_cap_rank: int | None
    total_volume: float | None
    high_24h: float | None
    low_24h: float | None
    price_change_percentage_24h: float | None  # percent
    circulating_supply: float | None
    last_updated: datetime | None


@dataclass(frozen=True, slots=True)
class CoinGeckoSearchCoin:
    id: str
    name: str
    symbol: str
    market_cap_rank: int | None


@dataclass(frozen=True, slots=True)
class CoinGeckoTrendingCoin:
    id: str
    name: str
    symbol: str
    market_cap_rank: int | None
    score: int  # 0 = most searched
    price_usd: float | None
    price_change_percentage_24h_usd: float | None


def parse_markets(payload: list[dict[str, Any]]) -> tuple[CoinGeckoMarket, ...]:
    """``GET /coins/markets?vs_currency=usd&ids=bitcoin,ethereum``.

    Sample: ``[{"id": "bitcoin", "symbol": "btc", "name": "Bitcoin", "current_price": 77671,
    "market_cap": 1555886872303, "market_cap_rank": 1, "total_volume": 33235034316, "high_24h": 78419,
    "low_24h": 76696, "price_change_percentage_24h": -0.95302,  # percent
    "circulating_supply": 20030493.0, "last_updated": "2026-05-18T12:49:21.599Z", ...}]``
    """
    return tuple(
        CoinGeckoMarket(
            id=str(r["id"]),
            symbol=str(r["symbol"]),
            name=str(r["name"]),
            current_price=_opt_float(r.get("current_price")),
            market_cap=_opt_float(r.get("market_cap")),
            market_cap_rank=_opt_int(r.get("market_cap_rank")),
            total_volume=_opt_float(r.get("total_volume")),
            high_24h=_opt_float(r.get("high_24h")),
            low_24h=_opt_float(r.get("low_24h")),
            price_change_percentage_24h=_opt_float(r.get("price_change_percentage_24h")),
            circulating_supply=_opt_float(r.get("circulating_supply")),
            last_updated=datetime.fromisoformat(r["last_updated"]) if r.get("last_updated") else None,
        )
        for r in payload
    )


def parse_search(payload: dict[str, Any]) -> tuple[CoinGeckoSearchCoin, ...]:
    """``GET /search?query=ethereum``: only ``coins`` is read (exchanges, categories and NFTs are not).

    Sample: ``{"coins": [{"id": "ethereum", "name": "Ethereum", "api_symbol": "ethereum", "symbol": "ETH",
    "market_cap_rank": 2, "thumb": "...", "large": "..."}], "exchanges": [...], "icos": [],
    "categories": [...], "nfts": [...]}``
    """
    return tuple(
        CoinGeckoSearchCoin(
            id=str(c["id"]),
            name=str(c["name"]),
            symbol=str(c["symbol"]),
            market_cap_rank=_opt_int(c.get("market_cap_rank")),
        )
        for c in payload["coins"]
    )


def parse_trending(payload: dict[str, Any]) -> tuple[CoinGeckoTrendingCoin, ...]:
    """``GET /search/trending``: the most searched coins of the last 24 h, ``score`` 0 first.

    Sample: ``{"coins": [{"item": {"id": "bonk", "coin_id": 28600, "name": "Bonk", "symbol": "BONK",
    "market_cap_rank": 103, "price_btc": 7.82e-11, "score": 0, "data": {"price": 5.938674704566297e-06,
    "price_change_percentage_24h": {"usd": -3.27, "btc": -1.26}, "market_cap": "$521,967,819", ...}}}],
    "nfts": [...], "categories": [...]}`` (``data`` amounts other than ``price`` are display strings.)
    """
    coins: list[CoinGeckoTrendingCoin] = []
    for entry in payload["coins"]:
        item = entry["item"]
        data = item.get("data") or {}
        change = data.get("price_change_percentage_24h") or {}
        coins.append(
            CoinGeckoTrendingCoin(
                id=str(item["id"]),
                name=str(item["name"]),
                symbol=str(item["symbol"]),
                market_cap_rank=_opt_int(item.get("market_cap_rank")),
                score=int(item["score"]),
                price_usd=_opt_float(data.get("price")),
                price_change_percentage_24h_usd=_opt_float(change.get("usd")),
            )
        )
    return tuple(sorted(coins, key=lambda c: c.score))


class CoinGeckoClient:
    def __init__(self, http: ProviderHttp, ttls: CacheTtls) -> None:
        self._http = http
        self._ttls = ttls

    async def coin(self, coin_id: str) -> SocialSentiment:
        params = {
            "localization": "false",
            "tickers": "false",
            "market_data": "false",
            "community_data": "false",
            "developer_data": "false",
            "sparkline": "false",
        }
        return await self._http.get(
            f"/coins/{coin_id}", params, endpoint="coins", ttl=self._ttls.social, parse=parse_sentiment
        )

    async def sentiment(self, instrument: Instrument) -> SocialSentiment:
        coin_id = COINGECKO_IDS.get(instrument.base)
        if coin_id is None:
            raise InvalidSymbol(PROVIDER, "coins", f"no CoinGecko id known for {instrument.base}")
        return await self.coin(coin_id)

    async def markets(self, ids: tuple[str, ...] | list[str], vs_currency: str = "usd") -> tuple[CoinGeckoMarket, ...]:
        """``GET /coins/markets?vs_currency=usd&ids=bitcoin,ethereum`` (CoinGecko ids, see COINGECKO_IDS)."""
        return await self._http.get(
            "/coins/markets",
            {"vs_currency": vs_currency, "ids": ",".join(ids)},
            endpoint="coins.markets",
            ttl=self._ttls.price,
            parse=parse_markets,
        )

    async def search(self, query: str) -> tuple[CoinGeckoSearchCoin, ...]:
        """``GET /search?query=...``: coins whose name, symbol or id match."""
        return await self._http.get(
            "/search", {"query": query}, endpoint="search", ttl=self._ttls.exchange_info, parse=parse_search
        )

    async def trending(self) -> tuple[CoinGeckoTrendingCoin, ...]:
        """``GET /search/trending``."""
        return await self._http.get(
            "/search/trending", None, endpoint="search.trending", ttl=self._ttls.social, parse=parse_trending
        )
