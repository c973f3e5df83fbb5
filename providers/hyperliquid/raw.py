"""Hyperliquid ``/info`` reads (keyless), one method per request type, shaped like the venue.

Docs: https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint (and its
``perpetuals`` page). Every read is ``POST /info`` with a JSON body ``{"type": ...}``. Every method returns
the venue's own models (:mod:`providers.hyperliquid.models`); normalization to our models happens in
:mod:`providers.hyperliquid.domain`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from providers.errors import InvalidSymbol, UpstreamError
from providers.hyperliquid.models import HyperliquidAssetCtx, HyperliquidCandle, HyperliquidFunding, HyperliquidL2Book

if TYPE_CHECKING:
    from providers.config import CacheTtls
    from providers.http import ProviderHttp

INFO_PATH = "/info"
MAX_CANDLES = 5000  # candleSnapshot serves only the most recent 5000 candles
MAX_FUNDING_ROWS = 500  # fundingHistory pages at 500 rows


def hyperliquid_error_hook(provider: str, endpoint: str, status: int, payload: Any) -> UpstreamError | None:
    """Hyperliquid answers an unknown coin on ``l2Book`` with HTTP 200 and the body ``null``.

    A malformed request is HTTP 422 (``Failed to deserialize the JSON body into the target type``, plain
    text) or 400; those fall through to :func:`providers.errors.classify_status` (InvalidRequest), as do
    429 and 5xx (retryable, honouring ``Retry-After``).
    """
    if status == 200 and payload is None:
        return InvalidSymbol(provider, endpoint, "HTTP 200 with a null body: the coin is not listed", status=status)
    return None


def parse_meta_and_asset_ctxs(payload: list[Any]) -> dict[str, HyperliquidAssetCtx]:
    """``{"type": "metaAndAssetCtxs"}`` → ``[meta, assetCtxs]``, two index-parallel lists.

    Sample::

        [{"universe": [{"name": "BTC", "szDecimals": 5, "maxLeverage": 50},
                       {"name": "HPOS", "szDecimals": 0, "maxLeverage": 3, "onlyIsolated": true}]},
         [{"dayNtlVlm": "1169046.29406",   # 24 h volume in USD
           "funding": "0.0000125",          # fraction per HOUR
           "impactPxs": ["14.3047", "14.3444"], "markPx": "14.3161", "midPx": "14.314",
           "openInterest": "688.11",        # coins
           "oraclePx": "14.32", "premium": "0.00031774",
           "prevDayPx": "15.322"},          # price 24 h ago
          ...]]

    Current answers add ``dayBaseVlm`` (coins) to each context and ``isDelisted`` to some universe rows;
    ``midPx`` and ``premium`` can be null.
    """
    meta, ctxs = payload
    universe = meta["universe"]
    if len(universe) != len(ctxs):
        raise ValueError(f"universe has {len(universe)} coins but assetCtxs has {len(ctxs)}")
    result: dict[str, HyperliquidAssetCtx] = {}
    for asset, ctx in zip(universe, ctxs, strict=True):
        name = str(asset["name"])
        result[name] = HyperliquidAssetCtx.model_validate(
            {
                "coin": name,
                "mark_px": ctx["markPx"],
                "prev_day_px": ctx["prevDayPx"],
                "day_ntl_vlm": ctx["dayNtlVlm"],
                "day_base_vlm": ctx.get("dayBaseVlm"),
                "funding": ctx["funding"],
                "open_interest": ctx["openInterest"],
                "oracle_px": ctx["oraclePx"],
                "premium": ctx.get("premium"),
                "mid_px": ctx.get("midPx"),
                "is_delisted": bool(asset.get("isDelisted", False)),
            }
        )
    return result


def parse_candle_snapshot(payload: list[Any]) -> tuple[HyperliquidCandle, ...]:
    """Rows as sent (oldest-first); the domain layer sorts anyway."""
    return tuple(HyperliquidCandle.model_validate(row) for row in payload)


def parse_funding_history(payload: list[dict[str, Any]]) -> tuple[HyperliquidFunding, ...]:
    """``[{"coin": "BTC", "fundingRate": "0.0000125", "premium": "0.00029005", "time": 1769908800000}, ...]``,
    sorted oldest-first here (``premium`` is missing on some rows)."""
    rows = sorted(payload, key=lambda r: int(r["time"]))
    return tuple(
        HyperliquidFunding.model_validate(
            {
                "coin": str(r["coin"]),
                "funding_rate": r["fundingRate"],
                "premium": r.get("premium"),
                "time_ms": r["time"],
            }
        )
        for r in rows
    )


def parse_l2_book(payload: dict[str, Any]) -> HyperliquidL2Book:
    return HyperliquidL2Book.model_validate(payload)


class HyperliquidClient:
    """Raw ``/info`` reads, one method per request type, shaped like the venue."""

    def __init__(self, http: ProviderHttp, ttls: CacheTtls) -> None:
        self._http = http
        self._ttls = ttls

    async def meta_and_asset_ctxs(self) -> dict[str, HyperliquidAssetCtx]:
        """``{"type": "metaAndAssetCtxs"}``: every perpetual's mark price, funding, OI and 24 h volume in one
        read (weight 20). See :func:`parse_meta_and_asset_ctxs` for the sample.

        Docs: https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals.
        One cache entry serves ticker, funding and open interest alike, so it uses the shortest TTL.
        """
        return await self._http.post(
            INFO_PATH,
            {"type": "metaAndAssetCtxs"},
            endpoint="metaAndAssetCtxs",
            ttl=self._ttls.price,
            parse=parse_meta_and_asset_ctxs,
        )

    async def candle_snapshot(
        self, coin: str, interval: str, start_ms: int, end_ms: int
    ) -> tuple[HyperliquidCandle, ...]:
        """``{"type": "candleSnapshot", "req": {"coin", "interval", "startTime", "endTime"}}``, oldest-first.

        Docs: https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint. Sample row:
        ``{"t": 1684699200000,  # open time (ms)
        "T": 1684702799999,  # close time
        "s": "kPEPE", "i": "1h", "o": "0.001601", "c": "0.001604", "h": "0.001616", "l": "0.001601",
        "v": "520665683.0",  # volume in coins
        "n": 709}``  (trades)
        """
        return await self._http.post(
            INFO_PATH,
            {
                "type": "candleSnapshot",
                "req": {"coin": coin, "interval": interval, "startTime": start_ms, "endTime": end_ms},
            },
            endpoint="candleSnapshot",
            ttl=self._ttls.candles,
            parse=parse_candle_snapshot,
        )

    async def funding_history(self, coin: str, start_ms: int) -> tuple[HyperliquidFunding, ...]:
        """``{"type": "fundingHistory", "coin": "BTC", "startTime": ms}``, oldest-first, at most 500 rows.

        Docs: https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals.
        Sample: ``[{"coin": "BTC", "fundingRate": "0.0000125",  # fraction per hour
        "premium": "0.00029005", "time": 1769908800000}, ...]``
        """
        return await self._http.post(
            INFO_PATH,
            {"type": "fundingHistory", "coin": coin, "startTime": start_ms},
            endpoint="fundingHistory",
            ttl=self._ttls.funding,
            parse=parse_funding_history,
        )

    async def l2_book(self, coin: str) -> HyperliquidL2Book:
        """``{"type": "l2Book", "coin": "BTC"}``: up to 20 levels a side, best first.

        Docs: https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint. Sample:
        ``{"coin": "BTC", "levels": [[{"px": "110427.0", "sz": "4.11882", "n": 3}, ...],  # bids
        [{"px": "110428.0", "sz": "3.72573", "n": 1}, ...]],  # asks
        "time": 1761786491067}`` (sizes in coins)
        """
        return await self._http.post(
            INFO_PATH,
            {"type": "l2Book", "coin": coin},
            endpoint="l2Book",
            ttl=self._ttls.price,
            parse=parse_l2_book,
        )
