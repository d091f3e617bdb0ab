"""Shared state in Redis (``state = "redis://host:port/db"`` or ``rediss://…``): N workers on M
hosts behave as one mock.

Every step that changes state is one Redis command or one Lua script (atomic on the server),
never a read-modify-write from Python, and one round trip. Keys (``<prefix>`` is the
``state_prefix`` key, ``sse_mock:`` by default, so several mocks can share one Redis):

===========================  =========================================================
``<prefix>s:<session>:c``    hash: cycle positions (``*count`` faults, rule sequences)
``<prefix>s:<session>:n``    hash: counters (chaos draw index)
``<prefix>q:<session>``      list: queued actions (issue "Tests drive the mock")
``<prefix>j``, ``jd``        the journal: sorted set of ids by start time, hash id → record
``<prefix>jb``, ``jid``      the journal's byte total and its last id
``<prefix>b:<key>``          hash: one quota bucket (tokens, time)
===========================  =========================================================

A session's keys expire :data:`SESSION_TTL` seconds after their last change; a session hash keeps
at most :data:`~sse_mock.state.base.MAX_KEYS` fields (a random one goes), a bucket expires once it
would be full again. One Redis server (with or without replicas), not Redis Cluster: a journal
step touches several keys.

Divergence #1: connection errors become :class:`~sse_mock.state.base.StateUnavailable` (the
    middleware answers a 503); one immediate retry on a fresh connection lets the first request
    after a Redis restart succeed, and no back-off makes a request wait while Redis is down.
    Once a step has failed, :meth:`RedisState.ready` answers "down" at once to every request,
    and one request every :data:`PROBE_INTERVAL` seconds pings: the first that succeeds brings
    the mock back, by itself.
Divergence #2: Redis' clock (``TIME``) times the quota buckets, so hosts whose clocks differ
    still share one bucket truthfully.
Divergence #3: a request's journal record is written when its answer ends, before a non-streamed
    answer is handed to the server: a client that reads the journal through another worker
    right after its answer sees it. Records that end while another request of the same
    process is writing wait for that write and then go in one script together (group commit,
    :meth:`RedisState.journal_finish`): one round trip for the burst, each request still
    returning only once its own record is in Redis. (Writing records later, from a thread or
    with the next request's round trip, would let such a read miss the last requests for some
    milliseconds: tests read the journal exactly then.)
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ._connect import connection_kwargs
from .base import MAX_KEYS, MAX_QUEUE, Bucket, State, StateUnavailable, Taken
from .tracking import QueueCache

__all__ = ["SESSION_TTL", "RedisState", "redact"]

log = logging.getLogger("sse_mock")

#: Seconds a session's cycles, counters and queue outlive their last change.
SESSION_TTL = 86_400
#: While Redis is down, how often (seconds) one request tries it again; the others get a 503
#: at once instead of each waiting for a connection timeout.
PROBE_INTERVAL = 0.5
#: Journal ids read per HMGET inside a script (Lua's stack is bounded).
_CHUNK = 500
_DOWN = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)
_T = TypeVar("_T")

_CYCLE = """
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  redis.call('HDEL', KEYS[1], redis.call('HRANDFIELD', KEYS[1]))
end
local m = tonumber(ARGV[2])
local n = (tonumber(v) or 0) % m
redis.call('HSET', KEYS[1], ARGV[1], (n + 1) % m)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return n
"""

_INCR = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0
    and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[2]) then
  redis.call('HDEL', KEYS[1], redis.call('HRANDFIELD', KEYS[1]))
end
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return n
"""

# KEYS: id counter, ids by start time, records, byte total
# ARGV: max entries, max bytes, then (session, record JSON, start time) for each record
_JOURNAL_ADD = """
local max_n, max_bytes = tonumber(ARGV[1]), tonumber(ARGV[2])
local id, total = 0, 0
for i = 3, #ARGV, 3 do
  id = redis.call('INCR', KEYS[1])
  local payload = ARGV[i] .. '\\n' .. ARGV[i + 1]
  redis.call('ZADD', KEYS[2], ARGV[i + 2], id)
  redis.call('HSET', KEYS[3], id, payload)
  total = redis.call('INCRBY', KEYS[4], #payload)
end
local n = redis.call('ZCARD', KEYS[2])
while n > 0 and (n > max_n or total > max_bytes) do
  local old = redis.call('ZPOPMIN', KEYS[2])[1]
  local p = redis.call('HGET', KEYS[3], old)
  if p then
    redis.call('HDEL', KEYS[3], old)
    total = redis.call('INCRBY', KEYS[4], -#p)
  end
  n = n - 1
end
return id
"""

# KEYS: ids by start time, records, byte total; ARGV: session, "1" to delete what matches
_JOURNAL_SCAN = """
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local head = ARGV[1] .. '\\n'
local out = {}
for i = 1, #ids, CHUNK do
  local chunk = {unpack(ids, i, math.min(i + CHUNK - 1, #ids))}
  local ps = redis.call('HMGET', KEYS[2], unpack(chunk))
  for j, id in ipairs(chunk) do
    local p = ps[j]
    if p and string.sub(p, 1, #head) == head then
      if ARGV[2] == '1' then
        redis.call('ZREM', KEYS[1], id)
        redis.call('HDEL', KEYS[2], id)
        redis.call('DECRBY', KEYS[3], #p)
      else
        out[#out + 1] = id
        out[#out + 1] = string.sub(p, #head + 1)
      end
    end
  end
end
return out
""".replace("CHUNK", str(_CHUNK))

_QUEUE_PUSH = """
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""

# KEYS: bucket keys; ARGV: capacity, refill per second, amount — for each key in turn
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local levels, ok = {}, 1
for i, key in ipairs(KEYS) do
  local cap, rate, amount = tonumber(ARGV[3*i-2]), tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i])
  local v = redis.call('HMGET', key, 'tokens', 'ts')
  local level = tonumber(v[1]) or cap
  local ts = tonumber(v[2]) or now
  level = math.min(cap, level + math.max(0, now - ts) * rate)
  levels[i] = level
  if amount > level then ok = 0 end
end
local out = {ok}
for i, key in ipairs(KEYS) do
  local cap, rate, amount = tonumber(ARGV[3*i-2]), tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i])
  if ok == 1 then levels[i] = levels[i] - amount end
  redis.call('HSET', key, 'tokens', tostring(levels[i]), 'ts', tostring(now))
  if rate > 0 then
    redis.call('PEXPIRE', key, math.ceil((cap - levels[i]) / rate * 1000) + 1000)
  end
  out[#out + 1] = tostring(levels[i])
end
return out
"""


def redact(url: str) -> str:
    """`url` without its password, for messages."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = f"{parts.username}:***@" if parts.username else ":***@"
        return urlunsplit(parts._replace(netloc=user + netloc))
    except ValueError:
        return "<the configured Redis URL>"


class RedisState(State):
    """The Redis backend. Connects lazily; :meth:`check` pings.

    :param url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://…`` or ``unix://…``.
    :param prefix: the start of every key.
    :param timeout: seconds to wait for a connection or an answer before the request gets a 503.
    :param max_connections: connections to Redis per process (requests beyond wait for one).
    """

    shared = True
    measures_records = True  # the journal script weighs each record (#payload)

    def __init__(self, url: str, *, prefix: str = "sse_mock:", journal_entries: int = 1000,
                 journal_bytes: int = 4 << 20, timeout: float = 2.0,
                 max_connections: int = 16) -> None:
        self.name = redact(url)
        self.prefix = prefix
        self.journal_max_entries = journal_entries
        self.journal_max_bytes = journal_bytes
        # A bounded pool: when every connection is busy a request waits for one (a greenlet
        # yields) instead of opening more — a burst of streams ending at once would otherwise
        # open hundreds.
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=timeout,
            socket_connect_timeout=timeout, socket_timeout=timeout,
            retry=Retry(NoBackoff(), 1), retry_on_error=[redis.ConnectionError],
            **connection_kwargs(url))  # resolved without gevent's thread pool (_connect.py)
        self.client = redis.Redis(connection_pool=pool, retry=Retry(NoBackoff(), 1),
                                  retry_on_error=[redis.ConnectionError])
        r = self.client
        self._cycle = r.register_script(_CYCLE)
        self._incr = r.register_script(_INCR)
        self._journal_add = r.register_script(_JOURNAL_ADD)
        self._journal_scan = r.register_script(_JOURNAL_SCAN)
        self._queue_push = r.register_script(_QUEUE_PUSH)
        self._take = r.register_script(_TAKE)
        p = prefix
        # Queued actions are read on every request: from a copy Redis keeps true (tracking.py).
        self._queues = QueueCache(url, p + "q:", timeout)
        self._journal_keys = [p + "jid", p + "j", p + "jd", p + "jb"]
        # Group commit of journal records (Divergence #3): records waiting to be written, and
        # the lock held by the request writing a batch (gevent-aware once monkey-patched).
        self._pending: list[_Pending] = []
        self._pending_lock = threading.Lock()
        self._commit_lock = threading.Lock()
        self._down = ""  # why Redis is known to be down ("" = up)
        self._next_probe = 0.0

    def _key(self, session: str, kind: str) -> str:
        return f"{self.prefix}s:{session}:{kind}"

    @contextmanager
    def _up(self) -> Iterator[None]:
        try:
            yield
        except _DOWN as exc:
            self._down = f"Redis at {self.name} cannot be reached ({exc})"
            self._next_probe = time.monotonic() + PROBE_INTERVAL
            raise StateUnavailable(self._down) from None
        except redis.RedisError as exc:  # e.g. out of memory: this step failed, Redis is up
            raise StateUnavailable(f"Redis at {self.name} refused: {exc}") from None
        self._down = ""

    def ready(self) -> None:
        if not self._down:
            return
        now = time.monotonic()
        if now < self._next_probe:
            raise StateUnavailable(self._down)
        self._next_probe = now + PROBE_INTERVAL  # this request probes; the others need not
        self._run(self.client.ping)

    def _run(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        with self._up():
            return fn(*args, **kwargs)

    # -- counters ------------------------------------------------------------------------------

    def cycle(self, session: str, key: str, modulo: int) -> int:
        return int(self._run(self._cycle, keys=[self._key(session, "c")],
                             args=[key, modulo, MAX_KEYS, SESSION_TTL]))

    def peek(self, session: str, key: str) -> int:
        value = self._run(self.client.hget, self._key(session, "c"), key)
        return int(value) if value is not None else 0

    def incr(self, session: str, key: str) -> int:
        return int(self._run(self._incr, keys=[self._key(session, "n")],
                             args=[key, MAX_KEYS, SESSION_TTL]))

    # -- journal -------------------------------------------------------------------------------

    def journal_start(self, session: str, record: dict[str, Any], size: int) -> int:
        return 0  # written once, when it ends (Divergence #1 of sse_mock.state.base)

    def journal_finish(self, session: str, id: int, record: dict[str, Any], size: int) -> int:
        """Write the record, with any others of this process that end meanwhile, in one round
        trip; return once it is in Redis (Divergence #3)."""
        if not self.journal_max_entries:
            return id
        data = {k: v for k, v in record.items() if k != "id"}
        mine = _Pending(session, json.dumps(data, default=str, separators=(",", ":")),
                        repr(float(record.get("time") or 0.0)))
        with self._pending_lock:
            self._pending.append(mine)
        with self._commit_lock:  # a request writing a batch holds it; ours may be in it
            if not mine.done:
                with self._pending_lock:
                    batch, self._pending = self._pending, []
                self._commit(batch)
        if mine.error is not None:
            raise mine.error
        return mine.id

    def _commit(self, batch: list[_Pending]) -> None:
        """One script for the whole batch; every record learns its id (or the error)."""
        args: list[Any] = [self.journal_max_entries, self.journal_max_bytes]
        for item in batch:
            args += [item.session, item.text, item.start]
        try:
            last = int(self._run(self._journal_add, keys=self._journal_keys, args=args))
        except StateUnavailable as exc:
            for item in batch:
                item.error = exc
            return
        finally:  # whatever happened, nobody waits for this batch again
            for item in batch:
                item.done = True
        for n, item in enumerate(batch):  # the script gives consecutive ids, in batch order
            item.id = last - len(batch) + 1 + n

    def journal_entries(self, session: str) -> list[dict[str, Any]]:
        flat = self._run(self._journal_scan, keys=self._journal_keys[1:], args=[session, "0"])
        out = []
        for i in range(0, len(flat), 2):
            record = json.loads(flat[i + 1])
            record["id"] = int(flat[i])
            out.append(record)
        return out

    def journal_clear(self, session: str) -> None:
        self._run(self._journal_scan, keys=self._journal_keys[1:], args=[session, "1"])

    # -- queued actions ------------------------------------------------------------------------

    def _queue(self, session: str) -> str:
        return f"{self.prefix}q:{session}"

    def queue_push(self, session: str, payload: str) -> bool:
        self._queues.forget(session)
        try:
            return bool(self._run(self._queue_push, keys=[self._queue(session)],
                                  args=[payload, MAX_QUEUE, SESSION_TTL]))
        finally:  # and after: a read that overlapped the write is not kept either
            self._queues.forget(session)

    def queue_items(self, session: str) -> list[str]:
        """No round trip while this process's copy is known to be true (tracking.py)."""
        items, epoch = self._queues.get(session)
        if items is not None:
            return items
        raw = self._run(self.client.lrange, self._queue(session), 0, -1)
        items = [item.decode() if isinstance(item, bytes) else item for item in raw]
        self._queues.store(session, items, epoch)
        return items

    def queue_take(self, session: str, payload: str) -> bool:
        self._queues.forget(session)
        try:
            return bool(self._run(self.client.lrem, self._queue(session), 1, payload))
        finally:
            self._queues.forget(session)

    # -- quotas --------------------------------------------------------------------------------

    def take(self, buckets: Sequence[Bucket]) -> list[Taken]:
        args: list[float] = []
        for b in buckets:
            args += [b.capacity, b.refill_per_second, b.amount]
        out = self._run(self._take, keys=[self.prefix + "b:" + b.key for b in buckets],
                        args=[repr(float(a)) for a in args])
        allowed = bool(int(out[0]))
        return [Taken.at(allowed, b, float(level)) for b, level in zip(buckets, out[1:],
                                                                      strict=True)]

    # -- life cycle ----------------------------------------------------------------------------

    def reset(self, session: str | None = None) -> None:
        self._queues.forget(session)
        if session is not None:
            self._run(self.client.delete, self._key(session, "c"), self._key(session, "n"),
                      self._queue(session))
            self.journal_clear(session)
            return
        # Only this mock's key families: another mock's prefix may start with this one's.
        base = _glob_escape(self.prefix)
        with self._up():
            self.client.delete(*self._journal_keys)
            for family in ("s:", "q:", "b:"):
                batch: list[bytes] = []
                for key in self.client.scan_iter(match=base + family + "*", count=1000):
                    batch.append(key)
                    if len(batch) >= 1000:
                        self.client.delete(*batch)
                        batch.clear()
                if batch:
                    self.client.delete(*batch)

    def check(self) -> None:
        self._run(self.client.ping)

    def close(self) -> None:
        self._queues.close()
        self.client.close()
        self.client.connection_pool.disconnect()



class _Pending:
    """A journal record waiting for its batch (RedisState.journal_finish)."""

    __slots__ = ("done", "error", "id", "session", "start", "text")

    def __init__(self, session: str, text: str, start: str) -> None:
        self.session, self.text, self.start = session, text, start
        self.id = 0
        self.done = False
        self.error: StateUnavailable | None = None


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
