"""Every provider the service knows: one line each. Adding a venue is one module plus one line here.

A provider module exposes ``build(deps) -> MarketProvider | None`` (``None`` when a keyed provider has
no key: it is then reported as disabled), ``DEFAULT_BASE_URL`` and ``RATE_LIMIT_PER_SECOND``; keyed
ones also ``KEY_SETTING``, the environment variable that enables them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from providers.alternative_me import venue as alternative_me
from providers.binance import venue as binance
from providers.bybit import venue as bybit
from providers.coinapi import venue as coinapi
from providers.coingecko import venue as coingecko
from providers.coinglass import venue as coinglass
from providers.hyperliquid import venue as hyperliquid
from providers.lunarcrush import venue as lunarcrush
from providers.okx import venue as okx

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType

    from providers.venue import Capability, MarketProvider, ProviderDeps

PROVIDER_MODULES: dict[str, ModuleType] = {
    "binance": binance,
    "okx": okx,
    "bybit": bybit,
    "hyperliquid": hyperliquid,
    "coinglass": coinglass,
    "coinapi": coinapi,
    "lunarcrush": lunarcrush,
    "coingecko": coingecko,
    "alternative_me": alternative_me,
}


@dataclass(frozen=True, slots=True)
class Registry:
    """The enabled providers by name, and a human status for every known one."""

    providers: dict[str, MarketProvider]
    status: dict[str, str]

    def with_capability(self, capability: Capability, order: tuple[str, ...] = ()) -> list[MarketProvider]:
        """Enabled providers that serve ``capability``: those named in ``order`` first, then the rest."""
        names = [*order, *(n for n in self.providers if n not in order)]
        return [self.providers[n] for n in names if n in self.providers and self.providers[n].supports(capability)]

    def sources(self, capability: Capability, order: Sequence[str]) -> list[MarketProvider]:
        """Exactly the enabled providers named in ``order`` that serve ``capability``, in that order (a
        keyed venue without its key is simply absent)."""
        return [p for n in order if (p := self.providers.get(n)) is not None and p.supports(capability)]


def build_registry(deps: ProviderDeps) -> Registry:
    providers: dict[str, MarketProvider] = {}
    status: dict[str, str] = {}
    for name, module in PROVIDER_MODULES.items():
        provider = module.build(deps)
        if provider is None:
            status[name] = f"disabled: set {getattr(module, 'KEY_SETTING', name.upper() + '_API_KEY')}"
        else:
            providers[name] = provider
            status[name] = "enabled"
    return Registry(providers=providers, status=status)


def rate_limits() -> dict[str, float]:
    return {name: float(module.RATE_LIMIT_PER_SECOND) for name, module in PROVIDER_MODULES.items()}
