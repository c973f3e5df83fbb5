"""One long-running task per owner, started and stopped with the history runtime."""

from __future__ import annotations

import asyncio
import contextlib


class BackgroundLoop:
    """``start`` runs :meth:`_run` as one named task; ``aclose`` cancels it and waits for it to end."""

    task_name = "background-loop"
    _task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
