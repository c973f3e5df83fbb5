"""GraphiQL in a real browser (headless Chromium, driven over the DevTools protocol), offline: the page
renders, runs a query over HTTP and a subscription over graphql-ws against a replayed cassette.

Skipped where Chromium is not installed (``apt-get install chromium``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx2
import pytest
import websockets

from tests.conftest import CASSETTE_NAMES, load_cassette_json, running_service
from tests.process_helpers import free_port

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")

RESULT_JS = "(document.querySelector('.graphiql-response .CodeMirror') || {}).CodeMirror?.getValue() || ''"
RUN_JS = "(() => { const b = document.querySelector('.graphiql-execute-button'); if (b) b.click(); return !!b; })()"


class Page:
    """One tab, driven over the DevTools protocol: evaluate JavaScript, collect console errors."""

    def __init__(self, socket_: websockets.ClientConnection) -> None:
        self.socket = socket_
        self.next_id = 0
        self.errors: list[str] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        sent = self.next_id
        await self.socket.send(json.dumps({"id": sent, "method": method, "params": params}))
        while True:
            message = json.loads(await asyncio.wait_for(self.socket.recv(), timeout=30))
            if message.get("method") == "Runtime.exceptionThrown":
                self.errors.append(str(message["params"]["exceptionDetails"]))
            if message.get("method") == "Log.entryAdded" and message["params"]["entry"]["level"] == "error":
                self.errors.append(str(message["params"]["entry"].get("text")))
            if message.get("id") == sent:
                result: dict[str, Any] = message.get("result", {})
                return result

    async def evaluate(self, expression: str) -> Any:
        answer = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return answer.get("result", {}).get("value")

    async def wait_for(self, expression: str, seconds: float) -> Any:
        """Poll ``expression`` until it is truthy (bounded in time)."""
        deadline = time.monotonic() + seconds
        value = None
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.25)
        return value


@contextlib.asynccontextmanager
async def browser() -> AsyncIterator[Page]:
    """Headless Chromium with no network of its own (no updates, no sync), one blank tab."""
    assert CHROMIUM is not None
    port = free_port()
    # its helpers may still be writing the profile while they exit: leftovers are not an error
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        process = await asyncio.create_subprocess_exec(
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}",
            "about:blank",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: the browser and its helpers end together
        )
        try:
            target = None
            async with httpx2.AsyncClient(timeout=2) as client:
                for _ in range(100):  # up to ~20 s for the browser to start
                    with contextlib.suppress(httpx2.HTTPError):
                        targets = (await client.get(f"http://127.0.0.1:{port}/json/list")).json()
                        target = next((t for t in targets if t["type"] == "page"), None)
                        if target is not None:
                            break
                    await asyncio.sleep(0.2)
            assert target is not None, "Chromium did not open its DevTools endpoint"
            async with websockets.connect(target["webSocketDebuggerUrl"], max_size=None) as socket_:
                page = Page(socket_)
                await page.call("Runtime.enable")
                await page.call("Log.enable")
                await page.call("Page.enable")
                yield page
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)  # the group this test started, by its id
            try:
                await asyncio.wait_for(process.wait(), timeout=20)
            except TimeoutError:
                os.killpg(process.pid, signal.SIGKILL)
                await asyncio.wait_for(process.wait(), timeout=10)


async def run_on_page(page: Page, base: str, document: str, *, wait: str, seconds: float) -> str:
    await page.call("Page.navigate", url=f"{base}/graphql?{urlencode({'q': document})}")
    assert await page.wait_for(RUN_JS, 30), "GraphiQL did not render its run button"
    result: str = await page.wait_for(f"(({RESULT_JS}).includes({json.dumps(wait)}) && ({RESULT_JS}))", seconds) or ""
    if not result:
        result = await page.evaluate(RESULT_JS) or ""
    return result


async def test_graphiql_runs_a_query_and_a_subscription_in_chromium() -> None:
    cassette = load_cassette_json(CASSETTE_NAMES[0])
    async with running_service(cassette) as (base, _), browser() as page:
        answer = await run_on_page(
            page,
            base,
            'query Price { signal(symbol: "BTC") { __typename ... on Signal { score } } }',
            wait='"score"',
            seconds=30,
        )
        assert '"__typename": "Signal"' in answer, answer
        streamed = await run_on_page(
            page, base, 'subscription Bars { candles(symbol: "BTC") { __typename } }', wait="LiveCandle", seconds=45
        )
        assert '"__typename": "LiveCandle"' in streamed, streamed  # an event over graphql-transport-ws
        assert page.errors == []  # no script error, no blocked asset (CSP), no failed load
