"""One door into the market: Binance answers HTTP 451 to every request, its symbol list included, and the
signal is still computed from the other venues, each reading naming the source that answered.

Upstream answers: the cassette's own recorded CoinGlass, CoinGecko and alternative.me answers; Bybit's
ticker, klines and funding history are the cassette's Binance numbers re-rendered in Bybit's documented
v5 shapes (:func:`tests.test_fallbacks_e2e._bybit_entries`, so the expected values are known); the
symbol list comes from Hyperliquid's recorded ``metaAndAssetCtxs`` answer (``../shared/fixtures``).
Every Binance request, whatever its path, is answered 451 by a thin wrapper in front of the replay app.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from engine.market import Ticker24h
from providers.errors import InvalidSymbol, UpstreamError
from providers.registry import Registry
from providers.symbols import parse_symbol
from providers.venue import Capability, MarketProvider
from resolvers.gateway import DEFAULT_SOURCE_ORDER, MarketGateway, SourceOrder
from resolvers.loaders import Loaders
from tests.conftest import CASSETTE_NAMES, load_cassette_json
from tests.providers_helpers import fixture_json
from tests.test_fallbacks_e2e import _bybit_entries

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from providers.symbols import Instrument

QUERY = """
query Q($symbol: String!) { signal(symbol: $symbol) { __typename ... on Problem { code message }
  ... on Signal { price recommendation score
    factors { name available source failedSources rawValue score }
    dataQuality { score missing sources { input source ok failed } } } } }
"""
GEO_BLOCK = {"code": 0, "msg": "Service unavailable from a restricted location according to 'b. Eligibility'"}


class BlockBinance:
    """ASGI wrapper: every ``/binance/...`` request is answered 451 (and counted); the rest pass through."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.blocked: Counter[str] = Counter()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/binance/"):
            self.blocked[scope["path"].removeprefix("/binance")] += 1
            body = orjson.dumps(GEO_BLOCK)
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 451, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def _hyperliquid_listing() -> dict[str, Any]:
    return {
        "provider": "hyperliquid",
        "method": "POST",
        "path": "/info",
        "match": {"type": "metaAndAssetCtxs"},
        "status": 200,
        "body": fixture_json("hyperliquid", "info_metaAndAssetCtxs.json"),
    }


def _cassette(*, hyperliquid_lists: bool) -> dict[str, Any]:
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    extra = [*_bybit_entries(cassette), *([_hyperliquid_listing()] if hyperliquid_lists else [])]
    return {**cassette, "http": [*cassette["http"], *extra]}


@contextlib.asynccontextmanager
async def _service(cassette: dict[str, Any], **settings: Any) -> AsyncIterator[tuple[str, Any, BlockBinance]]:
    """The replay server behind :class:`BlockBinance` and the real app pointed at it, on 127.0.0.1."""
    from providers.replay import Cassette, ReplayApp, serve_in_background
    from signal_api.app import create_app
    from signal_api.settings import Settings

    parsed = Cassette.model_validate(cassette)
    replay = ReplayApp(parsed)
    blocker = BlockBinance(replay.app)
    async with serve_in_background(blocker) as upstream:
        base = Settings(_env_file=None, **settings).with_replay_base(upstream.base_url)  # type: ignore[call-arg]
        app = create_app(base, clock=lambda: parsed.now)
        async with serve_in_background(app, lifespan="on") as service:
            await asyncio.wait_for(asyncio.shield(app.state.warm_up), 10)  # its calls are counted below
            yield service.base_url, replay, blocker


def _factor(signal: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in signal["factors"] if f["name"] == name)


def _source(signal: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in signal["dataQuality"]["sources"] if s["input"] == name)


@pytest.mark.parametrize("hyperliquid_lists", [True, False], ids=["hyperliquid-lists", "no-listing-answers"])
async def test_binance_451_everywhere_the_signal_comes_from_the_other_venues(
    hyperliquid_lists: bool, graphql: Any
) -> None:
    cassette = _cassette(hyperliquid_lists=hyperliquid_lists)
    async with _service(cassette, coinglass_api_key="test-key") as (url, replay, blocker):
        status, body = await graphql(url, QUERY, {"symbol": "BTC"})
    assert status == 200, body
    signal = body["data"]["signal"]
    assert signal["__typename"] == "Signal", signal

    # Binance was asked (its symbol list too) and refused everything; none of it was retried
    assert blocker.blocked["/fapi/v1/exchangeInfo"] >= 1
    assert {"/fapi/v1/ticker/24hr", "/fapi/v1/klines", "/fapi/v1/premiumIndex"} <= set(blocker.blocked)
    # the start-up warm-up pings Binance once a listing source answered; its 451 stops it there
    assert blocker.blocked.pop("/fapi/v1/ping", 0) == (1 if hyperliquid_lists else 0)
    assert all(count == 1 for path, count in blocker.blocked.items() if path != "/fapi/v1/exchangeInfo")
    assert not any(k.startswith("binance ") for k in replay.calls)

    # price, candles and funding from Bybit, each naming the Binance failure before it
    ticker = next(e["body"] for e in cassette["http"] if e["provider"] == "bybit" and e["path"] == "/v5/market/tickers")
    assert signal["price"] == float(ticker["result"]["list"][0]["lastPrice"])
    price = _source(signal, "PRICE")
    assert price["source"] == "bybit.ticker" and price["failed"][0].startswith("binance.ticker24hr: HTTP 451")
    momentum = _factor(signal, "MOMENTUM")
    assert momentum["available"] and momentum["source"] == "bybit.candles"
    assert momentum["failedSources"][0].startswith("binance.klines: HTTP 451")
    funding = _factor(signal, "FUNDING")
    assert funding["available"] and funding["source"] == "bybit.funding"
    assert funding["failedSources"][0].startswith("binance.premiumIndex: HTTP 451")
    # the keyed aggregate answers the ratios and OI before Binance is even asked for them
    assert _factor(signal, "LONG_SHORT")["source"] == "coinglass.global-long-short-account-ratio"
    assert _factor(signal, "SMART_MONEY")["source"] == "coinglass.top-long-short-position-ratio"
    assert _factor(signal, "OI_TREND")["source"] == "coinglass.open-interest.aggregated-history"
    assert "/futures/data/globalLongShortAccountRatio" not in blocker.blocked
    assert replay.calls["bybit GET /v5/market/kline"] == 1


async def test_a_symbol_no_reachable_listing_has_is_not_found(graphql: Any) -> None:
    """Binance is unreachable, Hyperliquid answers its list without the symbol: unknown, not a 503."""
    async with _service(_cassette(hyperliquid_lists=True)) as (url, _, blocker):
        status, body = await graphql(url, QUERY, {"symbol": "ZZZQQ"})
    assert status == 200
    problem = body["data"]["signal"]
    assert problem["__typename"] == "SymbolNotFound", problem
    assert blocker.blocked["/fapi/v1/exchangeInfo"] >= 1


async def test_source_order_setting_reorders_the_sources(graphql: Any) -> None:
    """SOURCE_ORDER puts Bybit before Binance for candles and funding: Binance is not asked for them."""
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    cassette = {**cassette, "http": [*cassette["http"], *_bybit_entries(cassette)]}
    order = {"candles": ["bybit", "binance"], "funding": ["bybit", "binance"]}
    from tests.conftest import running_service

    async with running_service(cassette, source_order=order) as (url, replay):
        status, body = await graphql(url, QUERY, {"symbol": "BTC"})
    assert status == 200
    signal = body["data"]["signal"]
    assert signal["__typename"] == "Signal", signal
    momentum, funding = _factor(signal, "MOMENTUM"), _factor(signal, "FUNDING")
    assert momentum["source"] == "bybit.candles" and momentum["failedSources"] == []
    assert funding["source"] == "bybit.funding" and funding["failedSources"] == []
    assert _source(signal, "PRICE")["source"] == "binance.ticker24hr"  # price keeps its default order
    assert replay.calls["binance GET /fapi/v1/klines"] == 0
    assert replay.calls["bybit GET /v5/market/kline"] == 1


def test_source_order_refuses_unknown_inputs_and_providers() -> None:
    with pytest.raises(ValueError, match="unknown inputs"):
        SourceOrder.of({"prices": ["binance"]})
    order = SourceOrder.of({"price": ["okx", "binance"]})
    assert order["price"] == ("okx", "binance") and order["candles"] == DEFAULT_SOURCE_ORDER["candles"]
    known = {name: "enabled" for name in SourceOrder.of().providers()}
    registry = Registry(providers={}, status=known)
    MarketGateway(registry, lambda: datetime.now(UTC), order)  # every name known: fine
    with pytest.raises(ValueError, match=r"unknown providers in the source order: bitmex$"):
        MarketGateway(registry, lambda: datetime.now(UTC), SourceOrder.of({"price": ["bitmex", "binance"]}))


class CountingVenue(MarketProvider):
    """A venue with an all-symbols ticker: counts the calls each route receives."""

    name = "counting"
    capabilities = frozenset({Capability.TICKER, Capability.TICKERS})

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def _ticker(self, symbol: str) -> Ticker24h:
        return Ticker24h(symbol, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, datetime(2026, 1, 1, tzinfo=UTC))

    async def ticker(self, instrument: Instrument) -> Ticker24h:
        self.calls["one"] += 1
        return self._ticker(instrument.canonical)

    async def tickers(self) -> Mapping[str, Ticker24h]:
        self.calls["all"] += 1
        await asyncio.sleep(0)
        return {s: self._ticker(s) for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT")}


async def test_loaders_batch_concurrent_symbols_per_venue() -> None:
    venue = CountingVenue()
    loaders = Loaders(Registry(providers={venue.name: venue}, status={venue.name: "enabled"}))
    loader = loaders.ticker(venue)
    assert loaders.ticker(venue) is loader  # one loader per venue and input per request
    symbols = [parse_symbol(s) for s in ("BTC", "ETH", "SOL", "BTC")]
    results = await asyncio.gather(*(loader.load(i) for i in symbols))
    assert [t.symbol for t in results] == ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BTCUSDT"]
    assert venue.calls == Counter({"all": 1})
    with pytest.raises(InvalidSymbol):  # a symbol absent from the all-symbols answer is its own error
        await asyncio.gather(loader.load(parse_symbol("DOGE")), loader.load(parse_symbol("XRP")))
    assert venue.calls == Counter({"all": 2})

    lone = Loaders(loaders.registry).ticker(venue)  # a lone symbol takes the single-symbol route
    assert (await lone.load(parse_symbol("ETH"))).symbol == "ETHUSDT"
    assert venue.calls == Counter({"all": 2, "one": 1})
    view = loaders.venue(venue)
    assert view.name == venue.name and view.capabilities == venue.capabilities
    assert isinstance(await view.ticker(parse_symbol("SOL")), Ticker24h)  # cached in this request's loader
    assert venue.calls == Counter({"all": 2, "one": 1})
    assert issubclass(InvalidSymbol, UpstreamError)
