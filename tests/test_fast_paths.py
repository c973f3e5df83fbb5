"""The cheap paths of the request path answer exactly what the slow ones would.

- ``Redactor.text`` skips its regex passes only when they could not change the text: checked against
  ``Redactor.scrub`` (every pass) over planted secrets, header spellings in any case and quoting, non-ASCII
  case folds the regex engine applies (``ſ`` for ``s``, the Kelvin sign for ``k``) and random mixtures.
- The security/CORS layer's path for requests without ``Origin`` sets the same ``Vary`` as Starlette's.
- The HTTP client (per-host pools on asyncio streams) still notices a server that hung up on an idle connection.
- Binance open interest for several symbols is one round trip (the pricing premium index asked alongside).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.routing import Route

from providers.binance.venue import build as build_binance
from providers.normalize import FiniteFloat  # noqa: TC001 (pydantic resolves the row type's annotations at run time)
from providers.symbols import parse_symbol
from providers.upstream_client import UpstreamClient
from signal_api.logging import Redactor
from signal_api.security.headers import _vary_origin
from tests.providers_helpers import fixture_json, served_deps

if TYPE_CHECKING:
    from starlette.requests import Request

SECRETS = ("cg-PLANTED-setting-key-0b9e", 'quote"and\\slash-secret', "PLANTED-db-password-c4d7")
SAMPLES = [
    "",
    "POST",
    "/graphql",
    "127.0.0.1",
    '{"event":"http request","method":"POST","route":"/graphql","status":200,"key_id":null}',
    "Authorization: Bearer sk-live-PLANTED-7f3a9c",
    "AUTHORIZATION=abcdef",
    "{'cookie': 'session=PLANTED-cookie-51c2e0'}",
    '(b"x-api-key", b"PLANTED-x-api-key-88d1")',
    "X_API_KEY: PLANTED",
    "proxy-authorization: Basic dXNlcjpwYXNz",
    "bearer abcdef.ghi",
    "fsa_0123456789abcdef0123",
    "the key is fsa_0123456789abcdefXYZ, keep the prefix",
    "url postgresql://signals:PLANTED-db-password-c4d7@127.0.0.1/signals",
    'json form quote\\"and\\\\slash-secret inside',
    "baſic dXNlcjpwYXNz",  # LATIN SMALL LETTER LONG S: IGNORECASE matches it as "s"
    "coo\u212aie: PLANTED-kelvin",  # KELVIN SIGN: IGNORECASE matches it as "k"
    "Authorızation: dotless",  # LATIN SMALL LETTER DOTLESS I
    "naïve text without any secret in it, long enough to be checked",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_text_equals_every_pass(text: str) -> None:
    redactor = Redactor(SECRETS)
    assert redactor.text(text) == redactor.scrub(text)


def test_the_fast_path_changes_nothing_on_random_mixtures() -> None:
    """Random strings built from fragments of every pattern: the answers agree, and some are redacted."""
    redactor = Redactor(SECRETS)
    fragments = [
        "auth", "orization", "Authorization", "cookie", "COOKIE", "api", "-", "_", "key", "KEY", "x", "bearer",
        "Basic", " ", ":", "=", "'", '"', "b", "(", ",", "fsa_", "0123456789abcdef", "PLANTED", "-db-password-c4d7",
        "cg-PLANTED-setting-key-0b9e", "ſ", "\u212a", "ı", "é", "\n", "\\",
    ]  # fmt: skip
    rng = random.Random(15)
    changed = 0
    for _ in range(5_000):
        text = "".join(rng.choice(fragments) for _ in range(rng.randint(1, 14)))
        slow = redactor.scrub(text)
        assert redactor.text(text) == slow, text
        changed += slow != text
    assert changed > 200  # the mixtures did exercise the patterns


def test_plain_access_lines_skip_the_patterns() -> None:
    redactor = Redactor(SECRETS)
    line = '{"event":"http request","method":"POST","path":"/graphql","status":200,"client":"127.0.0.1"}'
    assert not redactor._may_hold_secret(line)
    assert redactor._may_hold_secret(line.replace("POST", "Cookie"))
    assert redactor._may_hold_secret(line + SECRETS[2])


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"content-type", b"application/json")],
        [(b"vary", b"Accept, Authorization, X-API-Key"), (b"etag", b'"x"')],
        [(b"vary", b"Accept"), (b"x-cache", b"HIT"), (b"vary", b"Cookie")],
    ],
)
def test_vary_origin_matches_starlette(headers: list[tuple[bytes, bytes]]) -> None:
    message = {"type": "http.response.start", "headers": list(headers)}
    starlette = MutableHeaders(scope=message)
    starlette["Vary"] = ", ".join([*starlette.getlist("Vary"), "Origin"])
    assert _vary_origin(headers) == message["headers"]


async def test_the_upstream_client_sees_a_server_hang_up_on_an_idle_connection() -> None:
    """A keep-alive connection the server closed while idle is noticed (the loop has read the FIN) and the
    next call opens a new one, instead of failing on the dead connection."""
    connections = 0

    async def answer_once_then_hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        body = b'{"ok":true}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()  # no "Connection: close": the client believes it may reuse the connection

    server = await asyncio.start_server(answer_once_then_hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        client = UpstreamClient()
        try:
            for _ in range(3):
                response = await client.request(
                    "test", "x", "GET", f"http://127.0.0.1:{port}/x", body=None, headers={}, timeout_seconds=5.0
                )
                assert response.content == b'{"ok":true}'
                await asyncio.sleep(0.05)  # the server's FIN arrives while the connection is idle
        finally:
            await client.aclose()
        assert connections == 3
    finally:
        server.close()
        await server.wait_closed()


async def test_binance_open_interest_of_several_symbols_is_one_round_trip() -> None:
    """The all-symbols ``premiumIndex`` that prices them is asked together with each ``openInterest``: the
    local venue below holds the premium answer until an ``openInterest`` request has arrived (bounded), so
    asking them one after the other would fail. A symbol Binance does not list fails alone."""

    btc_premium = fixture_json("binance", "fapi_v1_premiumIndex.json")  # a live BTCUSDT row
    btc_oi = fixture_json("binance", "fapi_v1_openInterest.json")  # a live BTCUSDT row
    unknown = fixture_json("binance", "error_-1121_invalid_symbol.json")
    listed = {"BTCUSDT": btc_oi, "ETHUSDT": {**btc_oi, "symbol": "ETHUSDT"}}
    open_interest_asked = asyncio.Event()

    async def premium_index(request: Request) -> JSONResponse:
        try:
            await asyncio.wait_for(open_interest_asked.wait(), 5.0)
        except TimeoutError:
            return JSONResponse({"code": -1, "msg": "openInterest was not asked meanwhile"}, status_code=503)
        return JSONResponse([btc_premium, {**btc_premium, "symbol": "ETHUSDT"}])

    async def open_interest(request: Request) -> JSONResponse:
        open_interest_asked.set()
        row = listed.get(request.query_params["symbol"])
        return JSONResponse(row) if row is not None else JSONResponse(unknown, status_code=400)

    app = Starlette(
        routes=[
            Route("/binance/fapi/v1/premiumIndex", premium_index),
            Route("/binance/fapi/v1/openInterest", open_interest),
        ]
    )
    async with served_deps(app, "binance", {}) as deps:
        binance = build_binance(deps)
        answers = await binance.open_interests([parse_symbol(s) for s in ("BTC", "ETH", "XYZ")])
    assert set(answers) == {"BTCUSDT", "ETHUSDT"}
    assert answers["BTCUSDT"].coins == float(btc_oi["openInterest"])
    assert answers["BTCUSDT"].usd == float(btc_oi["openInterest"]) * float(btc_premium["markPrice"])


def test_the_non_finite_scan_skips_only_fields_that_cannot_hold_one() -> None:
    """Fields pydantic validated finite (``allow_inf_nan=False``) and int/str/bool fields are not rescanned;
    a model that allows NaN, a nested model and a container still are."""
    import dataclasses
    import math

    from pydantic import BaseModel, ConfigDict

    from providers.normalize import _field_names, first_non_finite

    class Lax(BaseModel):
        x: float
        n: int = 0

    class Strict(BaseModel):
        model_config = ConfigDict(frozen=True, allow_inf_nan=False)
        price: float
        maybe: float | None = None
        label: str = ""
        inner: Lax | None = None
        series: list[Lax] = []

    @dataclasses.dataclass
    class Domain:
        value: float
        rows: tuple[Strict, ...]

    assert _field_names(Strict) == ("inner", "series")
    assert _field_names(Lax) == ("x",)
    assert first_non_finite(Strict(price=1.0, maybe=2.0, inner=Lax(x=3.0), series=[Lax(x=4.0)])) is None
    assert first_non_finite(Strict(price=1.0, inner=Lax(x=math.nan))) == "inner.x"
    assert first_non_finite(Strict(price=1.0, series=[Lax(x=1.0), Lax(x=math.inf)])) == "series[1].x"
    assert first_non_finite(Domain(math.inf, ())) == "value"
    assert first_non_finite(Domain(1.0, (Strict(price=1.0, inner=Lax(x=-math.inf)),))) == "rows[0].inner.x"


def test_the_non_finite_scan_reads_a_row_types_annotations() -> None:
    """A ``NamedTuple`` row (validated by position): its :data:`FiniteFloat` and int fields are not rescanned,
    a plain float field is, and so is a row whose annotations cannot be resolved (every field)."""
    import math

    from providers.binance.models import BinanceKline
    from providers.normalize import _NOTHING_INSIDE, _field_names, _field_values, first_non_finite

    assert _field_names(BinanceKline) == ()
    assert _field_names(_MixedRow) == ("plain",)
    assert _field_names(_UnresolvableRow) == ("value",)
    assert first_non_finite((_MixedRow(1.0, 2, 3.0), _MixedRow(1.0, 2, math.nan))) == "[1].plain"
    assert first_non_finite((_MixedRow(math.nan, 2, 3.0),)) is None  # pydantic refused it: not built so
    assert first_non_finite([_UnresolvableRow(math.inf)]) == "[0].value"

    class Price(float):  # a float subclass holds no fields, yet is a number to check
        pass

    assert _field_values(Price)(Price(1.0)) == ()  # no fields ...
    assert Price not in _NOTHING_INSIDE  # ... but never skipped as holding nothing: it is the number
    assert first_non_finite([Price(1.0), Price(math.inf)]) == "[1]"
    assert _field_values(BinanceKline)(BinanceKline.from_row(_KLINE_ROW)) == ()
    assert BinanceKline in _NOTHING_INSIDE
    assert first_non_finite([(_MixedRow(1.0, 2, 3.0), _MixedRow(1.0, 2, math.nan))]) == "[0][1].plain"


_KLINE_ROW = [1789478160000, "76936.2", "76970.0", "76930.1", "76965.4", "12.5", 1789478219999, "962000.1", 878, "6.1"]
_KLINE_ROW.append("469500.7")


class _MixedRow(NamedTuple):
    checked: FiniteFloat
    number: int
    plain: float


class _UnresolvableRow(NamedTuple):
    value: NotDefinedAnywhere  # type: ignore[name-defined]  # noqa: F821


@dataclasses.dataclass(frozen=True, slots=True)
class _OneField:
    value: Any


@dataclasses.dataclass(frozen=True, slots=True)
class _ThreeFields:
    price: Any
    label: Any
    rows: Any


def _scannable() -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(),
        st.text(max_size=3),
        st.none(),
        st.booleans(),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.lists(children, max_size=4).map(tuple),
            st.dictionaries(st.text(max_size=2), children, max_size=3),
            children.map(_OneField),
            st.tuples(children, children, children).map(lambda t: _ThreeFields(*t)),
        ),
        max_leaves=25,
    )


@given(_scannable())
@settings(max_examples=400, deadline=None)
def test_the_fast_non_finite_scan_agrees_with_the_exact_path_search(value: Any) -> None:
    """The scan with its inlined leaves and per-type field getters finds a NaN or infinity exactly when
    the path search (the slow, exact walk that names where it is) does."""
    from providers.normalize import _has_non_finite, _path_of_non_finite

    assert _has_non_finite(value) is (_path_of_non_finite(value, "") is not None)
