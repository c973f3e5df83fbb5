"""What a refused request and an unexpected 500 cost now, in CPU per request, with each log renderer.

Before issue 9, a body that was valid JSON but not an object reached Strawberry's view, raised, and the
default console logging rendered a rich traceback with every frame's local variables: about 0.8 s of CPU
per request (and request headers in the log). Now the body guard answers 400 before any view runs, and an
unexpected exception is logged once with a plain, redacted traceback.

The app runs in-process (Starlette's test client, lifespan on, upstreams on a closed port); the figures
include the test client's own overhead, so they are upper bounds.

    .venv/bin/python bench/bench_errors.py --requests 300
"""

from __future__ import annotations

import argparse
import io
import time
from typing import TYPE_CHECKING, Any

from starlette.routing import Route
from starlette.testclient import TestClient

from signal_api.app import create_app
from signal_api.logging import configure_logging
from signal_api.settings import Settings

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response


async def _boom(request: Request) -> Response:
    raise RuntimeError("an unexpected failure")


def _cpu_ms(client: TestClient, requests: int, method: str, path: str, **kwargs: Any) -> tuple[float, int]:
    status = 0
    for _ in range(10):  # warm-up
        client.request(method, path, **kwargs)
    started = time.process_time()
    for _ in range(requests):
        status = client.request(method, path, **kwargs).status_code
    return (time.process_time() - started) / requests * 1000, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    for json_lines in (False, True):
        configure_logging("INFO", json_lines, stream=io.StringIO())
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, upstream_retry_attempts=1, streams_enabled=False, history_enabled=False
        ).with_replay_base("http://127.0.0.1:9")
        app = create_app(settings)
        app.router.routes.append(Route("/boom", _boom))
        with TestClient(app, raise_server_exceptions=False) as client:
            headers = {"cookie": "session=abc", "content-type": "application/json"}
            n = args.requests
            post: dict[str, Any] = {"method": "POST", "path": "/graphql", "headers": headers}
            rows = [
                ("unexpected exception", *_cpu_ms(client, n, "GET", "/boom", headers=headers)),
                ("JSON array body", *_cpu_ms(client, n, content=b"[]", **post)),
                ("invalid UTF-8 body", *_cpu_ms(client, n, content=b"\xff", **post)),
                ("10,000-deep body", *_cpu_ms(client, 50, content=b"[" * 10_000, **post)),
            ]
        for name, cpu_ms, status in rows:
            print(f"{'json' if json_lines else 'console':8} {name:22} HTTP {status}  {cpu_ms:6.2f} ms CPU/request")


if __name__ == "__main__":
    main()
