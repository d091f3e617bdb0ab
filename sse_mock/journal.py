"""The journal: what each intercepted request asked and how its answer ended.

A bounded in-memory ring, per process (each worker of a multi-process server has its own).
Read it with ``middleware.journal.entries()`` or ``GET <prefix>/_journal``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["Entry", "Journal"]


@dataclass
class Entry:
    """One intercepted request. ``outcome`` is set when the answer ends: ``completed``,
    ``client went away``, ``fault`` (an error answer or an injected stream fault),
    ``error`` (a 4xx for bad input) or ``in progress``."""

    id: int
    time: float
    method: str
    path: str
    route: str
    status: int = 0
    request_id: str = ""
    body: Any = None
    rule: str | None = None
    fault: str | None = None
    events: int = 0  # content events (tokens) sent
    bytes: int = 0
    outcome: str = "in progress"
    duration: float = 0.0
    _start: float = field(default=0.0, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _PUBLIC}


_PUBLIC = tuple(f.name for f in fields(Entry) if not f.name.startswith("_"))


class Journal:
    """Thread-safe ring of :class:`Entry`; ``size=0`` keeps nothing."""

    def __init__(self, size: int = 1000) -> None:
        self.size = size
        self._entries: deque[Entry] = deque(maxlen=size or 1)
        self._lock = threading.Lock()
        self._next = 1

    def start(self, method: str, path: str, route: str, keep: bool = True) -> Entry:
        """A new entry; ``keep=False`` makes one that is not recorded (reads of the journal)."""
        with self._lock:
            entry = Entry(id=self._next if keep else 0, time=time.time(), method=method,
                          path=path, route=route, _start=time.monotonic())
            if keep:
                self._next += 1
                if self.size:
                    self._entries.append(entry)
        return entry

    @staticmethod
    def end(entry: Entry, outcome: str) -> None:
        entry.outcome = outcome
        entry.duration = round(time.monotonic() - entry._start, 6)

    def entries(self) -> list[Entry]:
        """A snapshot, oldest first."""
        with self._lock:
            return list(self._entries) if self.size else []

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self.entries())
