"""Where a cached ``/graphql`` answer spends its CPU inside the app, against the simplest baselines, in one run.

1. One access line (``http request``, the fields ``signal_api.request_log`` logs), JSON with every secret
   setting redacted, four ways: as served (the direct renderer ``signal_api.logging.FastJsonLogger``, which
   writes the bytes the structlog pipeline would), through the configured structlog pipeline (the redactor's
   substring pre-check, then its regex passes only when a pattern could match), with every regex pass
   forced on every string (what it did before), and the baseline: the same structlog JSON line with no
   redaction at all.
2. A repeated ``signal`` query answered from the response cache by the real app (every middleware: request
   log, security headers, CORS, body limits and guard, authentication, rate limiting when on, the cache),
   driven by direct ASGI calls (no sockets, no uvicorn), vs the baseline, a plain Starlette route returning
   the same bytes driven the same way. The app reads a replay of the cassette served on 127.0.0.1.

CPU is this process's (``time.process_time``) per line or request; the figures exclude uvicorn's HTTP
parsing and socket writes, which ``bench/bench_signal.py`` measures end to end.

    .venv/bin/python bench/bench_request_log.py [--requests 3000] [--lines 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

REPO = Path(__file__).resolve().parent.parent
CASSETTE = REPO / ".." / "shared" / "cassettes" / "btc-2025-11-14-latest.json"
SIGNAL_QUERY = (
    'query Q { signal(symbol: "BTC") { ... on Signal { symbol recommendation score confidence price '
    "factors { name score weight contribution available source rawValue } dataQuality { score missing } } } }"
)
ACCESS_FIELDS: dict[str, Any] = {
    "method": "POST",
    "route": "/graphql",
    "path": "/graphql",
    "status": 200,
    "duration_ms": 0.3,
    "client": "127.0.0.1",
    "key_id": None,
}
PLANTED_SECRETS = ["cg-PLANTED-setting-key-0b9e", "PLANTED-db-password-c4d7", "sk-PLANTED-openai-key-51c2e0"]


def log_lines(lines: int) -> list[list[str]]:
    import structlog

    from signal_api.logging import Redactor, configure_logging
    from signal_api.request_log import _access_log

    sink = Path(os.devnull).open("w")  # noqa: SIM115 (open for the whole measurement)
    rows = []

    def measure(label: str, log: Any = None) -> None:
        log = log or structlog.get_logger("signal_api.access")
        structlog.contextvars.bind_contextvars(request_id="0123456789abcdef0123456789abcdef")
        for _ in range(200):
            log.info("http request", **ACCESS_FIELDS)
        started = time.process_time()
        for _ in range(lines):
            log.info("http request", **ACCESS_FIELDS)
        rows.append([label, f"{(time.process_time() - started) / lines * 1e6:.1f} µs"])
        structlog.contextvars.unbind_contextvars("request_id")

    configure_logging("INFO", True, secrets=PLANTED_SECRETS, stream=sink)
    measure("as served: the direct renderer, the same bytes (request_log's access logger)", _access_log())
    measure("configured pipeline (pre-check, then the regex passes if needed)")
    original = Redactor.text
    Redactor.text = Redactor.scrub  # type: ignore[method-assign]
    try:
        configure_logging("INFO", True, secrets=PLANTED_SECRETS, stream=sink)
        measure("pre-check off: every regex pass on every string (as before)")
    finally:
        Redactor.text = original  # type: ignore[method-assign]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(file=sink),
    )
    measure("baseline: structlog JSON, no redaction")
    structlog.reset_defaults()
    sink.close()
    return rows


def asgi_caller(app: Any, body: bytes) -> Callable[[], Awaitable[list[Any]]]:
    """One POST /graphql through ``app`` by direct ASGI calls; returns the messages sent."""
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
    ]

    async def call() -> list[Any]:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": "/graphql", "raw_path": b"/graphql", "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
        }  # fmt: skip
        delivered = False
        sent: list[Any] = []

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Any) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent

    return call


async def cpu_per_call(call: Callable[[], Awaitable[list[Any]]], n: int, expected: bytes) -> float:
    for _ in range(200):
        await call()
    started = time.process_time()
    for _ in range(n):
        sent = await call()
        if sent[-1].get("body") != expected:
            raise RuntimeError(f"unexpected answer: {sent[:1]}")
    return (time.process_time() - started) / n


async def cached_signal(requests: int, sink: IO[str]) -> list[list[str]]:
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from providers.replay import Cassette, ReplayApp, serve_in_background
    from signal_api.app import create_app
    from signal_api.logging import configure_logging, secret_values
    from signal_api.settings import Settings

    cassette = Cassette.model_validate(json.loads(CASSETTE.read_text()))
    body = json.dumps({"query": SIGNAL_QUERY}).encode()
    rows: list[list[str]] = []
    expected = b""
    async with serve_in_background(ReplayApp(cassette).app) as upstream:
        for limited in (False, True):
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None, rate_limit_enabled=limited, rate_limit_anonymous_requests=10**9, history_enabled=False
            ).with_replay_base(upstream.base_url)
            configure_logging("INFO", True, secrets=secret_values(settings) + PLANTED_SECRETS, stream=sink)
            app = create_app(settings, clock=lambda: cassette.now)
            async with serve_in_background(app, lifespan="on"):
                call = asgi_caller(app, body)
                first = await call()
                expected = first[-1]["body"]
                hit = dict(first[0]["headers"]).get(b"x-cache")
                second = dict((await call())[0]["headers"]).get(b"x-cache")
                if (hit, second) != (b"MISS", b"HIT"):
                    raise RuntimeError(f"the response cache did not answer: {hit!r} then {second!r}")
                cpu = await cpu_per_call(call, requests, expected)
            label = "rate limiting on" if limited else "rate limiting off (as bench_signal.py)"
            rows.append([f"cached `signal`, every middleware, {label}", f"{cpu * 1e6:.1f} µs"])

    async def plain(request: Any) -> Response:
        return Response(expected, media_type="application/json")

    baseline = Starlette(routes=[Route("/graphql", plain, methods=["POST"])])
    cpu = await cpu_per_call(asgi_caller(baseline, body), requests, expected)
    rows.append([f"baseline: plain Starlette route, the same {len(expected):,} bytes", f"{cpu * 1e6:.1f} µs"])
    return rows


def table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print(
        "  "
        + "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths, strict=True)))
    )
    for row in rows:
        print(
            "  "
            + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="cached requests per target (default 3000)")
    parser.add_argument("--lines", type=int, default=20000, help="access lines per variant (default 20000)")
    args = parser.parse_args(argv)
    if not (100 <= args.requests <= 100_000 and 100 <= args.lines <= 1_000_000):
        parser.error("--requests in 100..100000, --lines in 100..1000000")
    if not CASSETTE.is_file():
        print(f"error: no cassette at {CASSETTE.resolve()}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO))
    print("# request log and cached-answer CPU, in process")
    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    print(f"machine: nproc {os.cpu_count()}, {platform.machine()}, load average {os.getloadavg()[0]:.1f}")
    print("\n## 1. One access line")
    table(["pipeline", "CPU per line"], log_lines(args.lines))
    print("\n## 2. A cached `signal` answer through the app (direct ASGI calls)")
    with Path(os.devnull).open("w") as sink:  # the app's log lines: rendered, redacted, discarded
        rows = asyncio.run(cached_signal(args.requests, sink))
    table(["target", "CPU per request"], rows)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
