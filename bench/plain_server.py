"""The baseline for ``bench_signal.py``: a plain Starlette app answering ``POST /graphql`` with fixed JSON.

The body is read once at start-up from ``--body-file`` (the exact bytes the real service answered to the
benchmark query) and returned as-is, so the comparison isolates what GraphQL execution costs on top of
Starlette + uvicorn. Listens on 127.0.0.1 only.

    .venv/bin/python bench/plain_server.py --port 8123 --body-file /tmp/body.json
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from starlette.requests import Request

HOST = "127.0.0.1"


def create_app(body: bytes) -> Starlette:
    async def graphql(request: Request) -> Response:
        await request.body()  # a real endpoint receives the query: read it, as the GraphQL view does
        return Response(body, media_type="application/json")

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body-file", type=Path, required=True, help="the exact JSON bytes to answer with")
    args = parser.parse_args(argv)
    body = args.body_file.read_bytes()
    # same uvicorn defaults as `signal-api serve` (auto loop/http: uvloop + httptools when installed)
    uvicorn.run(create_app(body), host=HOST, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
