"""Alert webhooks: a JSON POST signed with HMAC-SHA256 over ``<timestamp>.<body>`` with the rule's secret.

Headers: ``X-Signal-Timestamp`` (epoch seconds) and ``X-Signal-Signature: sha256=<hex>``; a receiver
recomputes ``hmac_sha256(secret, f"{timestamp}.".encode() + body)`` over the raw body, compares in constant
time and refuses old timestamps (replays). Any 2xx is delivered; anything else, or no answer, is a
failure with its reason (never retried here: the scanner fires again on the next signal, deduplicated).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

import orjson

from providers.errors import UpstreamError
from providers.http import post_once

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    import httpx2

SIGNATURE_HEADER = "X-Signal-Signature"
TIMESTAMP_HEADER = "X-Signal-Timestamp"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: int, body: bytes, header: str) -> bool:
    """What a receiver runs (the tests do): constant-time comparison of the expected signature."""
    return hmac.compare_digest(sign(secret, timestamp, body), header)


async def post_webhook(
    client: httpx2.AsyncClient,
    url: str,
    secret: str,
    payload: Mapping[str, Any],
    *,
    timestamp: int,
    timeout_seconds: float,
) -> str | None:
    """Deliver ``payload``; None when the receiver answered 2xx, else the reason (without the URL)."""
    body = orjson.dumps(payload)
    headers = {SIGNATURE_HEADER: sign(secret, timestamp, body), TIMESTAMP_HEADER: str(timestamp)}
    try:
        status, _, _ = await post_once(
            client, "webhook", "alert", url, body, headers=headers, timeout_seconds=timeout_seconds
        )
    except UpstreamError as exc:
        return exc.describe()
    return None if 200 <= status < 300 else f"webhook.alert: HTTP {status}"
