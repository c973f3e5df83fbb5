"""One error taxonomy for every provider, classified by what the caller should do next.

    UpstreamError                  base: carries provider, endpoint and a human message
    ├── RetryableError             try again (the HTTP layer does, honouring ``retry_after``)
    │   ├── RateLimited            HTTP 429 / 418, or a venue's "too many requests" code
    │   ├── UpstreamTimeout        connect / read timeout
    │   └── UpstreamUnavailable    5xx, connection refused or reset
    ├── NotRetryableError          the same request will fail the same way
    │   ├── InvalidRequest         4xx or a venue error code for bad parameters
    │   │   └── InvalidSymbol      the venue does not list this symbol (Binance -1121)
    │   ├── GeoBlocked             HTTP 451 / 403 for the caller's region (Binance blocks US hosts)
    │   └── MalformedPayload       the body is not the documented shape (bad JSON, truncated, HTTP 200
    │                              error envelope we cannot classify further)
    └── FatalError                 configuration is wrong; no request can succeed
        ├── AuthenticationFailed   HTTP 401, or 403 with a key: bad or paywalled key
        └── ProviderDisabled       a keyed provider without its key

Status codes and venue codes are mapped onto these in one place, :func:`classify_status`, plus one
small hook per provider for error envelopes that arrive with HTTP 200.

Messages reach clients (``failedSources``, ``UpstreamUnavailable``): they name the provider, the
endpoint and what went wrong in our words. A parser's own text (pydantic's, a ``KeyError``'s) goes to the
log only (:func:`unexpected_shape`).
"""

from __future__ import annotations

import structlog
from pydantic import ValidationError

log = structlog.get_logger(__name__)


class UpstreamError(Exception):
    """Any failure talking to an upstream provider."""

    code = "UPSTREAM_ERROR"

    def __init__(self, provider: str, endpoint: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{provider} {endpoint}: {message}")
        self.provider = provider
        self.endpoint = endpoint
        self.message = message
        self.status = status

    @property
    def source(self) -> str:
        return f"{self.provider}.{self.endpoint}"

    def describe(self) -> str:
        """Short form for responses: ``binance.premiumIndex: HTTP 451 geo-blocked``."""
        return f"{self.source}: {self.message}"


class RetryableError(UpstreamError):
    code = "UPSTREAM_RETRYABLE"

    def __init__(
        self,
        provider: str,
        endpoint: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(provider, endpoint, message, status=status)
        self.retry_after = retry_after


class RateLimited(RetryableError):
    code = "UPSTREAM_RATE_LIMITED"


class UpstreamTimeout(RetryableError):
    code = "UPSTREAM_TIMEOUT"


class UpstreamUnavailable(RetryableError):
    code = "UPSTREAM_UNAVAILABLE"


class NotRetryableError(UpstreamError):
    code = "UPSTREAM_REJECTED"


class InvalidRequest(NotRetryableError):
    code = "UPSTREAM_INVALID_REQUEST"


class InvalidSymbol(InvalidRequest):
    code = "SYMBOL_NOT_FOUND"


class GeoBlocked(NotRetryableError):
    code = "UPSTREAM_GEO_BLOCKED"


class MalformedPayload(NotRetryableError):
    code = "UPSTREAM_MALFORMED"


class FatalError(UpstreamError):
    code = "UPSTREAM_FATAL"


class AuthenticationFailed(FatalError):
    code = "UPSTREAM_AUTH_FAILED"


class ProviderDisabled(FatalError):
    code = "PROVIDER_DISABLED"


def non_finite(provider: str, endpoint: str, where: str) -> MalformedPayload:
    """A NaN or infinity in a venue's answer: an upstream fault; the input is missing, named by field."""
    log.warning("upstream payload has a non-finite number", provider=provider, endpoint=endpoint, field=where)
    return MalformedPayload(provider, endpoint, f"NaN or Infinity in {where[:80]}")


def unexpected_shape(provider: str, endpoint: str, exc: Exception) -> MalformedPayload:
    """A parser refused the payload: the client is told which endpoint; the parser's detail is logged."""
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        if errors and all(error["type"] == "finite_number" for error in errors):
            return non_finite(provider, endpoint, ".".join(str(part) for part in errors[0]["loc"]))
    log.warning("upstream payload rejected", provider=provider, endpoint=endpoint, detail=str(exc)[:1000])
    where = _shape_detail(exc)
    return MalformedPayload(
        provider, endpoint, f"unexpected payload shape ({where})" if where else "unexpected payload shape"
    )


def _shape_detail(exc: Exception) -> str | None:
    """The field at fault in our words: the venue's field name and whether it is missing or invalid."""
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        if not errors:
            return None
        field = ".".join(str(part) for part in errors[0]["loc"])[:80]
        return f"{field} missing" if errors[0]["type"] == "missing" else f"{field} invalid"
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str | int):
        return f"{str(exc.args[0])[:80]} missing"
    if isinstance(exc, IndexError):
        return "too few items"
    return None


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the HTTP-date form is rare for APIs and is treated as absent)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(seconds, 0.0)


def classify_status(
    provider: str,
    endpoint: str,
    status: int,
    message: str,
    *,
    retry_after: float | None = None,
    keyed: bool = False,
) -> UpstreamError:
    """Map an HTTP status onto the taxonomy; the single place where that decision is made."""
    text = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    if status in (429, 418):
        return RateLimited(provider, endpoint, text, status=status, retry_after=retry_after)
    if status == 451:
        return GeoBlocked(provider, endpoint, f"{text} (geo-blocked for this host's region)", status=status)
    if status == 401 or (status == 403 and keyed):
        return AuthenticationFailed(provider, endpoint, text, status=status)
    if status == 403:
        return GeoBlocked(provider, endpoint, f"{text} (forbidden for this host)", status=status)
    if status in (408, 425) or status >= 500:
        return UpstreamUnavailable(provider, endpoint, text, status=status, retry_after=retry_after)
    return InvalidRequest(provider, endpoint, text, status=status)
