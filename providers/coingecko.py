"""CoinGecko (keyless; a demo key raises the rate limit): a social proxy from community sentiment votes.

Docs: https://docs.coingecko.com/reference/coins-id
"""

from __future__ import annotations

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
