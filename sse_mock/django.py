"""Django glue: mount the mock from ``SSE_MOCK_*`` settings, as a Django middleware or as a WSGI
wrap.

This module is imported only by Django projects (``import sse_mock`` never imports Django). It has
no behaviour of its own: it reads the settings and passes them, as keyword options, to
:class:`sse_mock.SSEMockMiddleware`, so everything the mock does is documented in one place.

**The Django middleware** (recommended): it runs wherever Django's request handler runs —
``manage.py runserver``, the test client, ``LiveServerTestCase`` / ``StaticLiveServerTestCase``,
any WSGI server, and Django under ASGI (uvicorn, daphne):

.. code-block:: python

    # mysite/settings.py
    MIDDLEWARE = [
        "sse_mock.django.Middleware",   # first: nothing else touches the mock's answers
        "django.middleware.security.SecurityMiddleware",
        # …
    ]

**The WSGI wrap**: the mock in front of Django, so its requests never reach Django at all; only
where the ``WSGI_APPLICATION`` object is served (runserver, gunicorn, waitress — not the test
client, the live-server tests or ASGI):

.. code-block:: python

    # mysite/wsgi.py
    from django.core.wsgi import get_wsgi_application

    from sse_mock.django import wrap

    application = wrap(get_wsgi_application())

Settings (the same for both):

.. code-block:: python

    # mysite/settings.py
    DEBUG = True                  # the mock is on only when DEBUG is true ...
    SSE_MOCK_ENABLED = True       # ... unless this (or `enabled` in SSE_MOCK_CONFIG) says so
    SSE_MOCK_DELAY = 0.1          # one setting per top-level configuration key
    SSE_MOCK_CORS = {"origins": ["http://localhost:5173"]}
    SSE_MOCK_CONFIG = BASE_DIR / "mock.toml"   # optional base: a path or a mapping

* ``SSE_MOCK_<KEY>`` for every top-level key of the configuration (``SSE_MOCK_DELAY``,
  ``SSE_MOCK_PREFIX``, ``SSE_MOCK_REPLY``, ``SSE_MOCK_CORS`` (a dict), ``SSE_MOCK_RULES``, …);
  they override the same keys of ``SSE_MOCK_CONFIG``.
* ``SSE_MOCK_CONFIG``: a path to a TOML/JSON/YAML file, or a mapping, used as the base.
* On or off: ``SSE_MOCK_ENABLED`` if set, else ``enabled`` in ``SSE_MOCK_CONFIG`` if it says,
  else ``DEBUG``. Explicit beats the default: ``enabled = false`` in the file keeps the mock off
  under ``DEBUG = True``. Disabled, :func:`wrap` returns the application object itself and the
  middleware raises ``MiddlewareNotUsed`` (Django then leaves it out of the chain).

The settings are validated even when the mock is disabled, so a typo fails at start-up in every
environment. A bad value raises :class:`django.core.exceptions.ImproperlyConfigured` naming the
setting, e.g. ``SSE_MOCK_DELAY: expected a number from 0 to 3600, got -1``; an unknown
``SSE_MOCK_*`` name raises it with a "did you mean" hint.

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: the middleware hands the request to the mock as a WSGI environ (the request's own
    environ under WSGI, one built from ``request.META`` under ASGI; ``SSEMockMiddleware.answer``)
    and turns the answer into a Django response: one code path, the same bytes as the wrap. A
    request the mock does not answer goes on to ``get_response`` untouched.
Divergence #2: under ASGI a stream is an *asynchronous* iterator whose every chunk is pulled
    from the mock's generator on one thread of the stream's own (the pacing sleeps there, never
    on the event loop). Django consumes a synchronous iterator under ASGI whole before sending
    a byte (``StreamingHttpResponse.__aiter__``), which would turn every stream into one late
    answer. An injected ``disconnect_after`` ends such a stream early without a terminator
    (the journal says "fault"): an ASGI application cannot drop the socket itself.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from . import middleware
from ._settings import PREFIX, SETTINGS, read_settings, translate
from .config import ConfigError, load_config
from .faults import StreamAbort

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["SETTINGS", "Middleware", "wrap"]

CONFIG_SETTING = PREFIX + "CONFIG"


def _settings(settings: Any) -> Any:
    if settings is None:
        from django.conf import settings as django_settings  # type: ignore[import-untyped, unused-ignore]

        return django_settings
    return settings


def options_from(settings: Any) -> tuple[Any, dict[str, Any]]:
    """``(SSE_MOCK_CONFIG, keyword options)`` from `settings`, ``enabled`` decided.

    ``enabled``: ``SSE_MOCK_ENABLED``, else the base's own ``enabled``, else ``DEBUG``.

    >>> from types import SimpleNamespace as S
    >>> options_from(S(DEBUG=True, SSE_MOCK_CONFIG={"enabled": False}, SSE_MOCK_DELAY=0))
    ({'enabled': False}, {'delay': 0})
    >>> options_from(S(DEBUG=True))
    (None, {'enabled': True})
    """
    try:
        base, options, explicit = read_settings(
            dir(settings), lambda name: getattr(settings, name), CONFIG_SETTING)
    except ConfigError as exc:
        raise _improperly_configured(str(exc)) from None
    if not explicit:
        options["enabled"] = bool(getattr(settings, "DEBUG", False))
    return base, options


def wrap(application: WSGIApplication, settings: Any = None) -> WSGIApplication:
    """Wrap `application` in the mock as the ``SSE_MOCK_*`` settings say.

    :param application: The WSGI application to wrap (``get_wsgi_application()``).
    :param settings: An object with the settings as attributes; default
        ``django.conf.settings`` (tests inject a ``types.SimpleNamespace``).
    :returns: The middleware, or `application` itself when the mock is disabled.
    """
    base, options = options_from(_settings(settings))
    try:
        return middleware.wrap(application, base, **options)
    except ConfigError as exc:
        raise _improperly_configured(_translate(str(exc), base)) from None


class Middleware:
    """The mock as a Django middleware: ``MIDDLEWARE = ["sse_mock.django.Middleware", …]``.

    :param get_response: The rest of Django's chain (Django passes it).
    :param settings: An object with the settings as attributes; default
        ``django.conf.settings``.

    ``mock`` is the :class:`~sse_mock.SSEMockMiddleware` (its ``journal``, ``scenario``, …).
    """

    sync_capable = True
    async_capable = False  # Django runs it in a thread under ASGI (Divergence #2)

    def __init__(self, get_response: Any, settings: Any = None) -> None:
        base, options = options_from(_settings(settings))
        try:
            config = load_config(base, **options)
        except ConfigError as exc:
            raise _improperly_configured(_translate(str(exc), base)) from None
        if not config.enabled:
            from django.core.exceptions import MiddlewareNotUsed  # type: ignore[import-untyped, unused-ignore]

            raise MiddlewareNotUsed("sse_mock is disabled (SSE_MOCK_ENABLED / DEBUG)")
        self.get_response = get_response
        self.mock = middleware.SSEMockMiddleware(middleware.glue_app, config)

    def __call__(self, request: Any) -> Any:
        from django.http import HttpResponse, StreamingHttpResponse  # type: ignore[import-untyped, unused-ignore]

        answer = self.mock.answer(_environ(request))
        if answer is None:  # not the mock's: Django's own chain, untouched
            return self.get_response(request)
        status, headers, body = answer
        code, _, reason = status.partition(" ")
        response: Any
        if isinstance(body, list | tuple):
            response = HttpResponse(b"".join(body), status=int(code), reason=reason)
        else:
            content = _AsyncChunks(body) if _is_asgi(request) else body
            response = StreamingHttpResponse(content, status=int(code), reason=reason)
        seen: dict[str, str] = {}
        for name, value in headers:
            key = name.lower()
            seen[key] = f"{seen[key]}, {value}" if key in seen else value
            response.headers[name] = seen[key]
        if "content-type" not in seen:
            del response.headers["Content-Type"]  # e.g. a 204: no Django default either
        return response


def _is_asgi(request: Any) -> bool:
    return "wsgi.input" not in request.META


def _environ(request: Any) -> dict[str, Any]:
    """A WSGI environ for `request`: its own (WSGI), or one built from META (ASGI)."""
    environ = dict(request.META)
    if _is_asgi(request) or getattr(request, "_read_started", False):
        body = request.body  # already received (ASGI) or read by a middleware before this one
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
    if type(request.META.get("wsgi.input")).__name__ == "FakePayload":
        # Django's test client, in this process: no server, no other workers. It says
        # multiprocess=True and REMOTE_ADDR=127.0.0.1, which the mock reads as a real server's.
        environ.pop("REMOTE_ADDR", None)
        environ["wsgi.multiprocess"] = False
    if _is_asgi(request):
        environ.setdefault("SCRIPT_NAME", "")
        environ.update({"wsgi.version": (1, 0), "wsgi.url_scheme": request.scheme,
                        "wsgi.errors": sys.stderr, "wsgi.multithread": True,
                        "wsgi.multiprocess": False, "wsgi.run_once": False})
    return environ


class _AsyncChunks:
    """A stream's chunks as an async iterator for Django under ASGI (Divergence #2).

    One worker thread per stream pulls the next chunk (the pacing sleeps there), so streams never
    wait for each other in a shared pool; ``close()`` (Django calls it when the response ends or
    the client leaves) closes the mock's generator on that same thread, after any pending pull.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._source = chunks
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="sse_mock-stream")
        self._closed = False

    def __aiter__(self) -> _AsyncChunks:
        return self

    async def __anext__(self) -> bytes:
        if self._closed:
            raise StopAsyncIteration
        loop = asyncio.get_running_loop()
        chunk = await loop.run_in_executor(self._thread, _next_chunk, self._chunks)
        if chunk is None:
            self.close()
            raise StopAsyncIteration
        return chunk

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._thread.submit(_close, self._source)
            self._thread.shutdown(wait=False)


def _next_chunk(chunks: Iterator[bytes]) -> bytes | None:
    try:
        return next(chunks)
    except (StopIteration, StreamAbort):
        return None


def _close(it: Any) -> None:
    close = getattr(it, "close", None)
    if close is not None:
        close()


def _translate(message: str, base: Any) -> str:
    """Name the Django setting instead of the configuration key in a ConfigError message.

    >>> _translate("options: key 'delay': expected a number ≥ 0, got -1", None)
    'SSE_MOCK_DELAY: expected a number ≥ 0, got -1'
    >>> _translate("options: key 'cors.origins': 'x' is not an origin", None)
    "SSE_MOCK_CORS['origins']: 'x' is not an origin"
    """
    return translate(message, base, CONFIG_SETTING)


def _improperly_configured(message: str) -> Exception:
    from django.core.exceptions import (  # type: ignore[import-untyped, unused-ignore]
        ImproperlyConfigured,
    )

    error: Exception = ImproperlyConfigured(message)
    return error
