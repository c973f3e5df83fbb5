"""``signal-api``: serve the API, serve a cassette as the upstream providers, print the schema.

Every command has ``--help``; a failure the user can fix is one line on stderr that says what to do, and
a non-zero exit code. ``serve`` prints where it listens once the socket is bound, in every mode and at
every log level.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn

if TYPE_CHECKING:
    import socket

    from signal_api.settings import Settings

EXIT_USAGE = 2
EXIT_NOT_STARTED = 3  # uvicorn's own code when the server could not start
CASSETTES_HINT = "the recorded markets are ../shared/cassettes/*.json"
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def serving_line(settings: Settings, host: str, port: int) -> str:
    """The line ``serve`` prints once listening: the URL to open, what else is there, and where the market
    data comes from."""
    base = f"http://{_url_host(host)}:{port}"
    if host in WILDCARD_HOSTS:
        base = f"http://127.0.0.1:{port}"
        where = f"on all interfaces, port {port}: here {base}/graphql"
    else:
        where = f"on {base}/graphql"
    pages = "GraphiQL in a browser, " if settings.graphiql else ""
    if settings.replay_cassette is not None:
        market = f"the market replayed from {settings.replay_cassette}"
    elif settings.replay_url is not None:
        market = f"the replay server at {settings.replay_url}"
    else:
        market = "live upstreams"
    return f"signal-api: running {where} ({pages}REST {base}/invoke, docs {base}/docs) with {market}"


class AnnouncingServer(uvicorn.Server):
    """uvicorn's server, printing :func:`serving_line` on stderr once bound (uvicorn's own "running on"
    line is a log record: hidden by LOG_LEVEL=WARNING, a JSON object with LOG_JSON)."""

    def __init__(self, config: uvicorn.Config, settings: Settings) -> None:
        super().__init__(config)
        self.settings = settings

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.started:
            return
        host, port = self.config.host, self.config.port
        for server in self.servers:  # the port actually bound (PORT=0 picks a free one)
            for bound in server.sockets:
                port = bound.getsockname()[1]
        print(announcement(self.settings, host, port), file=sys.stderr, flush=True)


def announcement(settings: Settings, host: str, port: int, *, terminal: bool | None = None) -> str:
    """:func:`serving_line` in the format of the logs: a JSON object (``url`` = the GraphQL endpoint) when
    they are JSON (LOG_JSON, or stderr not a terminal), so every line stays parseable; plain text else."""
    line = serving_line(settings, host, port)
    as_json = settings.log_json
    if as_json is None:
        as_json = not (sys.stderr.isatty() if terminal is None else terminal)
    if not as_json:
        return line
    import orjson

    moment = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    url = f"http://{_url_host('127.0.0.1' if host in WILDCARD_HOSTS else host)}:{port}/graphql"
    return orjson.dumps({"timestamp": moment, "level": "info", "event": line, "url": url}).decode()


def _serve(args: argparse.Namespace) -> int:
    if args.replay is not None and not args.replay.is_file():
        print(f"signal-api serve: no cassette at {args.replay} ({CASSETTES_HINT})", file=sys.stderr)
        return EXIT_USAGE
    from signal_api.app import create_app
    from signal_api.logging import configure_logging, secret_values
    from signal_api.settings import Settings

    overrides: dict[str, object] = {}
    if args.replay is not None:
        overrides["replay_cassette"] = args.replay
        overrides["replay_latency_ms"] = args.latency_ms
    if args.replay_url is not None:
        overrides["replay_url"] = args.replay_url
    if args.record_history:
        if args.replay is None and args.replay_url is None:
            print("signal-api serve: --record-history goes with --replay or --replay-url", file=sys.stderr)
            return EXIT_USAGE
        overrides["history_in_replay"] = True  # stored, tagged replayed (signals.replayed)
    if args.host is not None:
        overrides["host"] = args.host  # the access policy depends on the address actually bound
    settings = Settings(**overrides)  # type: ignore[arg-type]
    host = args.host or settings.host
    port = args.port or settings.port
    # batched: the lines of one event-loop iteration share one write (an access line per request)
    configure_logging(settings.log_level, settings.log_json, secrets=secret_values(settings), batched=True)
    from signal_api.keys_cli import serve_access_problem

    problem = serve_access_problem(settings)
    if problem is not None:  # one line, before uvicorn (the lifespan refuses too, with a traceback)
        print(f"signal-api: {problem}", file=sys.stderr)
        return 2
    # log_config=None: uvicorn keeps the root handler configured above (one format, redacted); its access
    # log is off because signal_api.request_log writes one line per request, with the request id
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
        ws_max_size=settings.max_body_bytes,  # WebSocket frames are capped like HTTP bodies
    )
    server = AnnouncingServer(config, settings)
    server.run()
    return 0 if server.started else EXIT_NOT_STARTED  # uvicorn logged why (port in use, start-up refused)


def _replay(args: argparse.Namespace) -> int:
    from providers.replay import Cassette, ReplayApp

    try:
        cassette = Cassette.load(args.cassette)
    except OSError as exc:
        print(f"signal-api replay: cannot read {args.cassette}: {exc.strerror} ({CASSETTES_HINT})", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:  # not JSON, or not a cassette (pydantic's ValidationError is a ValueError)
        first = str(exc).strip().splitlines()[0]
        print(f"signal-api replay: {args.cassette} is not a cassette: {first}", file=sys.stderr)
        return EXIT_USAGE
    replay = ReplayApp(cassette, latency_ms=args.latency_ms, ws_loop=True)  # late subscribers see events too
    print(
        f"replaying {args.cassette} ({len(cassette.http)} HTTP entries, clock {cassette.now.isoformat()}) "
        f"on http://{args.host}:{args.port}/<provider>/...",
        file=sys.stderr,
    )
    uvicorn.run(replay.app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def _export_schema(args: argparse.Namespace) -> int:
    if args.possible_types:
        import json

        from schema.build import possible_types

        sys.stdout.write(json.dumps(possible_types(), indent=2) + "\n")
        return 0
    from schema.build import schema_sdl

    sys.stdout.write(schema_sdl())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signal-api",
        description="Futures Signal API: explainable LONG / SHORT / NEUTRAL signals from crypto futures data, "
        "over GraphQL (/graphql, GraphiQL in a browser) and REST (/invoke, /docs).",
        epilog="`signal-api COMMAND --help` describes each command. Settings come from the environment and .env "
        "(README: Settings).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the GraphQL API (live upstreams unless --replay)",
        description="Run the API: GraphQL and GraphiQL at /graphql, REST at /invoke, docs at /docs, health at "
        "/health. Upstreams are the live venues (no key needed) unless --replay serves a recorded market "
        "offline. Prints the URL once it listens.",
    )
    serve.add_argument("--host", help="bind address (default: HOST setting, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: PORT setting, 8000)")
    serve.add_argument("--replay", type=Path, metavar="CASSETTE", help="serve offline from a recorded cassette")
    serve.add_argument(
        "--latency-ms", type=float, default=0.0, help="with --replay: delay added to every upstream answer, in ms"
    )
    serve.add_argument(
        "--replay-url", metavar="URL", help="use a running `signal-api replay` server (and its cassette's clock)"
    )
    serve.add_argument(
        "--record-history",
        action="store_true",
        help="with --replay: store replayed LONG/SHORT signals in the history, tagged replayed (excluded from "
        "signalPerformance and symbolInsights), so alerts and outcomes can be shown offline",
    )
    serve.set_defaults(func=_serve)

    replay = sub.add_parser(
        "replay",
        help="serve a cassette as the upstream providers' hosts would",
        description="Serve a recorded market (cassette) over HTTP as the upstream venues would answer, for "
        "`signal-api serve --replay-url http://HOST:PORT` in another process (`serve --replay FILE` runs one "
        "in-process instead).",
    )
    replay.add_argument(
        "--cassette",
        type=Path,
        required=True,
        metavar="FILE",
        help="a recorded market, e.g. ../shared/cassettes/btc-2025-07-11-rising.json",
    )
    replay.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    replay.add_argument("--port", type=int, default=8900, help="port (default 8900)")
    replay.add_argument(
        "--latency-ms", type=float, default=0.0, help="delay added to every answer, in milliseconds (default 0)"
    )
    replay.set_defaults(func=_replay)

    export = sub.add_parser(
        "export-schema",
        help="print the GraphQL SDL",
        description="Print the GraphQL schema (SDL) on stdout, as committed in schema/schema.graphql; "
        "for code generators and clients.",
    )
    export.add_argument(
        "--possible-types",
        action="store_true",
        help="print Apollo Client's possibleTypes map instead (JSON: union/interface name -> member type names)",
    )
    export.set_defaults(func=_export_schema)

    from signal_api.backtest_cli import add_commands as add_backtest_commands

    add_backtest_commands(sub)
    from signal_api.model_cli import add_commands as add_model_commands

    add_model_commands(sub)
    from signal_api.history_cli import add_commands as add_history_commands

    add_history_commands(sub)
    from signal_api.keys_cli import add_commands as add_keys_commands

    add_keys_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
