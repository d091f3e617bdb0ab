"""The state seam (issue 10, point 1): each backend — in-process and a real redis-server — keeps
the same promises: atomic cycles and counters, a journal bounded by entries and bytes, queues,
all-or-nothing token buckets, per-session reset, and bounded request-chosen keys."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from sse_mock.state import Bucket, MemoryState, State, unit_draw
from sse_mock.state import base as state_base

Make = Callable[..., State]


@pytest.fixture(params=["memory", "redis"])
def make_state(request: pytest.FixtureRequest, prefix: str) -> Iterator[Callable[..., State]]:
    """Build a backend of each kind (same bounds for both); closed after the test."""
    made: list[State] = []

    def make(journal_entries: int = 1000, journal_bytes: int = 4 << 20) -> State:
        if request.param == "memory":
            state: State = MemoryState(journal_entries, journal_bytes)
        else:
            from sse_mock.state.redis import RedisState

            url = request.getfixturevalue("redis_url")
            state = RedisState(url, prefix=prefix, journal_entries=journal_entries,
                               journal_bytes=journal_bytes)
        made.append(state)
        return state

    yield make
    for state in made:
        state.close()


def test_cycle_takes_each_position_in_turn_per_session_and_key(make_state: Make) -> None:
    s = make_state()
    assert [s.cycle("", "k", 3) for _ in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    assert s.peek("", "k") == 1
    assert [s.cycle("other", "k", 3) for _ in range(2)] == [0, 1]  # sessions apart
    assert s.cycle("", "k2", 2) == 0  # keys apart
    assert s.cycle("", "k", 2) == 1  # a changed modulo: the stored position, modulo the new one
    assert [s.incr("", "n") for _ in range(3)] == [1, 2, 3]
    assert s.incr("other", "n") == 1


def test_cycle_is_atomic_under_concurrent_callers(make_state: Make) -> None:
    s = make_state()
    taken: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(30):
            n = s.cycle("", "race", 3)
            with lock:
                taken.append(n)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # 180 takes of a 3-cycle: each position exactly 60 times, none lost to a race.
    assert Counter(taken) == {0: 60, 1: 60, 2: 60}


def _finish(s: State, session: str, n: int, body: str = "x", start: float = 1000.0) -> int:
    record = {"id": 0, "time": start + n, "path": f"/p{n}", "body": body}
    rid = s.journal_start(session, record, len(body) + 40)
    return s.journal_finish(session, rid, dict(record), len(body) + 40)


def test_journal_keeps_order_and_its_bound_in_entries(make_state: Make) -> None:
    s = make_state(journal_entries=3)
    for n in range(5):
        _finish(s, "", n)
    entries = s.journal_entries("")
    assert [e["path"] for e in entries] == ["/p2", "/p3", "/p4"]
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids) and len(set(ids)) == 3 and all(ids)


def test_journal_keeps_its_bound_in_bytes(make_state: Make) -> None:
    s = make_state(journal_bytes=3000)
    for n in range(10):
        _finish(s, "", n, body="y" * 900)
    kept = s.journal_entries("")
    # ~950 bytes each: at most three fit in 3,000 bytes; the newest are kept.
    assert 1 <= len(kept) <= 3
    assert kept[-1]["path"] == "/p9"


def test_journal_is_per_session_and_clears_per_session(make_state: Make) -> None:
    s = make_state()
    _finish(s, "a", 1)
    _finish(s, "b", 2)
    _finish(s, "a", 3)
    assert [e["path"] for e in s.journal_entries("a")] == ["/p1", "/p3"]
    s.journal_clear("a")
    assert s.journal_entries("a") == []
    assert [e["path"] for e in s.journal_entries("b")] == ["/p2"]


def test_queue_push_take_and_bound(make_state: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    s = make_state()
    assert s.queue_push("", "a") and s.queue_push("", "b") and s.queue_push("", "a")
    assert s.queue_items("") == ["a", "b", "a"]
    assert s.queue_take("", "a") is True
    assert s.queue_items("") == ["b", "a"]
    assert s.queue_take("", "zz") is False
    assert s.queue_items("other") == []
    monkeypatch.setattr(state_base, "MAX_QUEUE", 3)
    for module in ("sse_mock.state.memory", "sse_mock.state.redis"):
        monkeypatch.setattr(f"{module}.MAX_QUEUE", 3)
    assert s.queue_push("", "c") is True
    assert s.queue_push("", "d") is False  # full: nothing added
    assert s.queue_items("") == ["b", "a", "c"]


def test_take_is_all_or_nothing_and_refills(make_state: Make) -> None:
    s = make_state()
    req = Bucket("k:r", capacity=2, refill_per_second=1e-6)
    tok = Bucket("k:t", capacity=100, refill_per_second=1e-6, amount=60)
    first = s.take([req, tok])
    assert [t.allowed for t in first] == [True, True]
    assert round(first[0].remaining) == 1 and round(first[1].remaining) == 40
    second = s.take([req, tok])  # tokens are short: nothing is taken, requests neither
    assert not second[0].allowed
    assert round(second[0].remaining) == 1 and round(second[1].remaining) == 40
    assert second[1].retry_after > 1000  # 20 tokens at 1e-6 per second
    fast = Bucket("k:fast", capacity=1, refill_per_second=1000)
    assert s.take([fast])[0].allowed
    refused = s.take([fast])[0]
    assert refused.retry_after <= 0.001 or refused.allowed


def test_reset_one_session_or_everything(make_state: Make) -> None:
    s = make_state()
    for session in ("a", "b"):
        s.cycle(session, "k", 5)
        s.incr(session, "chaos")
        s.queue_push(session, "x")
        _finish(s, session, 1)
    s.take([Bucket("q", 1, 1e-6)])
    s.reset("a")
    assert s.cycle("a", "k", 5) == 0 and s.incr("a", "chaos") == 1
    assert s.queue_items("a") == [] and s.journal_entries("a") == []
    assert s.cycle("b", "k", 5) == 1 and s.queue_items("b") == ["x"]
    assert len(s.journal_entries("b")) == 1
    s.reset()
    assert s.cycle("b", "k", 5) == 0 and s.journal_entries("b") == []
    assert s.take([Bucket("q", 1, 1e-6)])[0].allowed  # quotas start over too


def test_request_chosen_keys_are_bounded(make_state: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("sse_mock.state.memory", "sse_mock.state.redis"):
        monkeypatch.setattr(f"{module}.MAX_KEYS", 5)
    s = make_state()
    for i in range(40):  # e.g. ?fault=rate_limit:<ever new>*2
        s.cycle("", f"count:{i}", 3)
        s.incr("", f"n:{i}")
    known = sum(s.peek("", f"count:{i}") != 0 for i in range(40))
    assert known <= 5


def test_chaos_draws_are_a_pure_function_of_seed_and_index() -> None:
    draws = [unit_draw(7, i) for i in range(1000)]
    assert draws == [unit_draw(7, i) for i in range(1000)]
    assert all(0 <= d < 1 for d in draws)
    assert 0.45 < sum(draws) / len(draws) < 0.55  # spread over [0, 1)
    assert draws != [unit_draw(8, i) for i in range(1000)]


def test_redis_scripts_lost_to_a_restart_are_loaded_again(redis_url: str, prefix: str) -> None:
    import redis

    from sse_mock.state.redis import RedisState

    s = RedisState(redis_url, prefix=prefix)
    probe = redis.Redis.from_url(redis_url)
    try:
        _finish(s, "", 0)
        assert s.cycle("", "k", 2) == 0
        probe.script_flush()  # as after a restart of redis-server
        _finish(s, "", 1)
        assert s.cycle("", "k", 2) == 1
        assert [e["path"] for e in s.journal_entries("")] == ["/p0", "/p1"]
    finally:
        s.close()
        probe.close()


def test_redis_journal_records_ending_together_share_one_round_trip(
    redis_url: str, prefix: str
) -> None:
    """Group commit (sse_mock/state/redis.py, Divergence #3): records that end while another
    request of the process is writing go in one script; each request returns only once its own
    record is in Redis, with its own id, readable through another worker at once."""
    import redis

    from sse_mock.state.redis import RedisState

    s, other = RedisState(redis_url, prefix=prefix), RedisState(redis_url, prefix=prefix)
    probe = redis.Redis.from_url(redis_url)

    def evalshas() -> int:
        return int(probe.info("commandstats").get("cmdstat_evalsha", {"calls": 0})["calls"])

    got: dict[int, int] = {}
    seen: dict[int, str] = {}

    def end(n: int) -> None:
        got[n] = _finish(s, "", n)
        # what Redis holds the moment it returned (the records' hash, read without a script)
        seen[n] = b" ".join(probe.hvals(prefix + "jd")).decode()

    try:
        _finish(s, "", 99, start=0.0)  # the script is loaded: one EVALSHA per write from here
        before = evalshas()
        s._commit_lock.acquire()  # a write in flight: the 20 records that end now wait for it
        threads = [threading.Thread(target=end, args=(n,)) for n in range(20)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while len(s._pending) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(s._pending) == 20
        s._commit_lock.release()
        for t in threads:
            t.join(10)
        assert evalshas() - before == 1  # one round trip for the 20
        assert sorted(got.values()) == list(range(min(got.values()), min(got.values()) + 20))
        by_id = {e["id"]: e["path"] for e in other.journal_entries("")}
        assert all(by_id[got[n]] == f"/p{n}" for n in range(20))  # each its own id
        assert all(f'"/p{n}"' in seen[n] for n in range(20))  # in Redis before it returned
    finally:
        s.close()
        other.close()
        probe.close()


def test_redis_queue_reads_cost_no_round_trip_while_redis_says_nothing_changed(
    redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every request looks for queued actions; a worker keeps a copy that Redis invalidates
    (client-side caching): a change made through another worker is seen by the next request,
    and when tracking is lost the worker asks Redis every time until it is back."""
    import redis

    from sse_mock.state.redis import RedisState

    monkeypatch.setattr("sse_mock.state.tracking.RETRY_SECONDS", 0.0)
    a, b = RedisState(redis_url, prefix=prefix), RedisState(redis_url, prefix=prefix)
    probe = redis.Redis.from_url(redis_url)

    def lranges() -> int:
        return int(probe.info("commandstats").get("cmdstat_lrange", {"calls": 0})["calls"])

    try:
        assert b.queue_items("s") == []
        before = lranges()
        assert all(b.queue_items("s") == [] for _ in range(50))
        assert lranges() == before  # the copy: no round trip
        assert a.queue_push("s", "x")  # another worker
        assert b.queue_items("s") == ["x"]  # seen at once
        assert a.queue_take("s", "x") and b.queue_items("s") == []
        assert b.queue_items("other") == []  # sessions apart
        # Tracking lost (its connection killed): Redis is asked again, and tracking comes back.
        probe.client_kill_filter(_type="pubsub")
        assert a.queue_push("s", "y")
        assert b.queue_items("s") == ["y"]
        before = lranges()
        assert all(b.queue_items("s") == ["y"] for _ in range(20))
        assert lranges() - before <= 1
    finally:
        a.close()
        b.close()
        probe.close()


def test_memory_keeps_a_bounded_number_of_sessions_but_never_drops_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sse_mock.state.memory.MAX_SESSIONS", 5)
    s = MemoryState()
    s.cycle("", "k", 3)
    for i in range(50):  # request-chosen session names
        s.cycle(f"s{i}", "k", 3)
    assert len(s._sessions) <= 5
    assert s.cycle("", "k", 3) == 1  # the default session kept its position
    assert s.cycle("s49", "k", 3) == 1 and s.cycle("s0", "k", 3) == 0  # the oldest went


def test_redis_reset_leaves_a_mock_with_a_longer_prefix_alone(redis_url: str, prefix: str) -> None:
    from sse_mock.state.redis import RedisState

    mine, theirs = RedisState(redis_url, prefix=prefix), RedisState(redis_url, prefix=prefix + "x:")
    try:
        for s in (mine, theirs):
            s.cycle("", "k", 3)
            s.queue_push("", "a")
            _finish(s, "", 1)
        mine.reset()
        assert mine.cycle("", "k", 3) == 0 and mine.queue_items("") == []
        assert mine.journal_entries("") == []
        assert theirs.cycle("", "k", 3) == 1 and theirs.queue_items("") == ["a"]
        assert len(theirs.journal_entries("")) == 1
    finally:
        mine.close()
        theirs.close()


GEVENT_PROBE = """
import json, sys
from gevent import monkey
monkey.patch_all()
import gevent, socket
from sse_mock.state.redis import RedisState
url, prefix, mode = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == "stock":  # redis-py's own connection class, for contrast
    import sse_mock.state.redis as r, sse_mock.state.tracking as t
    r.connection_kwargs = t.connection_kwargs = lambda url: {}
s = RedisState(url, prefix=prefix)
s.check()
s.queue_items("")
rid = s.journal_finish("", 0, {"id": 0, "time": 1.0, "path": "/g"}, 0)
print(json.dumps({"threads": gevent.get_hub().threadpool.size, "id": rid,
                  "paths": [e["path"] for e in s.journal_entries("")]}))
s.close()
"""


@pytest.mark.parametrize("mode", ["ours", "stock"])
def test_redis_connections_leave_no_resolver_thread_under_gevent(
    redis_url: str, prefix: str, mode: str
) -> None:
    """sse_mock/state/_connect.py Divergence #1: under gevent's patching, redis-py's own
    connections resolve the host on the hub's thread pool and leave a native thread in the
    worker (which made it start streams later under load); ours resolve without it, and work."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", GEVENT_PROBE, redis_url, prefix, mode],
                         capture_output=True, text=True, timeout=60, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["paths"] == ["/g"] and got["id"] > 0
    assert got["threads"] == (0 if mode == "ours" else 1)
