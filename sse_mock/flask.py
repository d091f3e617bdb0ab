"""Flask glue: the mock as a Flask extension, configured from ``app.config``.

This module is imported only by Flask apps (``import sse_mock`` never imports Flask). It has no
behaviour of its own: it reads ``app.config`` and passes the values, as keyword options, to
:class:`sse_mock.SSEMockMiddleware`, which it puts around ``app.wsgi_app`` (not ``app``: Flask's
CLI, its test client and ``app(...)`` keep working, and every request outside the mock's prefix
reaches Flask untouched).

.. code-block:: python

    from flask import Flask

    from sse_mock.flask import SSEMock

    app = Flask(__name__)
    app.config["SSE_MOCK_DELAY"] = 0.1
    SSEMock(app)

    # or, in an application factory:
    sse_mock = SSEMock()

    def create_app(test_config=None):
        app = Flask(__name__)
        app.config.from_mapping(test_config or {})
        sse_mock.init_app(app)
        return app

Configuration (``app.config``):

* ``SSE_MOCK``: a mapping of configuration keys, or a path to a TOML/JSON/YAML file: the base.
* ``SSE_MOCK_<KEY>`` for every top-level key (``SSE_MOCK_DELAY``, ``SSE_MOCK_REPLY``,
  ``SSE_MOCK_RULES``, ``SSE_MOCK_CORS`` …); they override the same keys of ``SSE_MOCK``.
* On or off: ``SSE_MOCK_ENABLED`` if set, else ``enabled`` in ``SSE_MOCK`` if it says, else
  *while* ``app.debug`` or ``app.testing`` is true — read per request, so ``flask run --debug``,
  ``app.testing = True`` set after ``init_app`` (as Flask's testing docs do) and
  ``app.test_client()`` all see the mock, and production (``flask run``, gunicorn) does not.

Keyword options given to ``SSEMock(app, delay=0)`` are defaults that ``app.config`` overrides.
Everything is validated in ``init_app``, on or off: a bad value raises
:class:`~sse_mock.config.ConfigError` naming the config key, e.g.
``SSE_MOCK_DELAY: expected a number from 0 to 3600, got -1``.

``app.extensions["sse_mock"].mock`` is the :class:`~sse_mock.SSEMockMiddleware` (its
``journal``, …).

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: when nothing says on or off, the middleware is built at the first request that
    finds ``app.debug`` or ``app.testing`` true (or when ``.mock`` is read), not in
    ``init_app``: a production app never constructs it, so never logs "mock active".
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ._settings import read_settings, translate
from .config import Config, ConfigError, load_config
from .middleware import SSEMockMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["SSEMock"]

BASE_SETTING = "SSE_MOCK"


class SSEMock:
    """The Flask extension: ``SSEMock(app)``, or ``ext = SSEMock()`` then ``ext.init_app(app)``.

    :param app: The Flask app; None to call :meth:`init_app` later (application factories).
    :param options: Configuration keys used as defaults under ``app.config``'s.
    """

    def __init__(self, app: Any = None, **options: Any) -> None:
        self.options = options
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Any) -> None:
        """Validate ``app.config``'s mock settings and mount the mock around ``app.wsgi_app``."""
        config: Mapping[str, Any] = app.config
        base, options, explicit = read_settings(list(config), config.get, BASE_SETTING)
        options = {**self.options, **options}
        explicit = explicit or "enabled" in self.options
        try:
            cfg = load_config(base, **options)
        except ConfigError as exc:
            raise ConfigError(translate(str(exc), base, BASE_SETTING)) from None
        switch = MockSwitch(app, app.wsgi_app, cfg, when_debug=not explicit)
        app.extensions["sse_mock"] = switch
        if cfg.enabled:
            app.wsgi_app = switch


class MockSwitch:
    """What ``init_app`` puts around ``app.wsgi_app``: the mock, on while the app says so."""

    def __init__(self, app: Any, wsgi_app: WSGIApplication, config: Config,
                 when_debug: bool) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.config = config
        self.when_debug = when_debug  # nothing said on or off: on while debug or testing
        self._mock: SSEMockMiddleware | None = None
        self._lock = threading.Lock()
        if not when_debug and config.enabled:
            self._mock = SSEMockMiddleware(wsgi_app, config)

    @property
    def active(self) -> bool:
        """Whether requests reach the mock now."""
        if not self.config.enabled:
            return False
        return not self.when_debug or bool(self.app.debug or self.app.testing)

    @property
    def mock(self) -> SSEMockMiddleware:
        """The middleware (built on first use: Divergence #1)."""
        if self._mock is None:
            with self._lock:
                if self._mock is None:
                    self._mock = SSEMockMiddleware(self.wsgi_app, self.config)
        return self._mock

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.active:
            return self.mock(environ, start_response)
        return self.wsgi_app(environ, start_response)
