"""A process's copy of the queued actions it has read from Redis, kept true by Redis itself.

Every mock request asks whether an action is queued for its session (issue "Tests drive the
mock"); almost always none is. Asking Redis each time would cost every request a round trip
before its first byte. Instead each process keeps what it read, per session, and Redis tells it
when any queue changes: *client-side caching* (Redis ≥ 6, ``CLIENT TRACKING … BCAST PREFIX``
on the queues' key prefix, invalidation messages on a connection of the process's own). A
request first reads the messages that have arrived (a non-blocking read, no round trip), then
trusts the copy.

Divergence #1: Redis writes an invalidation message in the same pass as the reply to the write
    that caused it, so a client that saw ``POST /mock/_next`` answered, then sends a request to
    another worker, finds the message already arrived there. A copy read while an invalidation
    was on its way is never kept (an epoch counts invalidations).
Divergence #2: when the tracking connection is lost (Redis restarted, the network dropped), the
    copy is thrown away and every request asks Redis again until tracking is back.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from typing import Any

import redis

from ._connect import connection_kwargs

__all__ = ["MAX_CACHED", "QueueCache"]

#: Sessions whose queues a process keeps a copy of (the least recently used go first).
MAX_CACHED = 10_000
#: Seconds before trying again to set up tracking after it failed (a Redis without it).
RETRY_SECONDS = 5.0


class QueueCache:
    """Copies of queues under `prefix` (``<prefix><session>``), invalidated by Redis."""

    def __init__(self, url: str, prefix: str, timeout: float) -> None:
        # RESP2: invalidations arrive as plain pub/sub messages on the connection's own channel.
        self._pool = redis.ConnectionPool.from_url(
            url, protocol=2, socket_timeout=timeout, socket_connect_timeout=timeout,
            **connection_kwargs(url))
        self.prefix = prefix
        self._lock = threading.Lock()
        self._copies: OrderedDict[str, list[str]] = OrderedDict()
        self._conn: Any = None  # the tracking connection (self-redirected, subscribed)
        self._pid = 0
        self._retry_at = 0.0
        self.epoch = 0  # +1 on every invalidation: a read that overlapped one is not kept

    def get(self, session: str) -> tuple[list[str] | None, int]:
        """The copy of `session`'s queue (None: ask Redis) and the epoch to store with."""
        with self._lock:
            if not self._track():
                return None, self.epoch
            items = self._copies.get(session)
            if items is not None:
                self._copies.move_to_end(session)
                return list(items), self.epoch
            return None, self.epoch

    def store(self, session: str, items: list[str], epoch: int) -> None:
        """Keep what Redis answered, unless an invalidation arrived since `epoch`."""
        with self._lock:
            if self._conn is None or epoch != self.epoch:
                return
            self._copies[session] = list(items)
            if len(self._copies) > MAX_CACHED:
                self._copies.popitem(last=False)

    def forget(self, session: str | None = None) -> None:
        """Drop one copy (this process changed that queue), or all."""
        with self._lock:
            self.epoch += 1
            if session is None:
                self._copies.clear()
            else:
                self._copies.pop(session, None)

    def close(self) -> None:
        with self._lock:
            self._drop()

    # -- the tracking connection (the caller holds the lock) ----------------------------------

    def _track(self) -> bool:
        """Read the invalidations that have arrived; False when there is no tracking."""
        if self._pid != os.getpid():  # new, or forked: the parent's connection is not ours
            self._conn, self._pid = None, os.getpid()
            self._copies.clear()
            self.epoch += 1
        try:
            if self._conn is None:
                if time.monotonic() < self._retry_at:
                    return False
                self._retry_at = time.monotonic() + RETRY_SECONDS
                self._connect()
            conn = self._conn
            while conn.can_read(timeout=0):
                self._invalidate(conn.read_response())
            return True
        except (redis.RedisError, OSError):
            self._drop()
            return False

    def _connect(self) -> None:
        conn: Any = self._pool.make_connection()  # (redis-py's connection is untyped)
        try:
            conn.connect()
            conn.send_command("CLIENT", "ID")
            own = conn.read_response()
            conn.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", own, "BCAST", "PREFIX",
                              self.prefix)
            conn.read_response()
            conn.send_command("SUBSCRIBE", "__redis__:invalidate")
            conn.read_response()
        except BaseException:
            conn.disconnect()
            raise
        self._conn = conn
        self._copies.clear()  # nothing was tracked before this moment
        self.epoch += 1

    def _invalidate(self, message: Any) -> None:
        if not isinstance(message, list) or len(message) < 3 or message[0] != b"message":
            return
        self.epoch += 1
        keys = message[2]
        if not isinstance(keys, list):  # null: the whole database was flushed
            self._copies.clear()
            return
        n = len(self.prefix)
        for key in keys:
            name = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
            self._copies.pop(name[n:], None)

    def _drop(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            try:
                self._conn.disconnect()
            except Exception:  # noqa: S110  (already broken)
                pass
        self._conn = None
        self._copies.clear()
        self.epoch += 1
