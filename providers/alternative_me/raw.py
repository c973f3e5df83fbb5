"""alternative.me REST, one method per endpoint. Docs: https://alternative.me/crypto/fear-and-greed-index/#api"""

from __future__ import annotations

from typing import Any

from providers.alternative_me.models import FngAnswer
from providers.errors import MalformedPayload, UpstreamError
from providers.venue import RawClient


def alternative_me_error_hook(provider: str, endpoint: str, status: int, payload: Any) -> UpstreamError | None:
    """alternative.me reports failures in ``metadata.error`` with HTTP 200."""
    if isinstance(payload, dict):
        error = (payload.get("metadata") or {}).get("error")
        if error:
            return MalformedPayload(provider, endpoint, f"metadata.error: {error}", status=status)
    return None


class AlternativeMeRawClient(RawClient):
    async def fng(self, limit: int = 1) -> FngAnswer:
        """``GET /fng/?limit=N``: https://alternative.me/crypto/fear-and-greed-index/#api (newest-first).

        Sample: ``{"name": "Fear and Greed Index", "data": [{"value": "27", "value_classification": "Fear",
        "timestamp": "1785628800", "time_until_update": "38841"}], "metadata": {"error": null}}``
        """
        return await self._http.get(
            "/fng/", {"limit": limit}, endpoint="fng", ttl=self._ttls.fear_greed, parse=FngAnswer.model_validate
        )
