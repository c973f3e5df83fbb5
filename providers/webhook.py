"""Alert webhooks: a JSON POST signed with HMAC-SHA256 over ``<timestamp>.<body>`` with the rule's secret.

Headers: ``X-Signal-Timestamp`` (epoch seconds) and ``X-Signal-Signature: sha256=<hex>``; a receiver
recomputes ``hmac_sha256(secret, f"{timestamp}.".encode() + body)`` over the raw body, compares in constant
time and refuses old timestamps (replays). Any 2xx is delivered; anything else, or no answer, is a
failure with its reason (never retried here: the scanner fires again on the next signal, deduplicated).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import socket
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


def _internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return not ip.is_global or ip.is_multicast


def internal_literal(host: str) -> bool:
    """True for ``localhost`` and literal addresses that are not public (loopback, private, link-local ...)."""
    if host.lower().rstrip(".") in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return _internal(host.strip("[]"))
    except ValueError:
        return False  # a name: resolved at send time (internal_destination)


async def internal_destination(host: str, port: int) -> str | None:
    """Why ``host`` must not be posted to (it resolves to a non-public address), or None. Checked before
    each delivery, so a rule cannot reach the service's own network (SSRF) through DNS either."""
    if internal_literal(host):
        return f"{host} is not a public address"
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return f"{host} does not resolve"
    for info in infos:
        address = str(info[4][0])
        if _internal(address):
            return f"{host} resolves to a non-public address"
    return None


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
