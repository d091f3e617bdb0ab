"""The pytest plugin: registered on install (the ``pytest11`` entry point ``sse_mock``).

.. code-block:: python

    import pytest
    from sse_mock.testing import openai_client

    @pytest.mark.sse_mock(rules=[{"match": {"contains": "weather"}, "reply": "Sunny."}])
    def test_weather(sse_mock):                 # in-process, fresh per test
        client = openai_client(sse_mock)
        ...
        sse_mock.assert_called_once(model="gpt-4o*", contains="weather")

    def test_my_app(sse_mock_server):           # a live server; OPENAI_BASE_URL points at it
        my_app_code_that_builds_its_own_OpenAI_client()
        sse_mock_server.assert_called(2)
        sse_mock_server.assert_resilient()

* Marker ``@pytest.mark.sse_mock(config=None, **options)``: the test's configuration, as
  :class:`~sse_mock.SSEMockMiddleware` takes it (a mapping or a file path, relative paths
  from the test file's folder, plus single keys). Markers on the module, class and test merge,
  the nearest winning key by key.
* Fixture ``sse_mock``: a :class:`MockApp` (an :class:`~sse_mock.SSEMockMiddleware` around a
  JSON 404 app, with the journal assertions of :class:`~sse_mock.calls.Expectations`).
* Fixture ``sse_mock_server``: a :class:`LiveServer` — one threaded werkzeug server per test
  session (per xdist worker) on a free loopback port, given a fresh mock built from the
  test's marker before each test. For the test's duration ``OPENAI_BASE_URL``,
  ``ANTHROPIC_BASE_URL``, ``OPENAI_API_KEY`` and ``ANTHROPIC_API_KEY`` point at it.
* ``--sse-mock-url URL``: use a mock that is already running (one server for several xdist
  workers or Playwright workers) instead: each test then gets its own session
  (``sse_mock_server.session``, ``.headers``), reset before the test.

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: the plugin's default configuration is ``delay = 0`` (the package default, 0.5 s
    per token, is for humans watching a page): tests are fast unless a marker asks otherwise.
Divergence #2: nothing but the standard library, pytest and sse_mock's own modules is imported
    when pytest loads the plugin; werkzeug is imported by the first test that asks for the live
    server, the SDKs never (``python -X importtime`` checks it in the tests).
Divergence #3: with ``--sse-mock-url`` a test with a marker is skipped (with the reason), not
    run with the marker ignored: the configuration of a server started elsewhere cannot change
    per test. Queue answers with ``sse_mock_server.next(...)`` in tests meant for both.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .calls import Expectations, MockControl, Record
from .config import ConfigError
from .dialects.base import MockError
from .dialects.shapes import PlainShape
from .middleware import SSEMockMiddleware

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["LiveServer", "MockApp", "mock_config"]

#: Divergence #1.
DEFAULTS: dict[str, Any] = {"delay": 0.0}
#: Dummy keys: the SDKs refuse to start without one; the mock accepts any.
DUMMY_KEYS = {"OPENAI_API_KEY": "sk-sse-mock", "ANTHROPIC_API_KEY": "sk-ant-sse-mock"}
MARKER_HELP = ("sse_mock(config=None, **options): configure the test's sse_mock (the "
               "`sse_mock` and `sse_mock_server` fixtures): a mapping or a TOML/JSON file, "
               "plus single keys, e.g. @pytest.mark.sse_mock(delay=0.1, rules=[...])")


def not_found(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The app behind the test's mock: a JSON 404 for every path the mock does not answer."""
    path = str(environ.get("PATH_INFO") or "/")
    body = PlainShape().error_body(MockError(
        404, f"Not found: {path[:200]} (sse_mock test server)", kind="not_found",
        code="not_found"), "")
    start_response("404 Not Found", [("Content-Type", "application/json"),
                                     ("Content-Length", str(len(body)))])
    return [body]


class MockApp(SSEMockMiddleware, Expectations):
    """The mock of one test: an :class:`~sse_mock.SSEMockMiddleware` around a JSON 404 app,
    with journal assertions."""

    def __init__(self, config: Any = None, **options: Any) -> None:
        super().__init__(not_found, config, **options)

    def journal_records(self) -> list[Record]:
        return [e.to_dict() for e in self.journal.entries()]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sse_mock")
    group.addoption(
        "--sse-mock-url", default=os.environ.get("SSE_MOCK_URL"), metavar="URL",
        help="sse_mock_server: use the mock running at URL (e.g. http://127.0.0.1:8001) "
        "instead of starting one; each test gets its own session. Default: $SSE_MOCK_URL.")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)


def mock_config(node: pytest.Item) -> dict[str, Any]:
    """The configuration the ``sse_mock`` markers of `node` give (module, class, test: the
    nearest wins key by key), over the plugin's defaults."""
    merged: dict[str, Any] = dict(DEFAULTS)
    base = Path(str(node.path)).parent
    for marker in reversed(list(node.iter_markers("sse_mock"))):
        if len(marker.args) > 1:
            raise pytest.UsageError(f"{node.nodeid}: @pytest.mark.sse_mock takes at most one "
                                    "positional argument (a mapping or a file)")
        config = marker.kwargs.get("config", marker.args[0] if marker.args else None)
        if isinstance(config, str | os.PathLike):
            from .config import load_file

            path = Path(config)
            try:
                config = load_file(path if path.is_absolute() else base / path)
            except ConfigError as exc:
                pytest.fail(f"@pytest.mark.sse_mock: {exc}", pytrace=False)
        if config is not None:
            if not isinstance(config, Mapping):
                pytest.fail(f"@pytest.mark.sse_mock: config must be a mapping or a file path, "
                            f"got {type(config).__name__}", pytrace=False)
            merged.update(config)
        merged.update({k: v for k, v in marker.kwargs.items() if k != "config"})
    return merged


def _build(node: pytest.Item) -> MockApp:
    try:
        return MockApp(mock_config(node))
    except ConfigError as exc:
        pytest.fail(f"@pytest.mark.sse_mock: {exc}", pytrace=False)


@pytest.fixture
def sse_mock(request: pytest.FixtureRequest) -> MockApp:
    """The test's mock, in process: a fresh :class:`MockApp` configured by the marker."""
    return _build(request.node)


# -- the live server ------------------------------------------------------------------------


class _Current:
    """The WSGI app the server runs: whichever mock the current test installed. A stream that
    a previous test left open goes on with the mock it started with."""

    def __init__(self) -> None:
        self.app: MockApp | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        app = self.app
        if app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"sse_mock_server: no test is running\n"]
        return app(environ, start_response)


class _Server:
    """A threaded werkzeug server on a free loopback port (every request its own thread, so
    streams run concurrently)."""

    def __init__(self) -> None:
        from werkzeug.serving import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                pass  # one line per request is noise in a test run; errors are still logged

        self.current = _Current()
        self.httpd = make_server("127.0.0.1", 0, self.current, threaded=True,
                                 request_handler=Quiet)
        self.url = f"http://127.0.0.1:{self.httpd.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       name="sse_mock_server", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class LiveServer(Expectations):
    """The ``sse_mock_server`` fixture: a mock behind a real socket.

    ``url`` is the server's origin; ``base`` adds the prefix; ``openai_base_url`` and
    ``anthropic_base_url`` are what the SDKs' ``base_url`` (and ``OPENAI_BASE_URL`` /
    ``ANTHROPIC_BASE_URL``) take. ``app`` is the :class:`MockApp` it serves (None when the
    server runs elsewhere, ``--sse-mock-url``). ``session`` names the test's session ("" on a
    server of its own), ``headers`` puts a client's requests in it, ``cookie`` does the same for
    a browser page (Playwright's ``context.add_cookies([server.cookie])``).
    ``next()``, ``reset()`` and ``control`` speak the control API (:class:`MockControl`).
    """

    def __init__(self, url: str, app: MockApp | None, session: str = "",
                 prefix: str = "/mock") -> None:
        self.url = url.rstrip("/")
        self.app = app
        self.prefix = app.config.prefix if app is not None else prefix
        self.session = session
        self.control = MockControl(self.url, prefix=self.prefix, session=session)

    @property
    def base(self) -> str:
        return self.url + self.prefix

    @property
    def openai_base_url(self) -> str:
        return self.base + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.base

    @property
    def headers(self) -> dict[str, str]:
        return self.control.headers

    @property
    def cookie(self) -> dict[str, str]:
        """The ``sse_mock_session`` cookie for this server's origin (Playwright's shape)."""
        return {"name": "sse_mock_session", "value": self.session, "url": self.url}

    def journal_records(self) -> list[Record]:
        if self.app is not None and not self.session:
            return [e.to_dict() for e in self.app.journal.entries()]
        return self.control.journal_records()

    def next(self, *actions: Mapping[str, Any], match: Mapping[str, Any] | None = None,
             **action: Any) -> Any:
        """Queue the next answers of this test (:meth:`MockControl.next`)."""
        return self.control.next(*actions, match=match, **action)

    def reset(self) -> None:
        """Restart this test's journal, cycles, sequences and queue."""
        self.control.reset()

    def __repr__(self) -> str:
        return f"<LiveServer {self.base} session={self.session!r}>"


@pytest.fixture(scope="session")
def _sse_mock_live(request: pytest.FixtureRequest) -> Iterator[_Server | str]:
    """The session's server: one of our own, or the URL of one that runs elsewhere."""
    url = request.config.getoption("--sse-mock-url", None)
    if url:
        yield str(url)
        return
    server = _Server()
    try:
        yield server
    finally:
        server.close()


_counter = itertools.count(1)


@pytest.fixture
def sse_mock_server(
    request: pytest.FixtureRequest, _sse_mock_live: _Server | str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveServer]:
    """A live mock for this test (see :class:`LiveServer`), with the SDKs' environment
    variables pointing at it for the test's duration."""
    if isinstance(_sse_mock_live, str):
        if request.node.get_closest_marker("sse_mock") is not None:
            pytest.skip("@pytest.mark.sse_mock cannot configure a server started elsewhere "
                        "(--sse-mock-url); queue answers with sse_mock_server.next(...) "
                        "in tests meant for both")
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        session = f"{worker}-{os.getpid()}-{next(_counter)}"
        server = LiveServer(_sse_mock_live, None, session)
        server.reset()
    else:
        app = _build(request.node)
        _sse_mock_live.current.app = app
        server = LiveServer(_sse_mock_live.url, app)
    monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_base_url)
    for name, value in DUMMY_KEYS.items():
        monkeypatch.setenv(name, value)
    yield server
