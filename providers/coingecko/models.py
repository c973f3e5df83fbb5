"""CoinGecko response models, shaped like the venue's JSON (snake_case fields, as CoinGecko names them).

CoinGecko sends ``null`` for what it does not know, so most fields are optional; times are ISO 8601 with a
``Z`` (``2026-05-18T12:49:21.599Z``) and parse to aware UTC datetimes.
"""

from __future__ import annotations

from datetime import datetime  # noqa: TC003 (pydantic reads the annotations at runtime)
from typing import Any

from pydantic import Field, model_validator

from providers._shared import OptFloat, OptInt, VenueModel


class CoinGeckoCoin(VenueModel):
    """``/coins/{id}`` with every optional block off: the community votes and when CoinGecko last updated
    the coin (``last_updated``, which dates the votes too: a months-old answer is a months-old score)."""

    id: str
    symbol: str
    name: str
    sentiment_votes_up_percentage: OptFloat = None  # null when nobody voted
    sentiment_votes_down_percentage: OptFloat = None
    last_updated: datetime | None = None


class CoinGeckoMarket(VenueModel):
    """One row of ``/coins/markets``; CoinGecko sends null for fields it does not know."""

    id: str
    symbol: str  # lower case, as CoinGecko sends it
    name: str
    current_price: OptFloat = None
    market_cap: OptFloat = None
    market_cap_rank: OptInt = None
    total_volume: OptFloat = None
    high_24h: OptFloat = None
    low_24h: OptFloat = None
    price_change_percentage_24h: OptFloat = None  # percent
    circulating_supply: OptFloat = None
    fully_diluted_valuation: OptFloat = None
    total_supply: OptFloat = None
    max_supply: OptFloat = None
    last_updated: datetime | None = None


class CoinGeckoSearchCoin(VenueModel):
    id: str
    name: str
    symbol: str
    market_cap_rank: OptInt = None


class CoinGeckoSearch(VenueModel):
    """``/search``: only ``coins`` is read (exchanges, categories and NFTs are not)."""

    coins: tuple[CoinGeckoSearchCoin, ...]


class CoinGeckoTrendingCoin(VenueModel):
    """One ``coins[].item`` of ``/search/trending``, its ``data.price`` and 24 h USD change lifted up."""

    id: str
    name: str
    symbol: str
    market_cap_rank: OptInt = None
    score: int  # 0 = most searched
    price_usd: OptFloat = None
    price_change_percentage_24h_usd: OptFloat = None

    @model_validator(mode="before")
    @classmethod
    def _from_entry(cls, entry: Any) -> Any:
        """``{"item": {..., "data": {"price": p, "price_change_percentage_24h": {"usd": c}}}}`` → flat."""
        if not isinstance(entry, dict) or "item" not in entry:
            return entry
        item = entry["item"]
        data = item.get("data") or {}
        change = data.get("price_change_percentage_24h") or {}
        return {**item, "price_usd": data.get("price"), "price_change_percentage_24h_usd": change.get("usd")}


class CoinGeckoTrending(VenueModel):
    coins: tuple[CoinGeckoTrendingCoin, ...]


class CoinGeckoListCoin(VenueModel):
    """One row of ``/coins/list``: every coin CoinGecko tracks (symbols are not unique)."""

    id: str
    symbol: str
    name: str


class CoinGeckoMarketData(VenueModel):
    """``/coins/{id}`` ``market_data``: amounts by currency (``{"usd": ...}``), supplies in coins."""

    current_price: dict[str, float | None] = Field(default_factory=dict)
    market_cap: dict[str, float | None] = Field(default_factory=dict)
    fully_diluted_valuation: dict[str, float | None] = Field(default_factory=dict)
    total_volume: dict[str, float | None] = Field(default_factory=dict)
    price_change_percentage_24h: OptFloat = None  # percent
    circulating_supply: OptFloat = None
    total_supply: OptFloat = None
    max_supply: OptFloat = None
    last_updated: datetime | None = None


class CoinGeckoCommunity(VenueModel):
    """``/coins/{id}`` ``community_data`` (null where CoinGecko has no number)."""

    reddit_subscribers: OptFloat = None
    reddit_accounts_active_48h: OptFloat = None
    reddit_average_posts_48h: OptFloat = None
    reddit_average_comments_48h: OptFloat = None
    telegram_channel_user_count: OptFloat = None


class CoinGeckoCoinDetails(CoinGeckoCoin):
    """``/coins/{id}`` with ``market_data`` and ``community_data`` on (the MSS discovery inputs and the
    keyless social numbers in one answer)."""

    market_cap_rank: OptInt = None
    watchlist_portfolio_users: OptFloat = None
    categories: list[str | None] | None = None  # CoinGecko's sectors; the list may hold nulls
    market_data: CoinGeckoMarketData | None = None
    community_data: CoinGeckoCommunity | None = None
