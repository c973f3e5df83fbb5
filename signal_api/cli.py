"""``signal-api``: serve the API, serve a cassette as the upstream providers, print the schema."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn


def _serve(args: argparse.Namespace) -> int:
    from signal_api.app import create_app
    from signal_api.logging import configure_logging, secret_values
    from signal_api.settings import Settings

    overrides: dict[str, object] = {}
    if args.replay is not None:
        overrides["replay_cassette"] = args.replay
        overrides["replay_latency_ms"] = args.latency_ms
    if args.replay_url is not None:
        overrides["replay_url"] = args.replay_url
    if args.host is not None:
        overrides["host"] = args.host  # the access policy depends on the address actually bound
    settings = Settings(**overrides)  # type: ignore[arg-type]
    host = args.host or settings.host
    port = args.port or settings.port
    configure_logging(settings.log_level, settings.log_json, secrets=secret_values(settings))
    from signal_api.keys_cli import serve_access_problem

    problem = serve_access_problem(settings)
    if problem is not None:  # one line, before uvicorn (the lifespan refuses too, with a traceback)
        print(f"signal-api: {problem}", file=sys.stderr)
        return 2
    # log_config=None: uvicorn keeps the root handler configured above (one format, redacted); its access
    # log is off because signal_api.request_log writes one line per request, with the request id
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
        ws_max_size=settings.max_body_bytes,  # WebSocket frames are capped like HTTP bodies
    )
    return 0


def _replay(args: argparse.Namespace) -> int:
    from providers.replay import Cassette, ReplayApp

    cassette = Cassette.load(args.cassette)
    replay = ReplayApp(cassette, latency_ms=args.latency_ms)
    print(
        f"replaying {args.cassette} ({len(cassette.http)} HTTP entries, clock {cassette.now.isoformat()}) "
        f"on http://{args.host}:{args.port}/<provider>/...",
        file=sys.stderr,
    )
    uvicorn.run(replay.app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def _export_schema(args: argparse.Namespace) -> int:
    from schema.build import schema_sdl

    sys.stdout.write(schema_sdl())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signal-api", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the GraphQL API (live upstreams unless --replay)")
    serve.add_argument("--host", help="bind address (default: HOST setting, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: PORT setting, 8000)")
    serve.add_argument("--replay", type=Path, metavar="CASSETTE", help="serve offline from a recorded cassette")
    serve.add_argument("--latency-ms", type=float, default=0.0, help="with --replay: injected upstream latency")
    serve.add_argument(
        "--replay-url", metavar="URL", help="use a running `signal-api replay` server (and its cassette's clock)"
    )
    serve.set_defaults(func=_serve)

    replay = sub.add_parser("replay", help="serve a cassette as the upstream providers' hosts would")
    replay.add_argument("--cassette", type=Path, required=True, metavar="FILE")
    replay.add_argument("--host", default="127.0.0.1")
    replay.add_argument("--port", type=int, default=8900)
    replay.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every answer")
    replay.set_defaults(func=_replay)

    export = sub.add_parser("export-schema", help="print the GraphQL SDL")
    export.set_defaults(func=_export_schema)

    from signal_api.backtest_cli import add_commands as add_backtest_commands

    add_backtest_commands(sub)
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
