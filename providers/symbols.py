"""One symbol normalizer: every spelling of a USDT perpetual users type, rendered as each venue expects.

The predecessor matched ``BTC`` against ``BTCUSDT`` against ``BTC-USDT-SWAP`` and silently found nothing.
Here every provider receives an :class:`Instrument` and renders it with :meth:`Instrument.for_provider`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_QUOTE = "USDT"
_BASE_RE = re.compile(r"^[A-Z0-9]{1,20}$")
_SUFFIXES = ("-SWAP", ".P", "-PERP", "_PERP", ":USDT")
_SEPARATORS = re.compile(r"[-/_ ]")


class InvalidSymbolFormat(ValueError):
    """The text cannot name a USDT perpetual (empty, wrong characters, another quote asset)."""


@dataclass(frozen=True, slots=True, order=True)
class Instrument:
    """A USDT-margined perpetual, identified by its base asset (``BTC``)."""

    base: str
    quote: str = _QUOTE

    @property
    def canonical(self) -> str:
        return f"{self.base}{self.quote}"

    def for_provider(self, provider: str, *, form: str = "pair") -> str:
        """Render for a venue. CoinGlass uses the coin (``BTC``) on coin endpoints (``form="coin"``)."""
        match provider:
            case "binance" | "bybit":
                return self.canonical
            case "okx":
                return f"{self.base}-{self.quote}-SWAP"
            case "hyperliquid" | "lunarcrush":
                return self.base
            case "coinglass":
                return self.base if form == "coin" else self.canonical
            case "coinapi":
                return f"BINANCEFTS_PERP_{self.base}_{self.quote}"
            case _:
                raise ValueError(f"no symbol rendering for provider {provider!r}")

    def __str__(self) -> str:
        return self.canonical


def parse_symbol(text: str) -> Instrument:
    """``BTC``, ``btc``, ``BTCUSDT``, ``BTC-USDT``, ``BTC/USDT``, ``BTC-USDT-SWAP``, ``BTCUSDT.P`` → BTC/USDT."""
    cleaned = text.strip().upper()
    if cleaned.startswith("BINANCEFTS_PERP_") or cleaned.startswith("BINANCE_PERP_"):
        cleaned = cleaned.split("_PERP_", 1)[1]
    for suffix in _SUFFIXES:
        if cleaned.endswith(suffix):
            cleaned = cleaned[: -len(suffix)]
            break
    parts = [p for p in _SEPARATORS.split(cleaned) if p]
    if len(parts) == 2:
        base, quote = parts
        if quote != _QUOTE:
            raise InvalidSymbolFormat(f"{text!r}: only USDT perpetuals are served, not {quote}")
    elif len(parts) == 1:
        base = parts[0]
        if base.endswith(_QUOTE) and len(base) > len(_QUOTE):
            base = base[: -len(_QUOTE)]
    else:
        raise InvalidSymbolFormat(f"{text!r} is not a symbol; try BTC, BTCUSDT or BTC-USDT")
    if not _BASE_RE.match(base):
        raise InvalidSymbolFormat(f"{text!r} is not a symbol; try BTC, BTCUSDT or BTC-USDT")
    return Instrument(base=base)
