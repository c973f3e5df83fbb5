"""`signal-api serve` as a process: uvicorn's lines and ours come out in one JSON format on stderr (not a
terminal), with the access line and request id, and a planted key setting never appears."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx2
import orjson

from tests.process_helpers import free_port

SECRET = "cg-PLANTED-serve-key-93ab17"


def test_serve_writes_one_json_format_with_request_ids() -> None:
    port = free_port()
    dead = "http://127.0.0.1:9"
    env = {
        **os.environ,
        "HISTORY_ENABLED": "false",
        "STREAMS_ENABLED": "false",
        "LIQUIDATION_STREAM_ENABLED": "false",
        "BINANCE_BASE_URL": dead,
        "OKX_BASE_URL": dead,
        "COINGLASS_BASE_URL": dead,
        "COINGLASS_API_KEY": SECRET,
        "UPSTREAM_RETRY_ATTEMPTS": "1",
    }
    env.pop("LOG_JSON", None)  # unset: JSON because stderr is a pipe
    command = [sys.executable, "-m", "signal_api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        response = None
        deadline = time.monotonic() + 30
        while response is None and time.monotonic() < deadline:
            try:
                response = httpx2.post(
                    f"http://127.0.0.1:{port}/graphql",
                    content=b"[]",
                    headers={"content-type": "application/json", "x-request-id": "serve-test-1", "cookie": SECRET},
                    timeout=2,
                )
            except httpx2.TransportError:
                time.sleep(0.2)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert response is not None, stderr[-2000:]
    assert response.status_code == 400 and response.headers["x-request-id"] == "serve-test-1"
    lines = [orjson.loads(line) for line in stderr.splitlines() if line.strip()]  # every line is JSON
    assert any(line.get("logger") == "uvicorn.error" and "Uvicorn running" in line["event"] for line in lines)
    access = [line for line in lines if line["event"] == "http request"]
    assert len(access) == 1 and access[0]["request_id"] == "serve-test-1" and access[0]["status"] == 400
    assert not any(line.get("logger") == "uvicorn.access" for line in lines)  # ours replaces uvicorn's
    assert SECRET not in stderr
