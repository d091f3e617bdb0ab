"""Pyramid + PasteDeploy: ``[filter:sse_mock] use = egg:sse-mock`` in the example's ini pipeline,
loaded with ``paste.deploy.loadapp`` and served on sockets; the ini value conversion; the example
under ``pserve``; and ``config.include("sse_mock.pyramid")`` with ``sse_mock.*`` settings."""

from __future__ import annotations

import contextlib
import importlib.metadata
import itertools
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import free_port, serve, server_process
from paste.deploy import loadapp
from pyramid.router import Router

from sse_mock import ConfigError, SSEMockMiddleware
from sse_mock._parser import SSEParser
from sse_mock.paste import filter_app_factory, ini_options
from sse_mock.testing import read_events

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
INI = EXAMPLES / "pyramid_app" / "development.ini"
REPLY = "Hello from the Pyramid example! This reply is mocked."


@pytest.fixture(autouse=True)
def example_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    # `use = call:pyramid_app:main` imports the package, as PYTHONPATH=examples does for pserve.
    monkeypatch.syspath_prepend(str(EXAMPLES))


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"app"]


def test_the_filter_entry_point_is_installed() -> None:
    found = [ep for ep in importlib.metadata.entry_points(group="paste.filter_app_factory")
             if ep.value == "sse_mock.paste:filter_app_factory"]
    assert found, "sse-mock is not installed with its entry points: pip install -e ."
    assert found[0].name == "main" and found[0].load() is filter_app_factory


# -- the example's ini, through PasteDeploy ------------------------------------------------------


def test_loadapp_builds_the_pipeline_with_the_ini_options() -> None:
    wsgi = loadapp("config:" + str(INI))
    assert isinstance(wsgi, SSEMockMiddleware)
    assert isinstance(wsgi.app, Router)
    cfg = wsgi.config
    assert (cfg.delay, cfg.first_token_delay, cfg.reply) == (0.1, 0.2, REPLY)
    assert cfg.cors.origins == ("http://localhost:5173", "http://127.0.0.1:5173")
    assert cfg.cors.credentials is True


def test_loaded_pipeline_streams_and_pyramid_still_routes(server_kind: str) -> None:
    wsgi = loadapp("config:" + str(INI))
    with serve(wsgi, server_kind) as base, httpx.Client(timeout=10) as c:
        url = base + "/mock/stream?delay=0&first_token_delay=0"
        with c.stream("GET", url, headers={"Origin": "http://127.0.0.1:5173"}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
            assert r.headers["access-control-allow-origin"] == "http://127.0.0.1:5173"
            assert r.headers["access-control-allow-credentials"] == "true"
            body = b"".join(r.iter_raw())
        assert [e.data for e in SSEParser().feed(body)] == [*REPLY.split(), "[DONE]"]
        r = c.get(base + "/hello")
        assert (r.status_code, r.json()) == (200, {"hello": "from Pyramid"})
        assert c.get(base + "/nowhere").status_code == 404  # Pyramid's own 404


def write_ini(tmp_path: Path, filter_lines: str) -> str:
    path = tmp_path / "test.ini"
    path.write_text(
        "[app:app]\nuse = call:pyramid_app:main\n\n"
        f"[filter:sse_mock]\nuse = egg:sse-mock\n{filter_lines}\n\n"
        "[pipeline:main]\npipeline = sse_mock app\n")
    return "config:" + str(path)


def test_disabled_filter_leaves_the_app_itself(tmp_path: Path) -> None:
    assert isinstance(loadapp(write_ini(tmp_path, "enabled = false")), Router)
    assert filter_app_factory(app, {}, enabled="off") is app


def test_config_file_is_the_base_relative_to_the_ini(tmp_path: Path) -> None:
    (tmp_path / "mock.toml").write_text(
        'reply = "from the file"\ndelay = 2\n[[rules]]\nmatch = { contains = "x" }\n'
        'reply = "y"\n')
    (tmp_path / "more.toml").write_text('[[rules]]\nmatch = { contains = "z" }\nreply = "w"\n')
    wsgi = loadapp(write_ini(tmp_path, "config = mock.toml\ndelay = 0\nfixtures = more.toml"))
    assert isinstance(wsgi, SSEMockMiddleware)
    assert (wsgi.config.reply, wsgi.config.delay) == ("from the file", 0.0)  # the ini key wins
    assert len(wsgi.config.rules) == 1 and len(wsgi.config.fixtures) == 1


def test_a_bad_ini_value_names_the_key_through_loadapp(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^ini key 'cors\.max_age': expected a whole number"):
        loadapp(write_ini(tmp_path, "cors.max_age = ten minutes"))


# -- ini strings → options ----------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("true", True), ("TRUE", True), ("yes", True), ("on", True), ("1", True), (" On ", True),
    ("false", False), ("No", False), ("off", False), ("0", False),
])
def test_bool_words(raw: str, expected: bool) -> None:
    assert ini_options({"echo": raw}) == (None, {"echo": expected})


def test_conversions_by_key_type(tmp_path: Path) -> None:
    base, options = ini_options({
        "delay": "0.25", "first_token_delay": "1", "seed": "42", "reply": "Hi there, you",
        "prefix": "/llm", "models": "m1 m2\n  m3", "cors.origins": "http://a.test\nhttp://b.test",
        "cors.credentials": "yes", "cors.max_age": "60", "ratelimit.reset_tokens": "2s",
        "chaos.rate_limit": "0.1", "config": "mock.toml", "fixtures": "a.toml /abs/b.toml",
    }, here=tmp_path)
    assert base == str(tmp_path / "mock.toml")
    assert options == {
        "delay": 0.25, "first_token_delay": 1, "seed": 42, "reply": "Hi there, you",
        "prefix": "/llm", "models": ["m1", "m2", "m3"],
        "cors": {"origins": ["http://a.test", "http://b.test"], "credentials": True,
                 "max_age": 60},
        "ratelimit": {"reset_tokens": "2s"}, "chaos": {"rate_limit": 0.1},
        "fixtures": [str(tmp_path / "a.toml"), "/abs/b.toml"],
    }
    assert ini_options({"cors.origins": "*"}) == (None, {"cors": {"origins": "*"}})


def test_converted_options_build_the_middleware() -> None:
    mw = filter_app_factory(app, {"here": "/tmp"}, **{
        "delay": "0", "models": "a b", "cors.origins": "http://a.test", "chaos.rate_limit": "0.5",
        "cors.credentials": "true"})
    assert isinstance(mw, SSEMockMiddleware)
    assert mw.app is app
    assert mw.config.models == ("a", "b") and mw.config.cors.credentials
    assert mw.config.cors.origins == ("http://a.test",)


@pytest.mark.parametrize(("conf", "message"), [
    ({"delay": "fast"}, "ini key 'delay': expected a number, got 'fast'"),
    ({"delay": "-1"}, "ini key 'delay': expected a number from 0 to 3600, got -1"),
    ({"delay": "nan"}, "ini key 'delay': expected a number, got 'nan'"),
    ({"retry": "1.5"}, "ini key 'retry': expected a whole number, got '1.5'"),
    ({"echo": "maybe"}, "ini key 'echo': expected true/false/yes/no/on/off/1/0, got 'maybe'"),
    ({"dealy": "1"}, "ini key 'dealy' is unknown (did you mean 'delay'?)"),
    ({"prefix": "mock"}, "ini key 'prefix': expected a path like"),
    ({"cors": "*"}, "ini key 'cors': cors is a table; give one key per line, e.g. cors.origins"),
    ({"cors.origin": "*"}, "ini key 'cors.origin' is unknown (did you mean 'cors.origins'?)"),
    ({"cors.origins": "localhost"}, "ini key 'cors.origins': 'localhost' is not an origin"),
    ({"cors.credentials": "sure"}, "ini key 'cors.credentials': expected true/false"),
    ({"chaos.nope": "0.1"}, "ini key 'chaos.nope': unknown fault 'nope'"),
    ({"chaos.rate_limit": "2"}, "ini key 'chaos.rate_limit': expected a number from 0 to 1"),
    ({"delay.x": "1"}, "ini key 'delay.x': delay is not a table"),
    ({"rules": "x"}, "ini key 'rules': rules cannot be written in an ini file"),
    ({"models": ""}, "ini key 'models': the model list may not be empty"),
    ({"config": "missing.toml"}, "ini key 'config': /nowhere/missing.toml: cannot read"),
    ({"fixtures": "missing.toml"}, "ini key 'fixtures': /nowhere/missing.toml: cannot read"),
])
def test_bad_values_name_the_ini_key(conf: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        filter_app_factory(app, {"here": "/nowhere"}, **conf)
    assert str(info.value).startswith(message), str(info.value)


def test_bad_config_file_names_the_ini_key_and_the_file(tmp_path: Path) -> None:
    (tmp_path / "mock.toml").write_text("delay = -3\n")
    with pytest.raises(ConfigError) as info:
        filter_app_factory(app, {"here": str(tmp_path)}, config="mock.toml")
    assert str(info.value).startswith(f"ini key 'config': {tmp_path / 'mock.toml'}: key 'delay'")


# -- the example under pserve --------------------------------------------------------------------


@contextlib.contextmanager
def pserve(ini: Path, port: int) -> Iterator[str]:
    cmd = [sys.executable, "-m", "pyramid.scripts.pserve", str(ini)]
    with server_process(cmd, port, pythonpath=(EXAMPLES,)) as server:
        yield server.url


def test_pserve_runs_the_example(tmp_path: Path) -> None:
    # The example's ini, on a free port instead of 6543.
    port = free_port()
    text = INI.read_text()
    assert "listen = 127.0.0.1:6543" in text
    ini = tmp_path / "development.ini"
    ini.write_text(text.replace("listen = 127.0.0.1:6543", f"listen = 127.0.0.1:{port}"))
    with pserve(ini, port) as base, httpx.Client(timeout=10) as c:
        arrivals: list[float] = []
        words: list[str] = []
        parser = SSEParser()
        start = time.monotonic()
        with c.stream("GET", base + "/mock/stream?reply=a+b+c") as r:
            assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
            chunks = r.iter_raw()
            first = next(chunks)
            first_at = time.monotonic() - start
            for chunk in itertools.chain([first], chunks):
                for event in parser.feed(chunk):
                    arrivals.append(time.monotonic() - start)
                    words.append(event.data)
        assert first.startswith(b": ok\n")
        assert words == ["a", "b", "c", "[DONE]"]
        # first_token_delay = 0.2 and delay = 0.1 in the ini: the comment comes first, then the
        # events, spread out (waitress does not buffer them).
        assert first_at < arrivals[0], (first_at, arrivals)
        assert arrivals[-1] - arrivals[0] > 0.2, arrivals
        assert c.get(base + "/hello").json() == {"hello": "from Pyramid"}


def test_paste_app_factory_builds_the_standalone_app(tmp_path: Path) -> None:
    ini = tmp_path / "standalone.ini"
    ini.write_text("[app:main]\nuse = egg:sse-mock\ndelay = 0\nreply = from paste\n")
    app = loadapp(f"config:{ini}")
    assert isinstance(app, SSEMockMiddleware)
    assert app.config.reply == "from paste" and app.config.delay == 0
    ini.write_text("[app:main]\nuse = egg:sse-mock\ndelay = soon\n")
    with pytest.raises(ConfigError, match="ini key 'delay'"):
        loadapp(f"config:{ini}")


# -- config.include("sse_mock.pyramid"): sse_mock.* settings, a tween ------------------------------


def pyramid_app(**settings: str) -> Any:
    from pyramid.config import Configurator

    with Configurator(settings=settings) as config:
        config.include("sse_mock.pyramid")
        config.add_route("hello", "/hello")
        config.add_view(lambda request: {"hello": "from Pyramid"}, route_name="hello",
                        renderer="json")
        return config.make_wsgi_app()


def test_include_with_webtest_and_read_events() -> None:
    from webtest import TestApp

    app = TestApp(pyramid_app(**{"sse_mock.delay": "0", "sse_mock.reply": "from settings",
                                 "sse_mock.echo": "no"}))
    events = read_events(app.get("/mock/stream"))
    assert [e.data for e in events] == ["from", "settings", "[DONE]"]
    r = app.post_json("/mock/v1/chat/completions", {
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]})
    assert r.json["choices"][0]["message"]["content"] == "from settings"
    assert app.get("/hello").json == {"hello": "from Pyramid"}
    assert app.get("/nowhere", status=404).status_int == 404  # Pyramid's own


def test_include_streams_incrementally_on_waitress() -> None:
    app = pyramid_app(**{"sse_mock.delay": "0.15"})
    with serve(app, "waitress") as base, httpx.Client(timeout=10) as c:
        arrivals: list[float] = []
        parser = SSEParser()
        start = time.monotonic()
        with c.stream("GET", base + "/mock/stream?reply=a+b+c") as r:
            assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
            for chunk in r.iter_raw():
                arrivals += [time.monotonic() - start for _ in parser.feed(chunk)]
        assert len(arrivals) == 4 and arrivals[-1] - arrivals[0] > 0.3, arrivals
        assert c.get(base + "/hello").json() == {"hello": "from Pyramid"}


def test_include_disabled_adds_no_tween() -> None:
    from webtest import TestApp

    app = TestApp(pyramid_app(**{"sse_mock.enabled": "off"}))
    app.get("/mock/stream", status=404)


@pytest.mark.parametrize(("settings", "message"), [
    ({"sse_mock.delay": "fast"}, "setting 'sse_mock.delay': expected a number, got 'fast'"),
    ({"sse_mock.delay": "-1"}, "setting 'sse_mock.delay': expected a number from 0"),
    ({"sse_mock.dealy": "1"}, "(did you mean 'sse_mock.delay'?)"),
    ({"sse_mock.echo": "maybe"}, "setting 'sse_mock.echo': expected true/false"),
    ({"sse_mock.cors.origins": "nope"}, "setting 'sse_mock.cors.origins'"),
    ({"sse_mock.config": "missing.toml"}, "setting 'sse_mock.config'"),
])
def test_include_errors_name_the_setting(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        pyramid_app(**settings)
    assert message in str(info.value)


def test_pserve_runs_the_include_example(tmp_path: Path) -> None:
    port = free_port()
    text = (EXAMPLES / "pyramid_app" / "include.ini").read_text()
    ini = tmp_path / "include.ini"
    ini.write_text(text.replace("listen = 127.0.0.1:6543", f"listen = 127.0.0.1:{port}"))
    with pserve(ini, port) as base, httpx.Client(timeout=10) as c:
        with c.stream("GET", base + "/mock/stream?reply=a+b&delay=0") as r:
            body = r.read()
        assert [e.data for e in SSEParser().feed(body)] == ["a", "b", "[DONE]"]
        assert c.get(base + "/mock/stream?delay=0").text.count("data:") == len(REPLY.split()) + 1
        assert c.get(base + "/hello").json() == {"hello": "from Pyramid"}
