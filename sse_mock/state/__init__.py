"""Shared state: the seam (:class:`State`) and its back ends, chosen by ``state`` in the
configuration (``"memory"`` or a ``redis://`` / ``rediss://`` URL)."""

from __future__ import annotations

from .base import Bucket, State, StateUnavailable, Taken, unit_draw
from .memory import MemoryState

__all__ = ["Bucket", "MemoryState", "State", "StateUnavailable", "Taken", "open_state",
           "unit_draw"]


def open_state(url: str = "memory", *, prefix: str = "sse_mock:", journal_entries: int = 1000,
               journal_bytes: int = 4 << 20) -> State:
    """The backend that `url` names; a Redis URL is connected to (and checked) here.

    Raises :class:`StateUnavailable` when a Redis server cannot be reached, and ``ImportError``
    when the ``redis`` package is missing."""
    if url == "memory":
        return MemoryState(journal_entries, journal_bytes)
    raise NotImplementedError("the Redis backend lands next (issue 10)")
