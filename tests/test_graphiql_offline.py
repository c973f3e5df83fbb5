"""GraphiQL works offline: the page and everything it loads come from this service, never another host."""

from __future__ import annotations

import contextlib
import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import httpx2
from graphql import parse, validate

from schema.build import build_schema
from signal_api.graphiql import PAGE_SCRIPT_FILE
from tests.conftest import running_service

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

EMPTY_CASSETTE: dict[str, Any] = {"version": 1, "clock": 1_752_192_000_000, "http": []}
# URLs inside scripts and styles: ES imports, CSS imports and url(), source maps
_EMBEDDED_URL = re.compile(
    r"""(?:\bimport\s*\(\s*|\bfrom\s+|@import\s+(?:url\()?\s*|\burl\(\s*|sourceMappingURL=)["']?([^"')\s;]+)"""
)


class _References(HTMLParser):
    """Every URL an HTML page makes the browser load: attributes, inline scripts and styles."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._inline: list[str] = []
        self._in_code = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "action", "poster", "data") and value is not None:
                self.urls.append(value)
        self._in_code = tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._in_code = False

    def handle_data(self, data: str) -> None:
        if self._in_code:
            self.urls.extend(_EMBEDDED_URL.findall(data))


def external(url: str) -> bool:
    """A URL that leaves this service: any host, or a scheme other than data: (protocol-relative too)."""
    parts = urlsplit(url)
    return bool(parts.netloc) or parts.scheme not in ("", "data")


@contextlib.asynccontextmanager
async def graphiql_service(**settings: Any) -> AsyncIterator[str]:
    """The app over an empty recorded market on 127.0.0.1: the page and its assets need no upstream data."""
    async with running_service(EMPTY_CASSETTE, **settings) as (base, _):
        yield base


async def test_the_page_references_no_external_host_and_every_asset_is_served() -> None:
    async with graphiql_service() as base, httpx2.AsyncClient(timeout=10) as client:
        page = await client.get(f"{base}/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "unpkg.com" not in page.text and "cdn" not in page.text.lower()
        references = _References()
        references.feed(page.text)
        local = [url for url in references.urls if not url.startswith("data:")]
        assert [url for url in references.urls if external(url)] == []
        scripts = [url for url in local if url.endswith(".js")]
        assert len(scripts) >= 4 and any(url.endswith("graphql-ws.min.js") for url in scripts)
        assert any(url.endswith(".css") for url in local)
        for url in local:
            asset = await client.get(urljoin(f"{base}/graphql", url))
            assert asset.status_code == 200, url
            assert asset.headers["content-type"].split(";")[0] in ("text/javascript", "text/css"), url
            embedded = [ref for ref in _EMBEDDED_URL.findall(asset.text) if external(ref)]
            assert embedded == [], (url, embedded[:5])  # a bundle importing from a CDN would fail offline
        csp = page.headers["content-security-policy"]
        assert "https://" not in csp and "http://" not in csp  # the policy names no other host


async def test_the_socket_client_speaks_graphql_transport_ws_with_the_key_in_connection_init() -> None:
    async with graphiql_service() as base, httpx2.AsyncClient(timeout=10) as client:
        client_bundle = await client.get(f"{base}/graphiql/assets/graphql-ws.min.js")
        page_script = await client.get(f"{base}/graphiql/page.js")
    assert client_bundle.status_code == 200 and "graphql-transport-ws" in client_bundle.text
    assert "createClient" in client_bundle.text
    assert page_script.status_code == 200 and page_script.text == PAGE_SCRIPT_FILE.read_text()
    assert re.search(r"graphqlWs\.createClient\(\{[^}]*connectionParams: key \? \{ apiKey: key \}", page_script.text)


def test_the_default_query_of_the_page_is_valid_against_the_schema() -> None:
    """The page opens on a runnable example: a renamed field must update it."""
    found = re.search(r"const DEFAULT_QUERY = `(.*?)`;", PAGE_SCRIPT_FILE.read_text(), re.DOTALL)
    assert found is not None
    document = parse(found.group(1))
    schema = build_schema()._schema
    assert validate(schema, document) == []
    assert document.definitions  # not only comments


async def test_graphiql_off_serves_no_page_and_no_assets() -> None:
    async with graphiql_service(graphiql=False) as base, httpx2.AsyncClient(timeout=10) as client:
        page = await client.get(f"{base}/graphql", headers={"Accept": "text/html"})
        asset = await client.get(f"{base}/graphiql/assets/graphiql.min.js")
    assert "<html" not in page.text.lower()
    assert asset.status_code == 404
