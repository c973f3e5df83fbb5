"""Schemathesis against the app served over replay: the generated ``/openapi.json`` and ``/graphql``.

Runs the ``st`` CLI (bounded examples, fixed seed) so the hypothesis machinery stays out of this test
process. Failing checks: server errors, undocumented status codes or content types, responses that do
not match their schema, and a 400 to a request the schema allows (``positive_data_acceptance``: every input
the schema allows is either answered or excluded by the schema's own bounds). 503 (UPSTREAM_UNAVAILABLE)
and 504 (TIMEOUT) are documented answers, not server faults: the cassettes only hold BTC, so other listed
symbols find no upstream data; 404 is the answer for a well-formed symbol no venue lists. A 500 fails.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.conftest import CASSETTE_NAMES, load_cassette_json, running_service

ST = Path(sys.executable).with_name("st")
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "positive_data_acceptance",
    )
)
CONFIG = """
[checks.not_a_server_error]
expected-statuses = ["2xx", "3xx", "4xx", "503", "504"]

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "429", "503", "504"]

"""
# The services below run with RATE_LIMIT_ENABLED=false: this fuzzes shapes, not budgets (tests/test_rate_limits.py).
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "15")
SEED = os.environ.get("SCHEMATHESIS_SEED", "1")


async def _schemathesis(tmp_path: Path, location: str, *options: str) -> tuple[int, str]:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    process = await asyncio.create_subprocess_exec(
        str(ST), "--no-color", "--config-file", str(config), "run", location,
        # one worker: hypothesis describes its filters with ast.parse, which CPython 3.11 can fail under threads
        # ("AST constructor recursion depth mismatch") now that the schemas carry patterns and bounds
        "--max-examples", MAX_EXAMPLES, "--seed", SEED, "--workers", "1", "--request-timeout", "20",
        *options,
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=480)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


@pytest.fixture
def cassette() -> dict[str, object]:
    if not ST.exists():
        pytest.skip("schemathesis CLI not installed")
    return load_cassette_json(CASSETTE_NAMES[0])


# The full schema's operations in three disjoint parts (together: every operation, each once), so that the
# parts run on separate pytest-xdist workers: POST /invoke alone (its body offers every operation), the
# market-data GET routes, and every other route.
_INVOKE = "^/invoke$"
_MARKET = "^/v1/(signals|symbols|market|exchanges?|structure)/"
PARTS = {
    "invoke": ("--include-path-regex", _INVOKE),
    "market-routes": ("--include-path-regex", _MARKET),
    "other-routes": ("--exclude-path-regex", f"{_INVOKE}|{_MARKET}"),
}


@pytest.mark.parametrize(
    ("document", "part"),
    [*(("/openapi.json", part) for part in PARTS), ("/gpt/action-schema", None)],
    ids=[*(f"openapi-{part}" for part in PARTS), "gpt-action-schema"],
)
async def test_schemathesis_openapi_finds_no_failure(
    tmp_path: Path, cassette: dict[str, object], document: str, part: str | None
) -> None:
    """The full REST schema, and the GPT subset (lists as one comma-separated string, canonical enums)."""
    selection = PARTS[part] if part is not None else ()
    async with running_service(cassette, upstream_retry_attempts=1, rate_limit_enabled=False) as (url, _):
        code, output = await _schemathesis(tmp_path, f"{url}{document}", "--url", url, "--checks", CHECKS, *selection)
    assert code == 0, output[-6000:]
    assert "Operations:       8 selected" in output or "selected" in output
    assert " passed" in output


async def test_schemathesis_graphql_finds_no_failure(tmp_path: Path, cassette: dict[str, object]) -> None:
    async with running_service(cassette, upstream_retry_attempts=1, rate_limit_enabled=False) as (url, _):
        code, output = await _schemathesis(tmp_path, f"{url}/graphql", "--checks", "not_a_server_error")
    assert code == 0, output[-6000:]
    assert " passed" in output
