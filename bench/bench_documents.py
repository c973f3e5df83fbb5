"""What parsing and validating a `signal` document costs before it runs, and what start-up prewarming saves.

In this process, on the service's schema (``schema.build.build_schema``), for two documents: the ad-hoc
``signal`` query of ``bench_signal.py`` (``COLD_QUERY``, no variables) and the registry's ``signals.get``
(the REST/GPT operation, with variables):

1. baseline, graphql-core alone: its ``parse`` + Strawberry's ``validate_document`` with every rule a
   request carries (``schema.request_rules``: Strawberry's defaults plus our depth/alias rule);
2. the service before this change, for a document it has not seen: ``DocumentCache.parse`` (which also
   unlinks the tokens of a kept document) + validation with every rule of 1;
3. the service now: the same with ``schema.documents.full_rules`` (no second run of the linear prechecks;
   the three variable rules skipped when the text has no ``$``);
4. a prewarmed document (``DocumentCache.prevalidate`` at start-up): the cache lookups a request does.

Each figure is the median of ``--reps`` timings of a fresh document (a new operation name each time, so
no cache helps in 1 to 3). Then the first document of a fresh process, in child processes: with the
trusted documents prevalidated first (what ``signal-api serve`` does before ``/health`` answers) and without.

    .venv/bin/python bench/bench_documents.py [--reps 300]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_signal import COLD_QUERY  # noqa: E402
from graphql import parse  # noqa: E402
from strawberry.schema.schema import validate_document  # noqa: E402

from schema.build import build_schema  # noqa: E402
from schema.documents import DocumentCache, full_rules  # noqa: E402
from schema.operations import OPERATIONS  # noqa: E402

SIGNALS_GET = next(op.document for op in OPERATIONS if op.name == "signals.get")
DOCUMENTS = {"ad-hoc `signal` (COLD_QUERY)": COLD_QUERY, "registry `signals.get`": SIGNALS_GET}

FIRST_IN_PROCESS = """
import json, sys, time
sys.path[:0] = [{repo!r}, {bench!r}]
from schema.build import build_schema
from schema.documents import full_rules
from schema.operations import OPERATIONS
from strawberry.schema.schema import validate_document
from bench_signal import COLD_QUERY
schema = build_schema()
cache = schema.document_cache
if {prewarm!r}:
    cache.prevalidate(schema._schema, [op.document for op in OPERATIONS], schema.request_rules)
query = COLD_QUERY.replace("query Q", "query First")
started = time.perf_counter()
document = cache.parse(query)
rules = full_rules(schema.request_rules, query)
errors = validate_document(schema._schema, document, rules)
print(json.dumps({{"ms": (time.perf_counter() - started) * 1e3, "errors": len(errors)}}))
"""


def renamed(query: str, i: int) -> str:
    """The same document under a new operation name, so no cache has seen it."""
    return query.replace("query Q ", f"query Q{i} ", 1).replace("query SignalsGet(", f"query SignalsGet{i}(", 1)


def timed_ms(run: object) -> float:
    started = time.perf_counter()
    run()  # type: ignore[operator]
    return (time.perf_counter() - started) * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=300, help="fresh documents per figure (default 300)")
    args = parser.parse_args(argv)
    if not 10 <= args.reps <= 100_000:
        parser.error("--reps must be in 10..100000")
    print("# parse + validation of a `signal` document (in process)")
    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    print(f"machine: nproc {len(os.sched_getaffinity(0))}, {platform.platform()}, load {os.getloadavg()}")
    schema = build_schema()
    graphql_schema = schema._schema
    request_rules = schema.request_rules  # type: ignore[attr-defined]
    rows: list[tuple[str, list[float]]] = []
    for label, text in DOCUMENTS.items():
        # warm graphql-core once (the first-use cost is measured below, in fresh processes)
        validate_document(graphql_schema, parse(text), request_rules)
        figures: list[list[float]] = [[], [], [], []]
        for i in range(args.reps):
            cache = DocumentCache()
            queries = [renamed(text, args.reps * k + i) for k in range(3)]

            def core(q: str = queries[0]) -> None:
                validate_document(graphql_schema, parse(q), request_rules)

            def before(q: str = queries[1], cache: DocumentCache = cache) -> None:
                document = cache.parse(q)
                cache.keep_validation(q, document, validate_document(graphql_schema, document, request_rules), ())

            def now(q: str = queries[2], cache: DocumentCache = cache) -> None:
                document = cache.parse(q)
                rules = full_rules(request_rules, q)
                cache.keep_validation(q, document, validate_document(graphql_schema, document, rules), rules)

            def prewarmed(q: str = queries[2], cache: DocumentCache = cache) -> None:
                document = cache.parse(q)
                assert cache.validation(q, document, full_rules(request_rules, q)) is not None

            for column, run in enumerate((core, before, now, prewarmed)):
                figures[column].append(timed_ms(run))
        rows.append((label, [statistics.median(column) for column in figures]))
    headers = ("graphql-core alone", "service before", "service now", "prewarmed")
    print(f"{'document':30s} " + " ".join(f"{h:>18s}" for h in headers))
    for label, (core_ms, before_ms, now_ms, hit_ms) in rows:
        cells = " ".join(f"{value:15.3f} ms" for value in (core_ms, before_ms, now_ms, hit_ms))
        print(f"{label:30s} {cells}   (now vs before: {before_ms - now_ms:+.3f} ms saved)")
    print()
    print("# the first document of a fresh process (child processes; parse + validation of the ad-hoc query)")
    for prewarm in (False, True):
        values = []
        for _ in range(5):
            code = FIRST_IN_PROCESS.format(repo=str(REPO), bench=str(REPO / "bench"), prewarm=prewarm)
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
            values.append(json.loads(done.stdout.strip().splitlines()[-1])["ms"])
        state = "trusted documents prevalidated first" if prewarm else "nothing validated before (the old start-up)"
        print(
            f"{state:46s} median {statistics.median(values):.3f} ms (5 processes: {min(values):.3f}-{max(values):.3f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
