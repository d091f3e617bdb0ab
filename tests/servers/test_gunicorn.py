"""gunicorn in a subprocess, as users run it: ``gunicorn -k gthread 'sse_mock:create_app(…)'``.

On the worker classes meant for streaming (gthread, gevent) the headers and the first comment
leave at once, events leave one by one on the schedule, and a stream longer than ``--timeout``
survives (those workers keep their heartbeat while a request is open). On the sync worker the
mock logs its one-request-at-a-time warning, once.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import gunicorn.config
import httpx
import pytest
from conftest import ServerProcess, free_port, server_process

from sse_mock._parser import SSEParser

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 2  # gunicorn --timeout, in seconds
DELAY = 0.3  # create_app(delay=…)
FIRST_TOKEN_DELAY = 0.5
WORDS = "one two three four five six seven eight nine ten eleven twelve".split()


@contextlib.contextmanager
def gunicorn_server(*args: str, app: str = f"sse_mock:create_app(delay={DELAY})"
                    ) -> Iterator[ServerProcess]:
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
           "--timeout", str(TIMEOUT), "--graceful-timeout", "2", *args]
    if any(s.name == "control_socket_disable" for s in gunicorn.config.KNOWN_SETTINGS):
        cmd.append("--no-control-socket")  # gunicorn ≥ 24: else one shared socket in $HOME
    cmd.append(app)
    with server_process(cmd, port) as server:
        yield server


WORKERS = [
    pytest.param(("-k", "gthread", "--threads", "4"), id="gthread"),
    pytest.param(("-k", "gevent"), id="gevent", marks=pytest.mark.skipif(
        importlib.util.find_spec("gevent") is None, reason="gevent is not installed")),
]


@pytest.mark.parametrize("worker", WORKERS)
def test_streams_paced_and_outlive_the_worker_timeout(worker: tuple[str, ...]) -> None:
    # Measured against the schedule the server reports, not against the client's start: the
    # journal's `time` is when the server began answering (the wall clock, the same clock the
    # client reads here), and token i is due FIRST_TOKEN_DELAY + i·DELAY after it. A busy
    # machine only makes things late, so "never before it was due" holds under load; "not in a
    # burst at the end" is checked against the last token's due time, seconds away.
    with gunicorn_server(*worker) as server:
        url = (f"{server.url}/mock/stream?first_token_delay={FIRST_TOKEN_DELAY}"
               f"&reply={'+'.join(WORDS)}")
        parser = SSEParser()
        events: list[tuple[float, str]] = []  # (wall-clock arrival, data)
        with httpx.Client(timeout=10) as c:
            with c.stream("GET", url) as r:
                assert r.status_code == 200
                assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
                assert "content-length" not in r.headers
                chunks = r.iter_raw()
                first = next(chunks)
                first_at = time.time()
                events += [(first_at, e.data) for e in parser.feed(first)]
                for chunk in chunks:
                    at = time.time()
                    events += [(at, e.data) for e in parser.feed(chunk)]
            # The next request on a fresh connection still works: the worker was not killed.
            assert c.get(server.url + "/mock/v1/models").status_code == 200
            journal = c.get(server.url + "/mock/_journal").json()["data"]
        (entry,) = [e for e in journal if e["route"] == "plain"]
        start = float(entry["time"])
        due = [start + FIRST_TOKEN_DELAY + i * DELAY for i in range(len(WORDS))]

        # Every word, in order, then [DONE]: the stream outlived --timeout.
        assert [d for _, d in events] == [*WORDS, "[DONE]"]
        assert entry["outcome"] == "completed"
        assert due[-1] > start + TIMEOUT + 1
        # Headers and the ": ok" comment leave at once: alone, before the first token was due.
        assert first.startswith(b": ok\n"), first
        assert first_at < due[0], (first_at - start, FIRST_TOKEN_DELAY)
        # Each token on the schedule: never before it was due ...
        arrivals = [at for at, data in events if data != "[DONE]"]
        early = [(i, round(d - at, 3)) for i, (at, d) in enumerate(zip(arrivals, due,
                                                                      strict=True)) if at < d]
        assert not early, early
        # ... and one by one, not in a burst at the end: the first half of the words had
        # arrived before the last word was due (≥ 1.8 s before it).
        half = len(WORDS) // 2
        assert all(at < due[-1] for at in arrivals[:half]), [a - start for a in arrivals]
        assert server.proc.poll() is None
    assert "WORKER TIMEOUT" not in server.log()


def test_sync_worker_logs_the_multithread_warning_once() -> None:
    with gunicorn_server("-k", "sync", app="sse_mock:create_app(delay=0)") as server:
        with httpx.Client(timeout=10) as c:
            for _ in range(3):
                r = c.get(server.url + "/mock/stream?reply=hi")
                assert r.status_code == 200 and r.text.endswith("data: [DONE]\n\n")
        server.wait_for_log("wsgi.multithread")
    log = server.log()
    # No logging configuration: Python's last-resort handler prints WARNING records to stderr.
    assert log.count("wsgi.multithread is false") == 1, log
    assert "gunicorn -k gthread or -k gevent" in log


def test_sync_worker_cuts_a_stream_longer_than_its_timeout() -> None:
    # Why the warning exists: a sync worker cannot report to the arbiter while it streams, so the
    # arbiter kills it after --timeout, mid-stream. Users need gthread or gevent.
    with gunicorn_server("-k", "sync") as server:
        parser = SSEParser()
        data: list[str] = []
        with httpx.Client(timeout=10) as c:
            with pytest.raises(httpx.HTTPError), \
                    c.stream("GET", f"{server.url}/mock/stream?reply={'+'.join(WORDS)}") as r:
                for chunk in r.iter_raw():
                    data += [e.data for e in parser.feed(chunk)]
        assert data and "[DONE]" not in data, data  # some words, then the connection dropped
        server.wait_for_log("WORKER TIMEOUT")
    assert "WORKER TIMEOUT" in server.log()
