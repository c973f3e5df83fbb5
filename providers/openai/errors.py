"""The AI judge's one failure type, apart from the client so that importing it does not load the SDK."""

from __future__ import annotations


class AiJudgeError(Exception):
    """The AI gave no usable verdict; ``reason`` is safe to show (no key, no upstream body)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
