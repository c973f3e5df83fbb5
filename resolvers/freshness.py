"""The response-freshness tracker for the layers above the providers (see :mod:`providers.freshness`)."""

from __future__ import annotations

from providers.freshness import Freshness, current, note_ttl, refuse, track, untrack

__all__ = ["Freshness", "current", "note_ttl", "refuse", "track", "untrack"]
