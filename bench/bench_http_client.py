"""What one upstream call costs the service's HTTP client, side by side with the floor, at the fan-outs
the service makes (1 call: a lone read; 20: ``signals``; 87: a ``market`` for 20 symbols; 150: all at once).

Clients, each against the same local server (a child process on 127.0.0.1 answering a 2 KB JSON body, as a
venue does), on uvloop (the service's loop; ``--loop asyncio`` for the standard one), CPU time of this process:

- :class:`providers.upstream_client.UpstreamClient` as the service builds it (aiohttp: every market-data call);
- ``httpx2.AsyncClient`` as ``providers.http.create_http_client`` builds it (httpcore2's pool on anyio): what
  market data went through before, and what the low-volume senders (alerts, Telegram, OpenAI) still use;
- a minimal HTTP/1.1 client over asyncio streams (no pool logic, no header model): the floor for any Python
  client on this loop, not a candidate (no TLS, redirects, timeouts per phase).

Two regimes: **warm** (connections already open, as in a busy service: the burst is repeated ``--rounds``
times on one client) and **cold** (a new client per burst, so each call opens its connection inside the
measured time, as in a fan-out after the keep-alive has lapsed or in a fresh process: ``bench_signal.py``'s
cold queries).

    .venv/bin/python bench/bench_http_client.py [--rounds 5] [--loop uvloop|asyncio]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvloop

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

    import httpx2

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SERVER = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
body = b'{"symbol":"BTCUSDT","rows":[' + b','.join([b'{"t":1763150399999,"v":"695555.129"}'] * 55) + b']}'
async def answer(request):
    return Response(body, media_type="application/json")
app = Starlette(routes=[Route("/{path:path}", answer)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


SERVICE = "aiohttp, UpstreamClient (the service's market data)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=REPO, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("the local server did not start")
        yield f"http://{HOST}:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def httpx_burst(client: httpx2.AsyncClient, base: str, n: int) -> None:
    responses = await asyncio.gather(*(client.get(f"{base}/fapi/v1/x{i}") for i in range(n)))
    assert all(r.status_code == 200 and r.content.endswith(b"]}") for r in responses)


class RawClient:
    """Keep-alive connections reused LIFO; one request per connection at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def get(self, path: str) -> bytes:
        if self.idle:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nAccept: application/json\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        match = re.search(rb"(?i)content-length:\s*(\d+)", head)
        assert match is not None
        body = await reader.readexactly(int(match.group(1)))
        self.idle.append((reader, writer))
        return body

    async def aclose(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


class Candidate:
    """One client under test: opened, asked for ``n`` GETs at once, closed."""

    def __init__(self, name: str, opener: Callable[[], Awaitable[Callable[[int], Awaitable[None]]]], closer: Any):
        self.name, self.opener, self.closer = name, opener, closer


async def warm(candidate: Candidate, n: int, rounds: int) -> tuple[float, float]:
    burst = await candidate.opener()
    try:
        await burst(n)  # open the connections first: steady state, as a running service
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(rounds):
            await burst(n)
        return (time.process_time() - cpu) / (rounds * n), (time.perf_counter() - wall) / rounds
    finally:
        await candidate.closer()


async def cold(candidate: Candidate, n: int, rounds: int) -> tuple[float, float]:
    cpu = wall = 0.0
    for _ in range(rounds):
        burst = await candidate.opener()
        try:
            started_cpu, started = time.process_time(), time.perf_counter()
            await burst(n)  # every call opens its connection
            cpu += time.process_time() - started_cpu
            wall += time.perf_counter() - started
        finally:
            await candidate.closer()
    return cpu / (rounds * n), wall / rounds


def candidates(base: str) -> list[Candidate]:
    from providers.http import create_http_client
    from providers.upstream_client import UpstreamClient

    port = int(base.rsplit(":", 1)[1])
    found: list[Candidate] = []
    upstreams: list[UpstreamClient] = []

    async def open_upstream() -> Any:
        client = UpstreamClient()
        upstreams.append(client)

        async def burst(k: int) -> None:
            responses = await asyncio.gather(
                *(
                    client.request(
                        "bench", "x", "GET", f"{base}/fapi/v1/x{i}", body=None, headers={}, timeout_seconds=10
                    )
                    for i in range(k)
                )
            )
            assert all(r.status == 200 and r.content.endswith(b"]}") for r in responses)

        return burst

    async def close_upstream() -> None:
        await upstreams.pop().aclose()

    found.append(Candidate(SERVICE, open_upstream, close_upstream))
    holder: dict[str, httpx2.AsyncClient] = {}

    async def open_httpx() -> Any:
        client = holder["client"] = create_http_client()
        return lambda k: httpx_burst(client, base, k)

    async def close_httpx() -> None:
        await holder.pop("client").aclose()

    found.append(Candidate("httpx2 (the low-volume senders; market data before)", open_httpx, close_httpx))
    raws: list[RawClient] = []

    async def open_raw() -> Any:
        raw = RawClient(HOST, port)
        raws.append(raw)

        async def burst(k: int) -> None:
            bodies = await asyncio.gather(*(raw.get(f"/fapi/v1/x{i}") for i in range(k)))
            assert all(b.endswith(b"]}") for b in bodies)

        return burst

    async def close_raw() -> None:
        await raws.pop().aclose()

    found.append(Candidate("raw asyncio streams (floor)", open_raw, close_raw))
    return found


async def run(base: str, rounds: int) -> list[list[str]]:
    rows = []
    for regime, n in (("warm", 1), ("warm", 20), ("warm", 150), ("cold", 20), ("cold", 87)):
        results = {}
        for candidate in candidates(base):
            measure = warm if regime == "warm" else cold
            results[candidate.name] = await measure(candidate, n, rounds)
        floor = results["raw asyncio streams (floor)"][0]
        for name, (cpu, wall) in results.items():
            rows.append([regime, str(n), name, f"{cpu * 1e3:.3f} ms", f"{cpu / floor:.1f} x", f"{wall * 1e3:.1f} ms"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="bursts per size (default 5)")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop", help="event loop (default uvloop)")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 100:
        parser.error("--rounds must be in 1..100")
    print("# HTTP client cost per upstream call")
    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    print(f"machine: nproc {os.cpu_count()}, {platform.machine()}, {platform.system()} {platform.release()}")
    print(f"loop: {args.loop}; load average {os.getloadavg()[0]:.2f}")
    with server() as base:
        runner = uvloop.run if args.loop == "uvloop" else asyncio.run
        rows = runner(run(base, args.rounds))
    headers = ["regime", "burst", "client", "CPU per call", "vs floor", "burst wall time"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print("CPU per call: this process's CPU time / calls (client side only; the server is another process)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
