"""Validation under attack: how long each hostile document takes to be refused, and /health meanwhile.

Starts ``signal-api serve`` as a separate process on 127.0.0.1 (upstreams pointed at a closed port,
no history, no streams, the per-client budgets off so nothing is refused for rate, the body cap raised
to 128 KiB so a 64 KiB document arrives) and POSTs, one at a time, each document of:

- the fragment fan-out family, 5 to 40 levels (fragment N spreads fragment N-1 twice: 2^N expansions;
  variants with an alias per level and with a costed field at the bottom);
- a ~64 KiB document of each known attack shape: deep nesting, many aliases, many fragments, repeated
  fields, many directives, a long argument list, many variable definitions, a huge list literal, and a
  small document whose variables carry a ~64 KiB list.

Columns: client round trip p50 and max (wall clock, so it includes waiting for a CPU on a busy machine)
and the server process's own CPU per request (user + system from /proc, 10 ms ticks averaged over the
requests; the /health polls running meanwhile are included, about 0.3 ms each).

Every request gets a fresh operation name, so neither the parser cache nor the validation cache helps.
A second client polls ``GET /health`` every 20 ms throughout and reports its latency. Two server
configurations run: the defaults (``MAX_QUERY_TOKENS=2000`` refuses most 64 KiB documents while parsing)
and ``--lifted`` tokens (100,000), which makes every document reach validation, our rules included.

Baseline, same documents, in this process: graphql-core's own ``parse`` + ``validate(schema, document,
specified_rules)`` (no token cap, no limits of ours), the strongest simple alternative.

    .venv/bin/python bench/bench_validation.py            # ~1 minute
    .venv/bin/python bench/bench_validation.py --reps 3

Targets: each document refused in <= 50 ms (client round trip, so an upper bound); /health <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2

if TYPE_CHECKING:
    from collections.abc import Callable

HOST = "127.0.0.1"
TARGET_KB = 64
REFUSE_MS = 50.0
HEALTH_MS = 100.0
ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------ documents


def fan_out(levels: int, variant: str) -> Callable[[str], str]:
    """Fragment N spreads N-1 twice (in two inline fragments, so the executor would also run both)."""

    def build(name: str) -> str:
        bottom = {
            "plain": "__typename",
            "alias": "__typename",
            "cost": "backtest { __typename }",
        }[variant]
        frags = [f"fragment F0 on Query {{ {bottom} }}"]
        for i in range(1, levels + 1):
            alias = f"a{i}: __typename " if variant == "alias" else ""
            frags.append(
                f"fragment F{i} on Query {{ {alias}... on Query {{ ...F{i - 1} }} ... on Query {{ ...F{i - 1} }} }}"
            )
        return f"query {name} {{ ...F{levels} }} " + " ".join(frags)

    return build


def _fill(head: str, unit: Callable[[int], str], tail: str, sep: str = " ") -> Callable[[str], str]:
    """``head + unit(0) + sep + unit(1) ... + tail`` up to ~64 KiB."""

    def build(name: str) -> str:
        parts: list[str] = []
        size, i = len(head) + len(tail), 0
        while size < TARGET_KB * 1024 - 64 and i < 200_000:  # bounded
            piece = unit(i)
            parts.append(piece)
            size += len(piece) + len(sep)
            i += 1
        return head.replace("NAME", name) + sep.join(parts) + tail

    return build


def deep_nesting(name: str) -> str:
    levels = TARGET_KB * 1024 // 11
    opening = f'query {name} {{ __type(name: "Query") {{ fields {{ type {{ ' + "ofType { " * levels
    return opening + "name" + " }" * (levels + 4)


def many_fragments(name: str) -> str:
    count = TARGET_KB * 1024 // 48
    spreads = " ".join(f"...F{i}" for i in range(count))
    return f"query {name} {{ {spreads} }} " + " ".join(f"fragment F{i} on Query {{ __typename }}" for i in range(count))


@dataclass(frozen=True)
class Shape:
    name: str
    build: Callable[[str], str]
    variables: Callable[[], dict[str, Any]] | None = None


SYMBOLS_64K = [f"S{i:05d}" for i in range(TARGET_KB * 1024 // 9)]

SHAPES_64K: tuple[Shape, ...] = (
    Shape("deep nesting", deep_nesting),
    Shape("many aliases", _fill("query NAME { ", lambda i: f"a{i}: __typename", " }")),
    Shape("many fragments", many_fragments),
    Shape("repeated fields", _fill("query NAME { ", lambda i: "__typename", " }")),
    Shape("many directives", _fill("query NAME { __typename ", lambda i: "@include(if: true)", " }")),
    Shape(
        "long argument list",
        _fill('query NAME { signal(symbol: "BTC", ', lambda i: f"a{i}: 1", ") { __typename } }", ", "),
    ),
    Shape("many variable definitions", _fill("query NAME(", lambda i: f"$v{i}: Int", ") { __typename }", ", ")),
    Shape(
        "huge list literal", _fill("query NAME { signals(symbols: [", lambda i: f'"S{i}"', "]) { __typename } }", ", ")
    ),
    Shape(
        "huge variable list",
        lambda name: f"query {name}($s: [String!]!) {{ signals(symbols: $s) {{ __typename }} }}",
        lambda: {"s": SYMBOLS_64K},
    ),
)


def fan_out_shapes(levels: list[int]) -> list[Shape]:
    return [Shape(f"fan-out {v} x{n}", fan_out(n, v)) for v in ("alias", "cost") for n in levels]


# ------------------------------------------------------------------------------------------ server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def start_server(port: int, *, lifted: bool) -> subprocess.Popen[bytes]:
    dead = "http://127.0.0.1:9"
    env = {
        **os.environ,
        "MAX_BODY_BYTES": str(128 * 1024),
        "HISTORY_ENABLED": "false",
        "STREAMS_ENABLED": "false",
        "LIQUIDATION_STREAM_ENABLED": "false",
        "RATE_LIMIT_ENABLED": "false",
        "UPSTREAM_RETRY_ATTEMPTS": "1",
        "LOG_LEVEL": "WARNING",
        **{f"{p}_BASE_URL": dead for p in ("BINANCE", "ALTERNATIVE_ME", "COINGECKO", "OKX", "BYBIT", "HYPERLIQUID")},
    }
    if lifted:
        env["MAX_QUERY_TOKENS"] = "100000"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))  # this checkout
    launcher = "import sys; from signal_api.cli import main; sys.exit(main())"  # = signal-api serve
    cmd = [sys.executable, "-c", launcher, "serve", "--host", HOST, "--port", str(port)]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_ready(base: str) -> None:
    async with httpx2.AsyncClient(timeout=2) as client:
        for _ in range(300):  # bounded: 30 s
            try:
                await client.get(f"{base}/health/live")
                return
            except httpx2.HTTPError:
                await asyncio.sleep(0.1)
    raise RuntimeError("server did not start")


# ------------------------------------------------------------------------------------------ measuring


@dataclass
class Row:
    shape: str
    size: int
    server_ms: list[float] = field(default_factory=list)
    cpu_ms: float = 0.0  # the server process's CPU per request (user + system, /proc), steadier than wall time
    codes: set[str] = field(default_factory=set)
    baseline_ms: float | None = None
    baseline_errors: int = 0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def poll_health(base: str, latencies: list[float], stop: asyncio.Event) -> None:
    async with httpx2.AsyncClient(timeout=10) as client:
        for _ in range(100_000):  # bounded; stopped by the event long before
            if stop.is_set():
                return
            started = time.perf_counter()
            await client.get(f"{base}/health")
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.02)


def process_cpu_ms(pid: int) -> float:
    """User + system CPU of a process so far, from /proc (Linux), in ms; 0 where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


async def attack(base: str, shapes: list[Shape], reps: int, pid: int) -> list[Row]:
    rows: list[Row] = []
    async with httpx2.AsyncClient(timeout=60) as client:
        for shape in shapes:
            row = Row(shape.name, 0)
            cpu_before = process_cpu_ms(pid)
            for rep in range(reps):
                name = f"Q{time.perf_counter_ns()}r{rep}"  # a new text every time: no cache helps
                document = shape.build(name)
                variables = shape.variables() if shape.variables else {}
                body = json.dumps({"query": document, "variables": variables}).encode()
                row.size = len(body)
                started = time.perf_counter()
                response = await client.post(
                    f"{base}/graphql", content=body, headers={"content-type": "application/json"}
                )
                row.server_ms.append((time.perf_counter() - started) * 1000)
                try:
                    answer = response.json()
                    errors = answer.get("errors") or []
                    row.codes |= {str((e.get("extensions") or {}).get("code")) for e in errors} or {"(none)"}
                except ValueError:
                    row.codes.add(f"HTTP {response.status_code}")
            row.cpu_ms = (process_cpu_ms(pid) - cpu_before) / reps
            rows.append(row)
    return rows


def baseline(rows: list[Row], shapes: list[Shape]) -> None:
    """graphql-core alone: parse (no token cap) + validate with specified_rules, on the same documents."""
    from graphql import parse, specified_rules, validate

    from schema.build import build_schema

    schema = build_schema()._schema
    for row, shape in zip(rows, shapes, strict=True):
        document = shape.build("Baseline")
        started = time.perf_counter()
        try:
            errors = validate(schema, parse(document), specified_rules)
            row.baseline_errors = len(errors)
        except Exception as exc:  # a parse failure (e.g. nesting) is a result too
            row.baseline_errors = -1
            print(f"  baseline {shape.name}: {type(exc).__name__}", file=sys.stderr)
        row.baseline_ms = (time.perf_counter() - started) * 1000


async def run_config(label: str, *, lifted: bool, shapes: list[Shape], reps: int) -> tuple[list[Row], list[float]]:
    port = _free_port()
    server = start_server(port, lifted=lifted)
    base = f"http://{HOST}:{port}"
    try:
        await wait_ready(base)
        latencies: list[float] = []
        stop = asyncio.Event()
        poller = asyncio.create_task(poll_health(base, latencies, stop))
        await asyncio.sleep(0.3)
        rows = await attack(base, shapes, reps, server.pid)
        stop.set()
        await poller
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    return rows, latencies


def report(label: str, rows: list[Row], health: list[float]) -> bool:
    ok = True
    print(f"\n== {label}")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    print(f"{'document':<28}{'bytes':>8}{'p50 ms':>9}{'max ms':>9}{'cpu ms':>8}  {'baseline ms':>11}  codes")
    for row in rows:
        worst = max(row.server_ms)
        refused = not (row.codes & {"(none)"})
        ok &= worst <= REFUSE_MS and refused
        flag = "" if worst <= REFUSE_MS and refused else "  <-- over target" if refused else "  <-- not refused"
        base = f"{row.baseline_ms:11.1f}" if row.baseline_ms is not None else " " * 11
        print(
            f"{row.shape:<28}{row.size:>8}{statistics.median(row.server_ms):>9.1f}{worst:>9.1f}"
            f"{row.cpu_ms:>8.1f}  {base}  "
            f"{','.join(sorted(row.codes))}{flag}"
        )
    if health:
        p50, p99, top = statistics.median(health), _pct(health, 0.99), max(health)
        ok &= top <= HEALTH_MS
        print(f"/health during the attack: n={len(health)} p50={p50:.1f} ms p99={p99:.1f} ms max={top:.1f} ms")
    return ok


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=10, help="requests per document (default 10)")
    parser.add_argument("--levels", type=int, nargs="*", default=[5, 10, 15, 20, 25, 30, 35, 40])
    parser.add_argument("--lifted", action="store_true", help="also run with the token cap lifted (slow: seconds)")
    args = parser.parse_args()
    shapes = [*fan_out_shapes(args.levels), *SHAPES_64K]
    verdict = True
    configs = [("defaults (MAX_QUERY_TOKENS=2000): the targets apply here", False)]
    if args.lifted:
        configs.append(("informational: token cap lifted (MAX_QUERY_TOKENS=100000), every document validates", True))
    for label, lifted in configs:
        rows, health = await run_config(label, lifted=lifted, shapes=shapes, reps=args.reps)
        baseline(rows, shapes)
        met = report(label, rows, health)
        verdict &= met or lifted
    print("\nbaseline = graphql-core's own parse + validate(schema, document, specified_rules), in this process,")
    print("           no token cap and none of our rules: the strongest simple alternative")
    print(
        f"targets (defaults): refused <= {REFUSE_MS:g} ms, /health <= {HEALTH_MS:g} ms: "
        + ("MET" if verdict else "NOT MET")
    )
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
