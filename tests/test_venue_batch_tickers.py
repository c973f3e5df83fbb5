"""Batching as a capability: Bybit's ``GET /v5/market/tickers?category=linear`` and OKX's
``GET /api/v5/market/tickers?instType=SWAP`` (every contract in one answer), parsed from real captures,
and a request's concurrent Bybit tickers made one upstream call by the per-request loader.

The rows are the captured WebSocket ``tickers`` pushes (``../shared/fixtures``), whose fields are the REST
list items', inside each venue's documented REST envelope. OKX has no captured USDT swap ticker, so a
captured ``BTC-USDT`` row is relabelled ``BTC-USDT-SWAP`` (the row shape is the same for every instType).
"""

from __future__ import annotations

import asyncio
import copy
from typing import TYPE_CHECKING, Any

from providers.bybit.domain import to_ticker as bybit_ticker
from providers.bybit.domain import to_tickers as bybit_tickers
from providers.bybit.raw import parse_all_tickers, parse_tickers
from providers.bybit.venue import BybitProvider, build
from providers.errors import InvalidSymbol
from providers.okx.domain import to_ticker as okx_ticker
from providers.okx.domain import to_tickers as okx_tickers
from providers.okx.raw import parse_tickers as parse_okx_tickers
from providers.registry import Registry
from providers.replay import Cassette, ReplayApp, serve_in_background
from providers.symbols import parse_symbol
from providers.venue import Capability
from resolvers.loaders import Loaders
from tests.providers_helpers import fixture_json

if TYPE_CHECKING:
    from collections.abc import Mapping

    from providers.http import ErrorHook
    from providers.upstream_client import UpstreamClient
    from providers.venue import ProviderDeps


def _bybit_all() -> dict[str, Any]:
    """The captured BTCUSDT row and the same row as a USDC perpetual (``BTCPERP``), in the REST envelope."""
    ws = fixture_json("bybit", "ws_tickers_linear.json")
    usdc = {**copy.deepcopy(ws["data"]), "symbol": "BTCPERP"}
    return {
        "retCode": 0,
        "retMsg": "OK",
        "result": {"category": "linear", "list": [ws["data"], usdc]},
        "retExtInfo": {},
        "time": ws["ts"],
    }


def test_bybit_all_tickers_keep_the_usdt_perpetuals_with_the_single_symbol_values() -> None:
    answer = _bybit_all()
    tickers = bybit_tickers(parse_all_tickers(answer))
    assert set(tickers) == {"BTCUSDT"}
    one = {**answer, "result": {"category": "linear", "list": [answer["result"]["list"][0]]}}
    assert tickers["BTCUSDT"] == bybit_ticker(parse_tickers(one))
    assert tickers["BTCUSDT"].last_price == float(answer["result"]["list"][0]["lastPrice"])


def test_okx_all_swap_tickers_keep_the_usdt_swaps() -> None:
    pushes = fixture_json("okx", "ws_tickers.many.json")
    rows = [p["data"][0] for p in pushes]
    usd_swap = next(r for r in rows if r["instId"] == "UNI-USD-SWAP")
    spot = next(r for r in rows if r["instId"] == "BTC-USDT")
    usdt_swap = {**spot, "instType": "SWAP", "instId": "BTC-USDT-SWAP"}
    answer = {"code": "0", "msg": "", "data": [usd_swap, usdt_swap]}
    tickers = okx_tickers(parse_okx_tickers(answer))
    assert set(tickers) == {"BTCUSDT"}
    assert tickers["BTCUSDT"] == okx_ticker(parse_okx_tickers({**answer, "data": [usdt_swap]})[0])
    assert tickers["BTCUSDT"].last_price == float(spot["last"])


def _deps(server_url: str, client: UpstreamClient) -> ProviderDeps:
    from providers.cache import MemoryCache
    from providers.config import CacheTtls
    from providers.http import ProviderHttp, RetryPolicy
    from providers.venue import ProviderDeps

    def http_factory(
        provider: str, base_url: str, error_hook: ErrorHook | None, headers: Mapping[str, str] | None
    ) -> ProviderHttp:
        return ProviderHttp(
            provider,
            client,
            base_url,
            cache=MemoryCache(),
            timeout_seconds=2,
            retry=RetryPolicy(attempts=1),
            headers=headers,
            error_hook=error_hook,
        )

    return ProviderDeps(
        base_urls={"bybit": f"{server_url}/bybit"},
        keys={},
        ttls=CacheTtls(),
        cache=MemoryCache(),
        http_factory=http_factory,
    )


async def test_a_requests_concurrent_bybit_tickers_are_one_upstream_call() -> None:
    from providers.upstream_client import UpstreamClient

    entry = {
        "provider": "bybit",
        "method": "GET",
        "path": "/v5/market/tickers",
        "match": {"category": "linear"},
        "status": 200,
        "body": _bybit_all(),
    }
    replay = ReplayApp(Cassette.model_validate({"version": 1, "clock": 1680673821770, "http": [entry]}))
    async with serve_in_background(replay.app) as server:
        client = UpstreamClient()
        try:
            venue = build(_deps(server.base_url, client))
            assert isinstance(venue, BybitProvider) and venue.supports(Capability.TICKERS)
            loaders = Loaders(Registry(providers={"bybit": venue}, status={"bybit": "enabled"}))
            loader = loaders.ticker(venue)
            btc, eth, again = await asyncio.gather(
                *(loader.load(parse_symbol(s)) for s in ("BTC", "ETH", "BTCUSDT")), return_exceptions=True
            )
            assert not isinstance(btc, BaseException) and btc.last_price == 28550.7 and again is btc
            assert isinstance(eth, InvalidSymbol)  # not a USDT perpetual in the all-symbols answer
            assert replay.calls["bybit GET /v5/market/tickers"] == 1
            assert await loaders.ticker(venue).load(parse_symbol("BTC")) is btc  # this request's loader cache
            assert replay.calls["bybit GET /v5/market/tickers"] == 1
        finally:
            await client.aclose()


def _instruments_page(rows: list[dict[str, str]], cursor: str) -> dict[str, Any]:
    """Bybit's documented instruments-info answer (https://bybit-exchange.github.io/docs/v5/market/instrument)."""
    return {
        "retCode": 0,
        "retMsg": "OK",
        "result": {"category": "linear", "list": rows, "nextPageCursor": cursor},
        "retExtInfo": {},
        "time": 1707186451514,
    }


def _instrument(symbol: str, base: str, quote: str, kind: str, status: str) -> dict[str, str]:
    return {
        "symbol": symbol,
        "contractType": kind,
        "status": status,
        "baseCoin": base,
        "quoteCoin": quote,
        "launchTime": "1585526400000",
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": "2",
    }


async def test_bybit_listing_follows_the_page_cursor_and_keeps_trading_usdt_perpetuals() -> None:
    from providers.upstream_client import UpstreamClient

    first = [
        _instrument("BTCUSDT", "BTC", "USDT", "LinearPerpetual", "Trading"),
        _instrument("BTCPERP", "BTC", "USDC", "LinearPerpetual", "Trading"),
        _instrument("BTC-27MAR26", "BTC", "USDT", "LinearFutures", "Trading"),
    ]
    second = [
        _instrument("ETHUSDT", "ETH", "USDT", "LinearPerpetual", "Trading"),
        _instrument("NEWUSDT", "NEW", "USDT", "LinearPerpetual", "PreLaunch"),
    ]
    entries = [
        {
            "provider": "bybit",
            "method": "GET",
            "path": "/v5/market/instruments-info",
            "match": match,
            "status": 200,
            "body": body,
        }
        for match, body in (
            ({"category": "linear"}, _instruments_page(first, "page2")),
            ({"category": "linear", "cursor": "page2"}, _instruments_page(second, "")),
        )
    ]
    replay = ReplayApp(Cassette.model_validate({"version": 1, "clock": 1707186451514, "http": entries}))
    async with serve_in_background(replay.app) as server:
        client = UpstreamClient()
        try:
            venue = build(_deps(server.base_url, client))
            listing = await venue.instruments()
        finally:
            await client.aclose()
    assert set(listing) == {"BTCUSDT", "ETHUSDT"}
    assert listing["ETHUSDT"].base_asset == "ETH" and listing["ETHUSDT"].quote_asset == "USDT"
    assert replay.calls["bybit GET /v5/market/instruments-info"] == 2
