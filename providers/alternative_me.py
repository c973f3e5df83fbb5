"""alternative.me Crypto Fear & Greed Index (keyless). Docs: https://alternative.me/crypto/fear-and-greed-index/#api"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.market import FearGreed, utc_from_ms
from providers.errors import MalformedPayload, UpstreamError

if TYPE_CHECKING:
    from providers.config import CacheTtls
    from providers.http import ProviderHttp

PROVIDER = "alternative_me"


def alternative_me_error_hook(provider: str, endpoint: str, status: int, payload: Any) -> UpstreamError | None:
    """alternative.me reports failures in ``metadata.error`` with HTTP 200."""
    if isinstance(payload, dict):
        error = (payload.get("metadata") or {}).get("error")
        if error:
            return MalformedPayload(provider, endpoint, f"metadata.error: {error}", status=status)
    return None


def parse_fng(payload: dict[str, Any]) -> tuple[FearGreed, ...]:
    """``GET /fng/?limit=N``, newest-first on the wire, returned oldest-first.

    Sample: ``{"name": "Fear and Greed Index", "data": [{"value": "27", "value_classification": "Fear",
    "timestamp": "1785628800", "time_until_update": "38841"}], "metadata": {"error": null}}``
    (``timestamp`` is epoch *seconds* as a string.)
    """
    rows = payload["data"]
    if not rows:
        raise ValueError("empty data list")
    points = (
        FearGreed(
            value=float(row["value"]),
            classification=str(row["value_classification"]),
            time=utc_from_ms(int(row["timestamp"]) * 1000),
        )
        for row in rows
    )
    return tuple(sorted(points, key=lambda p: p.time))


class AlternativeMeClient:
    def __init__(self, http: ProviderHttp, ttls: CacheTtls) -> None:
        self._http = http
        self._ttls = ttls

    async def fear_greed(self, limit: int = 1) -> tuple[FearGreed, ...]:
        return await self._http.get(
            "/fng/", {"limit": limit}, endpoint="fng", ttl=self._ttls.fear_greed, parse=parse_fng
        )

    async def latest(self) -> FearGreed:
        return (await self.fear_greed(limit=1))[-1]
