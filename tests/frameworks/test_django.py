"""Django: ``sse_mock.django.wrap`` and ``Middleware`` with injected settings (unit), a real Django
handler wrapped in-process and served on sockets, and the example project (``MIDDLEWARE``) under
``manage.py runserver``, ``manage.py test`` (test client, LiveServerTestCase,
StaticLiveServerTestCase) and uvicorn (ASGI)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from conftest import free_port, serve, server_process
from django.core.exceptions import ImproperlyConfigured

from sse_mock import SSEMockMiddleware
from sse_mock._parser import SSEParser
from sse_mock.config import DEFAULT_REPLY, SCHEMA
from sse_mock.django import SETTINGS, Middleware, wrap

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "examples" / "django_project"


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"app"]


# -- unit: settings in, keyword options out ---------------------------------------------------


def test_enabled_by_debug() -> None:
    mw = wrap(app, SimpleNamespace(DEBUG=True))
    assert isinstance(mw, SSEMockMiddleware)
    assert mw.app is app


@pytest.mark.parametrize("settings", [
    SimpleNamespace(DEBUG=False),
    SimpleNamespace(),  # no DEBUG at all: Django's default is False
    SimpleNamespace(DEBUG=False, SSE_MOCK_DELAY=0.1),
    SimpleNamespace(DEBUG=True, SSE_MOCK_ENABLED=False),
])
def test_disabled_returns_the_application_itself(settings: Any) -> None:
    assert wrap(app, settings) is app


def test_enabled_setting_overrides_debug() -> None:
    assert isinstance(wrap(app, SimpleNamespace(DEBUG=False, SSE_MOCK_ENABLED=True)),
                      SSEMockMiddleware)


# Issue 9, point 8: explicit beats the DEBUG default.
@pytest.mark.parametrize("base", [{"enabled": False}, "file"])
def test_enabled_false_in_the_config_wins_over_debug(tmp_path: Path, base: Any) -> None:
    if base == "file":
        base = tmp_path / "mock.toml"
        base.write_text("enabled = false\ndelay = 0\n")
    settings = SimpleNamespace(DEBUG=True, SSE_MOCK_CONFIG=base)
    assert wrap(app, settings) is app
    from django.core.exceptions import MiddlewareNotUsed

    with pytest.raises(MiddlewareNotUsed):
        Middleware(lambda request: None, settings)


def test_enabled_true_in_the_config_wins_over_no_debug() -> None:
    settings = SimpleNamespace(DEBUG=False, SSE_MOCK_CONFIG={"enabled": True})
    assert isinstance(wrap(app, settings), SSEMockMiddleware)


def test_the_setting_wins_over_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "mock.toml").write_text("enabled = true\n")
    settings = SimpleNamespace(DEBUG=True, SSE_MOCK_CONFIG=tmp_path / "mock.toml",
                               SSE_MOCK_ENABLED=False)
    assert wrap(app, settings) is app


def test_middleware_reads_the_same_settings() -> None:
    mw = Middleware(lambda request: None, SimpleNamespace(
        DEBUG=True, SSE_MOCK_DELAY=0.25, SSE_MOCK_PREFIX="/llm"))
    assert (mw.mock.config.delay, mw.mock.config.prefix) == (0.25, "/llm")
    with pytest.raises(ImproperlyConfigured, match="SSE_MOCK_DELAY"):
        Middleware(lambda request: None, SimpleNamespace(DEBUG=True, SSE_MOCK_DELAY=-1))


def test_settings_become_options() -> None:
    mw = wrap(app, SimpleNamespace(
        DEBUG=True, SSE_MOCK_DELAY=0.25, SSE_MOCK_PREFIX="/llm", SSE_MOCK_REPLY="hi there",
        SSE_MOCK_CORS={"origins": ["http://localhost:5173"], "credentials": True},
        SSE_MOCK_RULES=[{"match": {"contains": "weather"}, "reply": "sunny"}],
        SSE_MOCK_MODELS=("m1", "m2"), OTHER_SETTING="ignored"))
    assert isinstance(mw, SSEMockMiddleware)
    cfg = mw.config
    assert (cfg.delay, cfg.prefix, cfg.reply, cfg.models) == (0.25, "/llm", "hi there",
                                                              ("m1", "m2"))
    assert cfg.cors.origins == ("http://localhost:5173",) and cfg.cors.credentials
    assert len(cfg.rules) == 1


def test_config_setting_is_the_base(tmp_path: Path) -> None:
    path = tmp_path / "mock.toml"
    path.write_text('delay = 0.3\nreply = "from the file"\n[cors]\norigins = ["http://a.test"]\n')
    mw = wrap(app, SimpleNamespace(DEBUG=True, SSE_MOCK_CONFIG=path, SSE_MOCK_DELAY=0))
    assert isinstance(mw, SSEMockMiddleware)
    assert (mw.config.delay, mw.config.reply) == (0.0, "from the file")  # the setting wins
    assert mw.config.cors.origins == ("http://a.test",)
    mw = wrap(app, SimpleNamespace(DEBUG=True, SSE_MOCK_CONFIG={"reply": "from a dict"}))
    assert isinstance(mw, SSEMockMiddleware)
    assert mw.config.reply == "from a dict"


def test_every_configuration_key_has_a_setting() -> None:
    assert sorted(SETTINGS.values()) == sorted(k.name for k in SCHEMA)
    assert SETTINGS["SSE_MOCK_FIRST_TOKEN_DELAY"] == "first_token_delay"


@pytest.mark.parametrize(("settings", "message"), [
    ({"SSE_MOCK_DELAY": -1}, "SSE_MOCK_DELAY: expected a number from 0 to 3600, got -1"),
    ({"SSE_MOCK_DELAY": "fast"}, "SSE_MOCK_DELAY: expected a number"),
    ({"SSE_MOCK_ENABLED": "yes"}, "SSE_MOCK_ENABLED: expected true or false, got 'yes'"),
    ({"SSE_MOCK_PREFIX": "mock"}, "SSE_MOCK_PREFIX: expected a path like"),
    ({"SSE_MOCK_CORS": {"origins": ["localhost"]}}, "SSE_MOCK_CORS['origins']: 'localhost'"),
    ({"SSE_MOCK_CORS": {"origin": "*"}}, "SSE_MOCK_CORS: unknown key 'origin'"),
    ({"SSE_MOCK_CORS": "*"}, "SSE_MOCK_CORS: expected a table"),
    ({"SSE_MOCK_CHAOS": {"nope": 0.1}}, "SSE_MOCK_CHAOS['nope']: unknown fault 'nope'"),
    ({"SSE_MOCK_RULES": [{"match": {"contain": "x"}}]},
     "SSE_MOCK_RULES[0].match: unknown key 'contain' (did you mean 'contains'?)"),
    ({"SSE_MOCK_CONFIG": {"dleay": 1}}, "SSE_MOCK_CONFIG['dleay'] is unknown (did you mean"),
    ({"SSE_MOCK_CONFIG": {"cors": {"max_age": -5}}}, "SSE_MOCK_CONFIG['cors']['max_age']: "),
    ({"SSE_MOCK_CONFIG": 42}, "SSE_MOCK_CONFIG: expected a mapping, a path"),
    ({"SSE_MOCK_CONFIG": "/nonexistent/mock.toml"},
     "SSE_MOCK_CONFIG: /nonexistent/mock.toml: cannot read"),
])
def test_bad_values_name_the_setting(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        wrap(app, SimpleNamespace(DEBUG=True, **settings))
    assert str(info.value).startswith(message), str(info.value)


def test_bad_values_fail_even_when_disabled() -> None:
    # Validated in every environment, so production settings are checked too.
    with pytest.raises(ImproperlyConfigured, match="^SSE_MOCK_DELAY: "):
        wrap(app, SimpleNamespace(DEBUG=False, SSE_MOCK_DELAY=-1))


@pytest.mark.parametrize(("name", "hint"), [
    ("SSE_MOCK_DELAYS", "SSE_MOCK_DELAY"),
    ("SSE_MOCK_CROS", "SSE_MOCK_CORS"),
    ("SSE_MOCK_FIRST_TOKEN_DEALY", "SSE_MOCK_FIRST_TOKEN_DELAY"),
    ("SSE_MOCK_CONFIGS", "SSE_MOCK_CONFIG"),
    ("SSE_MOCKDELAY", "SSE_MOCK_DELAY"),
])
def test_typo_in_a_setting_name_has_a_hint(name: str, hint: str) -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        wrap(app, SimpleNamespace(DEBUG=True, **{name: 1}))
    assert str(info.value).startswith(f"{name} is not an sse_mock setting (did you mean {hint}?)")


def test_import_sse_mock_imports_no_framework() -> None:
    # Compared with the modules present at start-up: PasteDeploy's *-nspkg.pth imports the
    # empty `paste` namespace package in every interpreter.
    code = ("import sys; before = set(sys.modules); import sse_mock, sse_mock.paste; "
            "print(sorted({m.split('.')[0] for m in set(sys.modules) - before} & "
            "{'django', 'flask', 'pyramid', 'paste', 'webob'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=30, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "[]"


# -- a real Django handler, in this process ----------------------------------------------------


@pytest.fixture(scope="module")
def django_handler() -> Any:
    from django.conf import settings

    if not settings.configured:  # settings.configure() works once per process
        sys.path.insert(0, str(PROJECT))
        settings.configure(
            DEBUG=False, SECRET_KEY="test", ALLOWED_HOSTS=["127.0.0.1", "localhost"],
            ROOT_URLCONF="mysite.urls", INSTALLED_APPS=[], MIDDLEWARE=[], DATABASES={},
            USE_TZ=True)
    elif settings.ROOT_URLCONF != "mysite.urls":  # pragma: no cover
        pytest.skip("Django settings were configured differently earlier in this process")
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def test_real_settings_with_debug_false_leave_the_handler_untouched(django_handler: Any) -> None:
    assert wrap(django_handler) is django_handler  # default: django.conf.settings, DEBUG=False


def test_wrapped_django_streams_and_still_routes(django_handler: Any, server_kind: str) -> None:
    wrapped = wrap(django_handler, SimpleNamespace(DEBUG=True, SSE_MOCK_DELAY=0))
    assert isinstance(wrapped, SSEMockMiddleware) and wrapped.app is django_handler
    with serve(wrapped, server_kind) as base:
        assert_streams(base, DEFAULT_REPLY.split())
        r = httpx.get(base + "/hello/", timeout=10)
        assert (r.status_code, r.json()) == (200, {"hello": "from Django"})
        assert httpx.get(base + "/nowhere/", timeout=10).status_code == 404  # Django's


def assert_streams(base: str, words: list[str], headers: dict[str, str] | None = None) -> None:
    """GET /mock/stream: the words in order, then [DONE], as text/event-stream."""
    with httpx.Client(timeout=10, headers=headers) as c, \
            c.stream("GET", base + "/mock/stream?delay=0") as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        body = b"".join(r.iter_raw())
    assert [e.data for e in SSEParser().feed(body)] == [*words, "[DONE]"]


# -- the example project: `python manage.py runserver` -----------------------------------------


@contextlib.contextmanager
def runserver() -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    with server_process(cmd, port, cwd=PROJECT, drop_env=("DJANGO_SETTINGS_MODULE",)) as server:
        yield server.url


def test_example_project_runserver_streams_the_mock() -> None:
    with runserver() as base:
        reply = "Hello from the Django example! This reply is mocked."
        assert_streams(base, reply.split(), headers={"Origin": "http://localhost:5173"})
        # SSE_MOCK_DELAY = 0.1 in settings.py: the events arrive spread out, not at the end.
        parser = SSEParser()
        arrivals: list[float] = []
        start = time.monotonic()
        with httpx.Client(timeout=10) as c, \
                c.stream("GET", base + "/mock/stream?reply=a+b+c+d",
                         headers={"Origin": "http://localhost:5173"}) as r:
            # SSE_MOCK_CORS = {"origins": ["http://localhost:5173"]}
            assert r.headers["access-control-allow-origin"] == "http://localhost:5173"
            for chunk in r.iter_raw():
                arrivals += [time.monotonic() - start for _ in parser.feed(chunk)]
        assert len(arrivals) == 5
        assert arrivals[-1] - arrivals[0] > 0.25, arrivals
        r = httpx.get(base + "/hello/", timeout=10)
        assert (r.status_code, r.json()) == (200, {"hello": "from Django"})


# -- the middleware where only MIDDLEWARE reaches: the test client, live servers, ASGI --------


def test_example_project_tests_use_the_mock_from_the_test_client_and_live_servers() -> None:
    # mysite/tests.py: the test client, LiveServerTestCase and StaticLiveServerTestCase.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    out = subprocess.run([sys.executable, "manage.py", "test", "mysite", "-v", "2"], cwd=PROJECT,
                         env=env, capture_output=True, text=True, timeout=120)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    for name in ("test_the_test_client_streams_the_mock", "test_the_live_server_streams_the_mock",
                 "test_the_static_live_server_streams_the_mock"):
        assert f"{name} " in log and "ok" in log, log
    assert "Ran 5 tests" in log
    assert "one request at a time" not in log  # the test client is no single-threaded server


def test_example_project_under_uvicorn_streams_incrementally() -> None:
    # ASGI: Django would consume a synchronous iterator whole before sending a byte.
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "mysite.asgi:application", "--port", str(port),
           "--log-level", "warning"]
    with server_process(cmd, port, cwd=PROJECT, pythonpath=(PROJECT,),
                        drop_env=("DJANGO_SETTINGS_MODULE",)) as server:
        base = server.url
        parser = SSEParser()
        arrivals: list[tuple[float, str]] = []
        start = time.monotonic()
        with httpx.Client(timeout=10) as c, \
                c.stream("GET", base + "/mock/stream?reply=a+b+c+d&delay=0.2") as r:
            assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
            for chunk in r.iter_raw():
                arrivals += [(time.monotonic() - start, e.data) for e in parser.feed(chunk)]
        assert [data for _, data in arrivals] == ["a", "b", "c", "d", "[DONE]"]
        assert arrivals[-1][0] - arrivals[0][0] > 0.6, arrivals  # spread out, not at the end
        r = httpx.post(base + "/mock/v1/chat/completions", timeout=10, json={
            "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]})
        assert r.json()["choices"][0]["message"]["content"].startswith("Hello from the Django")
        r = httpx.get(base + "/hello/", timeout=10)
        assert (r.status_code, r.json()) == (200, {"hello": "from Django"})
        # Two slow streams at once: neither waits for the other (one thread per stream).
        with httpx.Client(timeout=10) as c, \
                c.stream("GET", base + "/mock/stream?reply=x+y+z&delay=0.3") as r1, \
                c.stream("GET", base + "/mock/stream?reply=x+y+z&delay=0.3") as r2:
            t0 = time.monotonic()
            b1, b2 = r1.read(), r2.read()
            assert time.monotonic() - t0 < 2.2  # one after the other: 2.4 s or more
        assert b1.count(b"data:") == b2.count(b"data:") == 4
        # A client that leaves mid-stream: the mock's generator is closed (its journal says so).
        with httpx.Client(timeout=10) as c:
            with c.stream("GET", base + "/mock/stream?reply=a+b+c+d+e+f&delay=0.3") as r:
                chunks = r.iter_raw()
                next(chunks)
            deadline = time.monotonic() + 5
            while True:
                outcomes = [e["outcome"] for e in c.get(base + "/mock/_journal").json()["data"]]
                if outcomes and outcomes[-1] == "client went away":
                    break
                assert time.monotonic() < deadline, outcomes
                time.sleep(0.1)
    assert "Traceback" not in server.final_log and "must consume" not in server.final_log
