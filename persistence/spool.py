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

Size cap: ``max_bytes`` bounds the pending rows (active file plus segments; ``rejected.jsonl`` is kept
for a human and not counted). A batch that would take the spool past the cap is **not written**:
:meth:`Spool.append` raises :class:`SpoolFull` and the caller counts those rows as not durable (the
recorder's ``not_durable`` counter, the ``history_rows_not_durable`` metric and ``/health``). Refusing
new rows keeps the disk bounded and the rows already spooled intact; the spool empties again as soon as
the database takes the replay. ``records`` and ``bytes`` are kept in memory (scanned once at start-up),
so reading them costs nothing.

Appends may run in a worker thread (``asyncio.to_thread``: the fsync stays off the event loop); a lock
makes an append and the rotation that takes the active file out of service mutually exclusive, so no
append can land in a segment that replay has already read.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from dataclasses import dataclass
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


class SpoolFull(OSError):
    """Appending would take the spool past its size cap; nothing of the batch was written."""

    def __init__(self, rows: int, size: int, max_bytes: int) -> None:
        super().__init__(f"spool at {size} of {max_bytes} bytes: {rows} row(s) refused")
        self.rows = rows


@dataclass(frozen=True, slots=True)
class SpoolStats:
    records: int  # rows waiting for replay
    bytes: int  # their size on disk
    max_bytes: int | None  # the cap (None: unbounded)
    over_cap: bool  # at the cap, or a batch was refused since the spool last had room
    refused_rows: int  # rows refused because of the cap since start


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _append_lines(path: Path, lines: Sequence[bytes]) -> int:
    """Append and fsync; return the bytes written."""
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
    return len(data)


def _count_lines(path: Path) -> int:
    try:
        return sum(1 for line in path.read_bytes().splitlines() if line.strip())
    except FileNotFoundError:
        return 0


class Spool:
    def __init__(self, directory: Path, *, max_bytes: int | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.active = directory / ACTIVE
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._refused = 0
        self._refusing = False  # a batch was refused and nothing was replayed since
        paths = [*self.segments(), self.active]
        self._records = sum(_count_lines(p) for p in paths)
        self._bytes = sum(p.stat().st_size for p in paths if p.exists())

    def append(self, rows: Sequence[SignalRow]) -> None:
        """Durably append ``rows`` (one fsync for the batch): a few milliseconds, safe in a worker thread.

        Raises :class:`SpoolFull` (nothing written) when the batch would pass ``max_bytes``, and
        ``OSError`` when the disk refuses the write.
        """
        if not rows:
            return
        lines = [orjson.dumps(r.to_json()) for r in rows]
        size = sum(len(line) + 1 for line in lines)
        with self._lock:
            if self.max_bytes is not None and self._bytes + size > self.max_bytes:
                self._refused += len(rows)
                if not self._refusing:
                    log.error(
                        "spool full: signal rows are no longer durable until the database is back",
                        spool_bytes=self._bytes,
                        max_bytes=self.max_bytes,
                    )
                self._refusing = True
                raise SpoolFull(len(rows), self._bytes, self.max_bytes)
            written = _append_lines(self.active, lines)
            self._records += len(rows)
            self._bytes += written

    def stats(self) -> SpoolStats:
        over = self._refusing or (self.max_bytes is not None and self._bytes >= self.max_bytes)
        return SpoolStats(self._records, self._bytes, self.max_bytes, over, self._refused)

    def segments(self) -> list[Path]:
        return sorted(self.directory.glob(SEGMENT_GLOB))

    def has_pending(self) -> bool:
        return bool(self.segments()) or (self.active.exists() and self.active.stat().st_size > 0)

    def rotate(self) -> list[Path]:
        """Take the active file out of service (atomic rename); return every segment awaiting replay."""
        with self._lock:
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
        with self._lock:
            try:
                size, records = segment.stat().st_size, _count_lines(segment)
            except FileNotFoundError:
                size, records = 0, 0
            segment.unlink(missing_ok=True)
            _fsync_dir(self.directory)
            self._bytes = max(0, self._bytes - size)
            self._records = max(0, self._records - records)
            self._refusing = False  # room again: the next refusal is logged again

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
