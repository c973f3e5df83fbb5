"""Child processes of the tests (and benches): a free loopback port to start one on, a bounded stop, and a
bounded wait for a counter to stop moving."""

from __future__ import annotations

import socket
import subprocess
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


def free_port() -> int:
    """A TCP port nothing listens on at the moment, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM, ``grace`` seconds to exit, then SIGKILL: every wait bounded, nothing left running."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def until_still(read: Callable[[], int], *, quiet_s: float, timeout_s: float, every_s: float = 0.05) -> int:
    """``read()`` once it has not changed for ``quiet_s``, or when ``timeout_s`` runs out: a replay server's
    call count once a service's start-up calls (the listing, the warm-up's pings) are done."""
    deadline = time.monotonic() + timeout_s
    last, since = read(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(every_s)
        now = read()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
    return last
