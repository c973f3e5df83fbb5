"""Settings of the order-book, flow and scalping fields, passed in by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from engine.orderbook import DEFAULT_BAND_PCT, DEFAULT_WALL_MULTIPLE


@dataclass(frozen=True, slots=True)
class OrderFlowConfig:
    """``ORDERBOOK_WALL_MULTIPLE``, ``ORDERBOOK_WALL_BAND_PCT``, ``ORDERBOOK_DEPTH`` and
    ``LARGE_TRADE_THRESHOLD_USD``; ``venues`` are the defaults of ``orderBook``, ``flow`` and ``scalping``."""

    wall_multiple: float = DEFAULT_WALL_MULTIPLE
    band_pct: float = DEFAULT_BAND_PCT
    depth: int = 500  # levels per side asked of each venue (Binance 500 = weight 10; OKX caps 400, Hyperliquid 20)
    large_trade_usd: float = 100_000.0
    venues: tuple[str, ...] = ("binance", "okx", "bybit")
    max_venues: int = 6
