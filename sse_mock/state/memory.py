"""In-process state (``state = "memory"``, the default): one lock, plain dictionaries.

Shared by the threads (or greenlets) of one process; each process of a multi-process server has
its own. Everything is bounded: the journal by entries and bytes (over all sessions together),
the keys of a session by :data:`~sse_mock.state.base.MAX_KEYS`, the sessions by
:data:`MAX_SESSIONS`, the quota buckets by :data:`~sse_mock.state.base.MAX_BUCKETS` — the oldest
go first.

Divergence #1: the journal is one ring for all sessions (its bounds hold for the process as a
    whole); a session's listing is the ring filtered by session.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from .base import MAX_BUCKETS, MAX_KEYS, MAX_QUEUE, Bucket, State, Taken

__all__ = ["MAX_SESSIONS", "MemoryState"]

#: How many sessions (request-chosen names) keep cycles, counters and queues at once.
MAX_SESSIONS = 1_000


class _Session:
    __slots__ = ("counters", "cycles", "queue")

    def __init__(self) -> None:
        self.cycles: dict[str, int] = {}
        self.counters: dict[str, int] = {}
        self.queue: list[str] = []


def _bounded_set(table: dict[str, int], key: str, value: int) -> None:
    if key not in table and len(table) >= MAX_KEYS:
        del table[next(iter(table))]  # the oldest key (dicts keep insertion order)
    table[key] = value


class MemoryState(State):
    """The default backend: as fast as a dictionary under a lock.

    :param journal_entries: how many journal records to keep (0 = none).
    :param journal_bytes: how many bytes of records (their measured sizes) to keep.
    """

    name = "memory"
    shared = False

    def __init__(self, journal_entries: int = 1000, journal_bytes: int = 4 << 20) -> None:
        self.journal_max_entries = journal_entries
        self.journal_max_bytes = journal_bytes
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        # id → [session, record, size], oldest first
        self._journal: dict[int, list[Any]] = {}
        self._journal_bytes = 0
        self._next_id = 1
        self._buckets: dict[str, list[float]] = {}  # key → [tokens, monotonic time]

    def _session(self, session: str) -> _Session:
        """The session's tables (created on first use); the caller holds the lock."""
        s = self._sessions.get(session)
        if s is None:
            if len(self._sessions) >= MAX_SESSIONS:  # the least recently used, never ""
                oldest = next((k for k in self._sessions if k), None)
                if oldest is not None:
                    del self._sessions[oldest]
            s = self._sessions[session] = _Session()
        elif session:
            self._sessions.move_to_end(session)
        return s

    # -- counters ------------------------------------------------------------------------------

    def cycle(self, session: str, key: str, modulo: int) -> int:
        with self._lock:
            cycles = self._session(session).cycles
            n = cycles.get(key, 0) % modulo
            _bounded_set(cycles, key, (n + 1) % modulo)
        return n

    def peek(self, session: str, key: str) -> int:
        with self._lock:
            s = self._sessions.get(session)
            return s.cycles.get(key, 0) if s is not None else 0

    def incr(self, session: str, key: str) -> int:
        with self._lock:
            counters = self._session(session).counters
            n = counters.get(key, 0) + 1
            _bounded_set(counters, key, n)
        return n

    # -- journal -------------------------------------------------------------------------------

    def journal_start(self, session: str, record: dict[str, Any], size: int) -> int:
        with self._lock:
            id = self._next_id
            self._next_id += 1
            if self.journal_max_entries:
                record["id"] = id
                self._journal[id] = [session, record, size]
                self._journal_bytes += size
                self._trim()
        return id

    def _trim(self) -> None:
        journal = self._journal
        while journal and (len(journal) > self.journal_max_entries
                           or self._journal_bytes > self.journal_max_bytes):
            oldest = next(iter(journal))
            self._journal_bytes -= journal.pop(oldest)[2]

    def journal_finish(self, session: str, id: int, record: dict[str, Any], size: int) -> int:
        with self._lock:
            item = self._journal.get(id)
            if item is not None:  # else: already pushed out by newer records
                record["id"] = id
                self._journal_bytes += size - item[2]
                item[1], item[2] = record, size
                self._trim()
        return id

    def journal_entries(self, session: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for s, r, _ in self._journal.values() if s == session]

    def journal_clear(self, session: str) -> None:
        with self._lock:
            for id in [i for i, item in self._journal.items() if item[0] == session]:
                self._journal_bytes -= self._journal.pop(id)[2]

    # -- queued actions ------------------------------------------------------------------------

    def queue_push(self, session: str, payload: str) -> bool:
        with self._lock:
            queue = self._session(session).queue
            if len(queue) >= MAX_QUEUE:
                return False
            queue.append(payload)
        return True

    def queue_items(self, session: str) -> list[str]:
        s = self._sessions.get(session)
        if s is None or not s.queue:
            # Nothing queued (every request asks): no lock, which under gevent is a greenlet
            # primitive. A push racing this read is as if it had come just after.
            return []
        with self._lock:
            return list(s.queue)

    def queue_take(self, session: str, payload: str) -> bool:
        with self._lock:
            s = self._sessions.get(session)
            if s is None or payload not in s.queue:
                return False
            s.queue.remove(payload)
        return True

    # -- quotas --------------------------------------------------------------------------------

    def take(self, buckets: Sequence[Bucket]) -> list[Taken]:
        now = time.monotonic()
        with self._lock:
            levels = []
            for b in buckets:
                tokens, then = self._buckets.get(b.key) or (b.capacity, now)
                levels.append(min(b.capacity, tokens + (now - then) * b.refill_per_second))
            allowed = all(b.amount <= level for b, level in zip(buckets, levels, strict=True))
            out = []
            for b, level in zip(buckets, levels, strict=True):
                if allowed:
                    level -= b.amount
                if b.key not in self._buckets and len(self._buckets) >= MAX_BUCKETS:
                    del self._buckets[next(iter(self._buckets))]
                self._buckets[b.key] = [level, now]
                out.append(Taken.at(allowed, b, level))
        return out

    # -- life cycle ----------------------------------------------------------------------------

    def reset(self, session: str | None = None) -> None:
        if session is None:
            with self._lock:
                self._sessions.clear()
                self._journal.clear()
                self._journal_bytes = 0
                self._buckets.clear()
            return
        with self._lock:
            self._sessions.pop(session, None)
        self.journal_clear(session)

