"""The provider registry: every module honours the contract, capabilities match the code, keys gate keyed ones."""

from __future__ import annotations

import pytest

from providers.cache import MemoryCache
from providers.config import CacheTtls
from providers.http import ProviderHttp, RetryPolicy
from providers.registry import PROVIDER_MODULES, build_registry, rate_limits
from providers.upstream_client import UpstreamClient
from providers.venue import Capability, MarketProvider, ProviderDeps
from signal_api.settings import Settings

METHOD_OF = {capability: capability.value for capability in Capability}


def _deps(keys: dict[str, str | None]) -> ProviderDeps:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    client = UpstreamClient()

    def factory(provider, base_url, error_hook, headers):  # type: ignore[no-untyped-def]
        return ProviderHttp(
            provider,
            client,
            base_url,
            cache=MemoryCache(),
            timeout_seconds=1,
            retry=RetryPolicy(attempts=1),
            headers=headers,
            keyed=bool(headers),
            error_hook=error_hook,
        )

    return ProviderDeps(
        base_urls=settings.base_urls(), keys=keys, ttls=CacheTtls(), cache=MemoryCache(), http_factory=factory
    )


@pytest.mark.parametrize("name", sorted(PROVIDER_MODULES))
def test_module_contract_and_settings_agree(name: str) -> None:
    module = PROVIDER_MODULES[name]
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.base_urls()[name] == module.DEFAULT_BASE_URL
    assert rate_limits()[name] > 0
    key_setting = getattr(module, "KEY_SETTING", None)
    if key_setting is not None:
        assert key_setting.lower() in Settings.model_fields


async def test_capabilities_are_exactly_the_overridden_methods() -> None:
    registry = build_registry(_deps({name: "test-key" for name in PROVIDER_MODULES}))
    assert set(registry.providers) == set(PROVIDER_MODULES)
    for provider in registry.providers.values():
        overridden = {
            capability
            for capability, method in METHOD_OF.items()
            if getattr(type(provider), method) is not getattr(MarketProvider, method)
        }
        assert provider.capabilities == overridden, provider.name


async def test_keyed_providers_are_disabled_without_their_key_and_say_how_to_enable() -> None:
    registry = build_registry(_deps({}))
    for name in ("coinglass", "coinapi", "lunarcrush"):
        assert name not in registry.providers
        assert registry.status[name] == f"disabled: set {name.upper()}_API_KEY"
    assert {"binance", "okx", "bybit", "hyperliquid", "coingecko"} <= set(registry.providers)
    order = [p.name for p in registry.with_capability(Capability.FUNDING, ("okx", "binance"))]
    assert order[:2] == ["okx", "binance"] and "coingecko" not in order
