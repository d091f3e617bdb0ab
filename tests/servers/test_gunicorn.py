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
    with gunicorn_server(*worker) as server:
        url = (f"{server.url}/mock/stream?first_token_delay={FIRST_TOKEN_DELAY}"
               f"&reply={'+'.join(WORDS)}")
        parser = SSEParser()
        events: list[tuple[float, str]] = []
        with httpx.Client(timeout=10) as c:
            start = time.monotonic()
            with c.stream("GET", url) as r:
                assert r.status_code == 200
                assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
                assert "content-length" not in r.headers
                chunks = r.iter_raw()
                first = next(chunks)
                first_at = time.monotonic() - start
                events += [(first_at, e.data) for e in parser.feed(first)]
                for chunk in chunks:
                    at = time.monotonic() - start
                    events += [(at, e.data) for e in parser.feed(chunk)]
            # The next request on a fresh connection still works: the worker was not killed.
            assert c.get(server.url + "/mock/v1/models").status_code == 200

        # Headers and the ": ok" comment leave at once, before the first token is due.
        assert first.startswith(b": ok\n")
        assert first_at < FIRST_TOKEN_DELAY - 0.1, first_at
        assert events[0][0] >= FIRST_TOKEN_DELAY - 0.05, events[0]
        # Every word, in order, then [DONE]: the stream outlived --timeout.
        assert [d for _, d in events] == [*WORDS, "[DONE]"]
        assert events[-1][0] > TIMEOUT + 1, events[-1]
        # One by one on the 0.3 s schedule, not in a burst at the end.
        gaps = [b - a for (a, _), (b, _) in zip(events, events[1:], strict=False)]
        assert all(0.15 < g < 0.6 for g in gaps), gaps
        assert server.proc.poll() is None
    assert "WORKER TIMEOUT" not in server.log()


def test_sync_worker_logs_the_multithread_warning_once() -> None:
    with gunicorn_server("-k", "sync", app="sse_mock:create_app(delay=0)") as server:
        with httpx.Client(timeout=10) as c:
            for _ in range(3):
                r = c.get(server.url + "/mock/stream?reply=hi")
                assert r.status_code == 200 and r.text.endswith("data: [DONE]\n\n")
        deadline = time.monotonic() + 5
        while "wsgi.multithread" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)  # the worker writes it; poll, bounded
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
        deadline = time.monotonic() + 5
        while "WORKER TIMEOUT" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "WORKER TIMEOUT" in server.log()
