"""Real sockets, parametrized over werkzeug's threaded server, waitress and a threading wsgiref
server: the mock streams incrementally and cleans up when the client goes away."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import serve

from sse_mock import create_app
from sse_mock._parser import SSEParser


def read_timed(url: str, timeout: float = 10) -> list[tuple[float, bytes]]:
    """(seconds since the request was sent, chunk) for every chunk the socket gives."""
    out = []
    start = time.monotonic()
    with httpx.Client(timeout=timeout) as c, c.stream("GET", url) as r:
        assert r.status_code == 200
        for chunk in r.iter_raw():
            out.append((time.monotonic() - start, chunk))
    return out


def test_first_byte_arrives_before_the_first_token_is_due(server_kind: str) -> None:
    app = create_app(delay=0.05, first_token_delay=1.0)
    with serve(app, server_kind) as base:
        url = base + "/mock/stream?reply=one+two"
        start = time.monotonic()
        with httpx.Client(timeout=10) as c, c.stream("GET", url) as r:
            headers_at = time.monotonic() - start
            chunks = r.iter_raw()
            first = next(chunks)
            first_at = time.monotonic() - start
            rest = b"".join(chunks)
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert first.startswith(b": ok\n")
        assert headers_at < 0.8 and first_at < 0.8  # the token is due at 1.0 s
        events = SSEParser().feed(first + rest)
        assert [e.data for e in events] == ["one", "two", "[DONE]"]


def test_events_arrive_spaced_not_all_at_once(server_kind: str) -> None:
    app = create_app(delay=0.2)
    with serve(app, server_kind) as base:
        timed = read_timed(base + "/mock/stream?reply=a+b+c+d")
    parser = SSEParser()
    arrivals = []
    for at, chunk in timed:
        for event in parser.feed(chunk):
            arrivals.append((at, event.data))
    assert [d for _, d in arrivals] == ["a", "b", "c", "d", "[DONE]"]
    gaps = [b[0] - a[0] for a, b in zip(arrivals, arrivals[1:], strict=False)]
    # 0.2 s apart on the schedule; generous bounds for a loaded CI machine.
    assert all(0.1 < g < 0.6 for g in gaps), gaps
    assert 0.6 < arrivals[-1][0] - arrivals[0][0] < 1.6


def test_client_close_mid_stream_runs_finally(server_kind: str) -> None:
    app = create_app(delay=0.1)
    with serve(app, server_kind) as base:
        u = urlsplit(base)
        sock = socket.create_connection((u.hostname, u.port), timeout=5)
        sock.sendall(b"GET /mock/stream?reply=" + b"+".join([b"w"] * 200) +
                     b" HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while b"data: w" not in got:
            got += sock.recv(4096)
        sock.close()
        # The generator's finally runs within a few intervals (on the next failed write).
        deadline = time.monotonic() + 5
        entry = app.journal.entries()[-1]
        while entry.outcome == "in progress" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert entry.outcome == "client went away"
        assert entry.events < 200


def test_seed_scenario_with_a_real_flask_app() -> None:
    flask = pytest.importorskip("flask")
    from sse_mock import SSEMockMiddleware

    app = flask.Flask("seed")

    @app.get("/")
    def index() -> str:
        return "flask says hi"

    app.wsgi_app = SSEMockMiddleware(app.wsgi_app, delay=0.01)  # type: ignore[method-assign]
    with serve(app, "werkzeug") as base:
        with httpx.Client(timeout=10) as c:
            assert c.get(base + "/").text == "flask says hi"
            origin = {"Origin": "http://page.test"}
            with c.stream("GET", base + "/mock/stream", headers=origin) as r:
                assert r.headers["access-control-allow-origin"] == "http://page.test"
                body = b"".join(r.iter_raw())
    words = [e.data for e in SSEParser().feed(body)]
    assert words == ["Hello,", "this", "is", "a", "mocked", "chatbot.", "How", "can", "I",
                     "help", "you?", "[DONE]"]
