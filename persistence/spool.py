"""A durable local spool for signal rows the database could not take: JSON lines, fsync'd.

Layout (one directory)::

    signals.jsonl                  active file: appended to (O_APPEND, fsync per batch)
    signals.<ns>.replay.jsonl      segments taken out of service for replay
    rejected.jsonl                 rows the database refused as invalid (kept for a human, never retried)

Replay first renames the active file to a segment (atomic; appends then go to a fresh active file, so
nothing appended during a replay is lost), inserts every row of every segment idempotently (rows carry
their own UUID: ``ON CONFLICT (id) DO NOTHING``), and deletes a segment only once all its rows are in.
A crash at any point leaves the rows on disk; replaying them again is harmless. A torn last line (a
crash mid-write) is skipped with a warning and the next append starts on a fresh line.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import TYPE_CHECKING

import orjson
import structlog

from persistence.rows import SignalRow

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from pathlib import Path

log = structlog.get_logger(__name__)

ACTIVE = "signals.jsonl"
SEGMENT_GLOB = "signals.*.replay.jsonl"
REJECTED = "rejected.jsonl"
REPLAY_BATCH = 500

_counter = itertools.count()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _append_lines(path: Path, lines: Sequence[bytes]) -> None:
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        size = os.fstat(fd).st_size
        prefix = b"\n" if size and os.pread(fd, 1, size - 1) != b"\n" else b""  # after a torn line
        data = prefix + b"".join(line + b"\n" for line in lines)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)


class Spool:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.active = directory / ACTIVE

    def append(self, rows: Sequence[SignalRow]) -> None:
        """Durably append ``rows`` (one fsync for the batch). Synchronous: a few milliseconds at most."""
        if rows:
            _append_lines(self.active, [orjson.dumps(r.to_json()) for r in rows])

    def segments(self) -> list[Path]:
        return sorted(self.directory.glob(SEGMENT_GLOB))

    def has_pending(self) -> bool:
        return bool(self.segments()) or (self.active.exists() and self.active.stat().st_size > 0)

    def rotate(self) -> list[Path]:
        """Take the active file out of service (atomic rename); return every segment awaiting replay."""
        if self.active.exists() and self.active.stat().st_size > 0:
            segment = self.directory / f"signals.{time.time_ns():020d}{next(_counter):06d}.replay.jsonl"
            os.replace(self.active, segment)
            _fsync_dir(self.directory)
        return self.segments()

    def read(self, path: Path) -> list[SignalRow]:
        rows: list[SignalRow] = []
        for number, line in enumerate(path.read_bytes().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(SignalRow.from_json(orjson.loads(line)))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("unreadable spool line skipped", file=path.name, line=number, error=str(exc))
        return rows

    def pending_rows(self) -> list[SignalRow]:
        """Every spooled row, without taking anything out of service (for inspection and tests)."""
        paths = [*self.segments(), *([self.active] if self.active.exists() else [])]
        return [row for path in paths for row in self.read(path)]

    def reject(self, rows: Sequence[SignalRow]) -> None:
        _append_lines(self.directory / REJECTED, [orjson.dumps(r.to_json()) for r in rows])

    def discard(self, segment: Path) -> None:
        segment.unlink(missing_ok=True)
        _fsync_dir(self.directory)

    async def replay(self, insert: Callable[[list[SignalRow]], Awaitable[object]]) -> int:
        """Insert every spooled row with ``insert`` (idempotent); return how many rows were replayed.

        Raises whatever ``insert`` raises; the segment being replayed then stays for the next attempt.
        """
        replayed = 0
        for segment in self.rotate():
            rows = self.read(segment)
            for start in range(0, len(rows), REPLAY_BATCH):
                batch = rows[start : start + REPLAY_BATCH]
                await insert(batch)
                replayed += len(batch)
            self.discard(segment)
        return replayed
