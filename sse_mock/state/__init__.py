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

    Raises :class:`~sse_mock.config.ConfigError` naming the key ``state`` and the URL when the
    ``redis`` package is missing or the server cannot be reached (issue 10, point 5)."""
    if url == "memory":
        return MemoryState(journal_entries, journal_bytes)
    from ..config_loading import ConfigError

    try:
        from .redis import RedisState, redact
    except ImportError:
        raise ConfigError("key 'state': a Redis URL needs the redis package: "
                          "pip install 'sse-mock[redis]'") from None
    state = RedisState(url, prefix=prefix, journal_entries=journal_entries,
                       journal_bytes=journal_bytes)
    try:
        state.check()
    except StateUnavailable as exc:
        state.close()
        raise ConfigError(f"key 'state': cannot use {redact(url)}: {exc}") from None
    return state
