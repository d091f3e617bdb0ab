"""Flask: the extension (``SSEMock(app)`` / ``init_app``) in the example app factory, with the
test client, on real sockets and under ``flask run``; the plain ``app.wsgi_app`` wrap."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from conftest import free_port, serve, server_process
from flask import Flask

import sse_mock
from sse_mock import SSEMockMiddleware
from sse_mock._parser import SSEParser
from sse_mock.config import DEFAULT_REPLY, ConfigError
from sse_mock.flask import SSEMock
from sse_mock.testing import read_events

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "flask_app.py"


def load_example(monkeypatch: pytest.MonkeyPatch, **env: str) -> ModuleType:
    """Import examples/flask_app.py afresh under the given environment."""
    for name in ("FLASK_SSE_MOCK_ENABLED", "FLASK_DEBUG"):
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


def test_example_mounts_the_mock_when_the_environment_asks(
    monkeypatch: pytest.MonkeyPatch, server_kind: str
) -> None:
    app = load_example(monkeypatch, FLASK_SSE_MOCK_ENABLED="true").create_app()
    assert isinstance(app.extensions["sse_mock"].mock, SSEMockMiddleware)
    with serve(app, server_kind) as base:
        assert_streams(base, DEFAULT_REPLY.split())
        r = httpx.get(base + "/", timeout=10)
        assert r.status_code == 200
        assert r.json() == {"hello": "from Flask", "mock": "/mock/stream"}
        assert httpx.get(base + "/nowhere", timeout=10).status_code == 404  # Flask's own 404


def test_example_mounts_the_mock_in_debug_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    # What `flask run --debug` does before it imports the app.
    app = load_example(monkeypatch, FLASK_DEBUG="1").create_app()
    assert app.debug
    with app.test_client() as c:
        events = read_events(c.get("/mock/stream?delay=0"))
    assert [e.data for e in events] == [*DEFAULT_REPLY.split(), "[DONE]"]


def test_example_without_debug_leaves_the_app_untouched(monkeypatch: pytest.MonkeyPatch) -> None:
    app = load_example(monkeypatch).create_app()
    assert not app.debug and not app.testing
    with serve(app) as base:
        assert httpx.get(base + "/mock/stream", timeout=10).status_code == 404
        assert httpx.get(base + "/", timeout=10).status_code == 200
    assert app.extensions["sse_mock"]._mock is None  # never built: no "mock active" log


def test_testing_set_after_init_app_turns_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # Flask's testing docs: app = create_app(); app.config.update({"TESTING": True}).
    app = load_example(monkeypatch).create_app()
    with app.test_client() as c:
        assert c.get("/mock/stream").status_code == 404
        app.config.update(TESTING=True)
        response = c.get("/mock/stream?delay=0&reply=on+now")
        assert [e.data for e in read_events(response)] == ["on", "now", "[DONE]"]


def test_factory_config_keys_and_the_mapping() -> None:
    app = Flask(__name__)
    app.config.update(TESTING=True, SSE_MOCK={"reply": "from the mapping", "delay": 0.5},
                      SSE_MOCK_DELAY=0)
    ext = SSEMock(prefix="/llm")
    ext.init_app(app)
    mock = app.extensions["sse_mock"].mock
    assert (mock.config.reply, mock.config.delay, mock.config.prefix) == (
        "from the mapping", 0.0, "/llm")  # SSE_MOCK_DELAY beats the mapping
    with app.test_client() as c:
        assert [e.data for e in read_events(c.get("/llm/stream"))] == [
            "from", "the", "mapping", "[DONE]"]
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
        r = c.post("/llm/v1/chat/completions", json=body)
        assert r.json["choices"][0]["message"]["content"] == "from the mapping"


@pytest.mark.parametrize(("config", "enabled"), [
    ({"DEBUG": True, "SSE_MOCK_ENABLED": False}, False),
    ({"DEBUG": True, "SSE_MOCK": {"enabled": False}}, False),
    ({"SSE_MOCK_ENABLED": True}, True),
    ({"SSE_MOCK": {"enabled": True}}, True),
    ({"TESTING": True}, True),
    ({}, False),
])
def test_explicit_enabled_beats_debug_and_testing(config: dict[str, Any], enabled: bool) -> None:
    app = Flask(__name__)
    app.config.update(config)
    SSEMock(app, delay=0)
    assert app.extensions["sse_mock"].active is enabled
    with app.test_client() as c:
        assert (c.get("/mock/stream").status_code == 200) is enabled


@pytest.mark.parametrize(("config", "message"), [
    ({"SSE_MOCK_DELAY": -1}, "SSE_MOCK_DELAY: expected a number"),
    ({"SSE_MOCK": {"cors": {"origins": ["nope"]}}}, "SSE_MOCK['cors']['origins']"),
    ({"SSE_MOCK_DELYA": 1}, "did you mean SSE_MOCK_DELAY"),
])
def test_bad_config_names_the_key_even_when_off(config: dict[str, Any], message: str) -> None:
    app = Flask(__name__)
    app.config.update(config)
    with pytest.raises(ConfigError) as info:
        SSEMock(app)
    assert message in str(info.value)


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
    with server_process(cmd, port, drop_env=("FLASK_SSE_MOCK_ENABLED", "FLASK_DEBUG")) as server:
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
