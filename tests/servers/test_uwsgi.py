"""uWSGI in a subprocess, as users run it: ``uwsgi --http-socket … --gevent N --eval
"import sse_mock; application = sse_mock.create_app(…)"``.

In async mode (``--gevent N``) uWSGI says ``wsgi.multithread`` is false but serves N requests
at once per worker: streams overlap and the mock does not log its one-request-at-a-time
warning; without it (one request at a time) the warning is logged, once. ``create_app()`` in a
uWSGI process sets the collector up for serving, as in a gunicorn worker (sse_mock/serving.py,
Divergence #6).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from conftest import ServerProcess, free_port, server_process

from sse_mock._parser import SSEParser

UWSGI = shutil.which("uwsgi", path=str(Path(sys.executable).parent)) or shutil.which("uwsgi")
pytestmark = pytest.mark.skipif(UWSGI is None, reason="uWSGI is not installed")

DELAY = 0.2
WORDS = "one two three four five six seven eight nine ten".split()

#: The app: sse_mock's standalone app, and /gc for what the worker's collector looks like.
APP = """
import gc, json, sse_mock
mock = sse_mock.create_app(delay={delay})
def application(environ, start_response):
    if environ["PATH_INFO"] == "/gc":
        body = json.dumps({{"threshold": gc.get_threshold(),
                           "frozen": gc.get_freeze_count()}}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    return mock(environ, start_response)
"""


@contextlib.contextmanager
def uwsgi_server(*args: str) -> Iterator[ServerProcess]:
    assert UWSGI is not None
    port = free_port()
    cmd = [UWSGI, "--http-socket", f"127.0.0.1:{port}", "--master", "--processes", "1",
           "--die-on-term", "--need-app", "--disable-logging", *args,
           "--eval", APP.format(delay=DELAY)]
    with server_process(cmd, port) as server:
        yield server


def read_words(url: str, out: list[tuple[float, str]]) -> None:
    parser = SSEParser()
    with httpx.stream("GET", url, timeout=10) as r:
        assert r.status_code == 200
        for chunk in r.iter_raw():
            at = time.monotonic()
            out.extend((at, e.data) for e in parser.feed(chunk))


def test_gevent_mode_serves_streams_at_once_without_the_warning() -> None:
    with uwsgi_server("--gevent", "100", "--gevent-early-monkey-patch") as server:
        url = f"{server.url}/mock/stream?reply={'+'.join(WORDS)}"
        got: list[list[tuple[float, str]]] = [[], []]
        threads = [threading.Thread(target=read_words, args=(url, out)) for out in got]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        for events in got:
            assert [d for _, d in events] == [*WORDS, "[DONE]"]
        # Overlapping, not one after the other: each stream's first word arrived before the
        # other stream's [DONE] (the ten words take 2 s; a serial server would take 4 s).
        first = [next(at for at, d in events if d == WORDS[0]) for events in got]
        done = [events[-1][0] for events in got]
        assert first[0] < done[1] and first[1] < done[0], (first, done)

        # The official SDK, streamed through uWSGI.
        client = openai.OpenAI(base_url=server.url + "/mock/v1", api_key="sk-test",
                               timeout=10, max_retries=0)
        stream = client.chat.completions.create(
            model="gpt-4o-mini", stream=True,
            messages=[{"role": "user", "content": "hi"}], extra_query={"reply": "a b c"})
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert text == "a b c"
        log = server.log()
    assert "wsgi.multithread is false" not in log, log


def test_one_request_at_a_time_logs_the_warning_once() -> None:
    with uwsgi_server() as server:
        with httpx.Client(timeout=10) as c:
            for _ in range(3):
                r = c.get(server.url + "/mock/stream?reply=hi&delay=0")
                assert r.status_code == 200 and r.text.endswith("data: [DONE]\n\n")
        server.wait_for_log("wsgi.multithread")
    log = server.log()
    assert log.count("wsgi.multithread is false") == 1, log


@pytest.mark.parametrize("args", [(), ("--gevent", "10", "--gevent-early-monkey-patch")],
                         ids=["sync", "gevent"])
def test_create_app_in_uwsgi_settles_the_collector(args: tuple[str, ...]) -> None:
    with uwsgi_server(*args) as server:
        got = httpx.get(server.url + "/gc", timeout=10).json()
    assert got["frozen"] > 1000  # start-up's objects, frozen
    assert got["threshold"][2] >= 100  # a full collection after 100 middle ones, not 10
