"""Plain configuration values the providers receive from the composition root (never read from env here)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CacheTtls:
    """Seconds each kind of upstream answer stays fresh (the predecessor's tiers where it had them)."""

    price: float = 5.0
    liquidations: float = 10.0
    funding: float = 15.0
    candles: float = 15.0
    ratios: float = 60.0
    open_interest: float = 30.0
    social: float = 60.0
    fear_greed: float = 300.0
    exchange_info: float = 3600.0
