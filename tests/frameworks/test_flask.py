"""Flask: the documented pattern (``app.wsgi_app = SSEMockMiddleware(app.wsgi_app, …)``) in the
example app, served on real sockets, and the example run with ``flask run``."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from conftest import free_port, serve, server_process
from flask import Flask

import sse_mock
from sse_mock import SSEMockMiddleware
from sse_mock._parser import SSEParser
from sse_mock.config import DEFAULT_REPLY

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "flask_app.py"


def load_example(monkeypatch: pytest.MonkeyPatch, **env: str) -> ModuleType:
    """Import examples/flask_app.py afresh under the given environment."""
    for name in ("SSE_MOCK", "FLASK_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    name = "flask_app_example"
    spec = importlib.util.spec_from_file_location(name, EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def assert_streams(base: str, words: list[str]) -> None:
    """GET /mock/stream: the words in order, then [DONE], as text/event-stream."""
    with httpx.Client(timeout=10) as c, c.stream("GET", base + "/mock/stream?delay=0") as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        body = b"".join(r.iter_raw())
    assert [e.data for e in SSEParser().feed(body)] == [*words, "[DONE]"]


def test_example_mounts_the_mock_when_asked(
    monkeypatch: pytest.MonkeyPatch, server_kind: str
) -> None:
    app = load_example(monkeypatch, SSE_MOCK="1").app
    assert isinstance(app.wsgi_app, SSEMockMiddleware)
    with serve(app, server_kind) as base:
        assert_streams(base, DEFAULT_REPLY.split())
        r = httpx.get(base + "/", timeout=10)
        assert r.status_code == 200
        assert r.json() == {"hello": "from Flask", "mock": "/mock/stream"}
        assert httpx.get(base + "/nowhere", timeout=10).status_code == 404  # Flask's own 404


def test_example_mounts_the_mock_in_debug_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    # What `flask run --debug` does before it imports the app.
    app = load_example(monkeypatch, FLASK_DEBUG="1").app
    assert app.debug
    assert isinstance(app.wsgi_app, SSEMockMiddleware)


def test_example_without_debug_leaves_the_app_untouched(monkeypatch: pytest.MonkeyPatch) -> None:
    app = load_example(monkeypatch).app
    assert not app.debug
    assert not isinstance(app.wsgi_app, SSEMockMiddleware)
    assert app.wsgi_app.__func__ is Flask.wsgi_app  # still Flask's own bound method
    with serve(app) as base:
        assert httpx.get(base + "/mock/stream", timeout=10).status_code == 404
        assert httpx.get(base + "/", timeout=10).status_code == 200


def test_disabled_wrap_returns_the_wsgi_app_itself() -> None:
    app = Flask(__name__)
    inner = app.wsgi_app
    assert sse_mock.wrap(inner, enabled=False) is inner
    assert isinstance(sse_mock.wrap(inner, delay=0), SSEMockMiddleware)


def test_middleware_options_reach_the_stream() -> None:
    app = Flask(__name__)
    app.wsgi_app = SSEMockMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, delay=0, reply="flask says hi", prefix="/dev/llm")
    with serve(app) as base, httpx.Client(timeout=10) as c:
        with c.stream("GET", base + "/dev/llm/stream") as r:
            body = b"".join(r.iter_raw())
        assert [e.data for e in SSEParser().feed(body)] == ["flask", "says", "hi", "[DONE]"]
        assert c.get(base + "/mock/stream").status_code == 404  # not our prefix: Flask's


# -- the example as documented: `flask --app examples/flask_app.py run --debug` ----------------


@contextlib.contextmanager
def flask_run(*args: str) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-m", "flask", "--app", str(EXAMPLE), "run", "--no-reload",
           "--port", str(port), *args]
    with server_process(cmd, port, drop_env=("SSE_MOCK", "FLASK_DEBUG")) as server:
        yield server.url


def test_flask_run_debug_streams_the_mock_incrementally() -> None:
    with flask_run("--debug") as base:
        # The example paces at 0.1 s per word: the events must arrive spread out, through the
        # debugger middleware that `--debug` adds.
        arrivals: list[float] = []
        parser = SSEParser()
        words: list[str] = []
        start = time.monotonic()
        with httpx.Client(timeout=10) as c, c.stream("GET", base + "/mock/stream?reply=a+b+c") as r:
            assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
            for chunk in r.iter_raw():
                for event in parser.feed(chunk):
                    arrivals.append(time.monotonic() - start)
                    words.append(event.data)
        assert words == ["a", "b", "c", "[DONE]"]
        assert arrivals[-1] - arrivals[0] > 0.2, arrivals
        assert httpx.get(base + "/", timeout=10).json()["hello"] == "from Flask"


def test_flask_run_without_debug_has_no_mock() -> None:
    with flask_run() as base:
        assert httpx.get(base + "/mock/stream", timeout=10).status_code == 404
        assert httpx.get(base + "/", timeout=10).status_code == 200
