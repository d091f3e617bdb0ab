"""The standalone app: the middleware around a tiny app that serves the demo chat page at ``/``
and a JSON 404 for everything else. Used by ``sse-mock serve`` and by any WSGI server::

    gunicorn -k gevent 'sse_mock:create_app()'
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterable, Mapping
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from .config import Config
from .dialects.base import MockError
from .dialects.shapes import PlainShape
from .middleware import SSEMockMiddleware
from .serving import in_gunicorn, in_uwsgi, settle_gc

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["create_app"]


def _demo_page(prefix: str) -> bytes:
    html = files("sse_mock").joinpath("demo/index.html").read_text(encoding="utf-8")
    return html.replace("__SSE_MOCK_PREFIX__", json.dumps(prefix)).encode("utf-8")


#: The 404's JSON: the OpenAI-like error shape of the plain routes (one shape per family).
NOT_FOUND_SHAPE = PlainShape()


class _FallbackApp:
    """``/``: the demo page; anything else: a JSON 404 that names the mock's prefix, suggests the
    route the client probably meant and lists the routes (the SDKs show the message)."""

    page = b""
    prefix = ""
    paths: list[str] = []  # replaced by configure()

    def configure(self, page: bytes, prefix: str, paths: list[str]) -> None:
        self.page = page
        self.prefix = prefix
        self.paths = paths

    def not_found(self, path: str, host: str = "HOST") -> bytes:
        near = _meant(path, self.prefix, self.paths)
        meant = f" Did you mean {near}?" if near else ""
        where = f"under the prefix {self.prefix}" if self.prefix else "at the root"
        message = (f"Not found: {path[:200]} is not an sse_mock route; the mock answers {where} "
                   f"(OpenAI SDK: base_url=\"http://{host}{self.prefix}/v1\", Anthropic SDK: "
                   f"base_url=\"http://{host}{self.prefix}\").{meant} Routes: "
                   + ", ".join(self.paths))
        return NOT_FOUND_SHAPE.error_body(
            MockError(404, message, kind="not_found", code="not_found"), "")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path in ("/", "/index.html") and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                      ("Content-Length", str(len(self.page)))])
            return [] if environ["REQUEST_METHOD"] == "HEAD" else [self.page]
        if path == "/favicon.ico":  # browsers ask for it: no 404 in the demo page's console
            start_response("204 No Content", [("Cache-Control", "max-age=86400")])
            return []
        body = self.not_found(path, str(environ.get("HTTP_HOST") or "HOST")[:100])
        start_response("404 Not Found", [("Content-Type", "application/json"),
                                         ("Content-Length", str(len(body)))])
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]


def _meant(path: str, prefix: str, paths: list[str]) -> str | None:
    """The route a request for `path` probably meant: the same path under the mock's prefix, or
    the closest route (a missing ``/v1``, a typo).

    >>> _meant("/v1/chat/completions", "/mock", ["/mock/stream", "/mock/v1/chat/completions"])
    '/mock/v1/chat/completions'
    """
    if len(path) > 300:
        return None
    for full in paths:
        rest = full[len(prefix):]
        if rest and rest != "/" and (path.endswith(rest) or full.endswith(path)) and path != "/":
            return full
    near = difflib.get_close_matches(path, paths, n=1, cutoff=0.75)
    return near[0] if near else None


def create_app(
    config: Mapping[str, Any] | str | os.PathLike[str] | Config | None = None, **options: Any
) -> SSEMockMiddleware:
    """A standalone WSGI app: the mock, the demo page at ``/``, JSON 404 elsewhere.

    Built in a gunicorn or uWSGI process, it also sets that process's garbage collector up for
    serving (:func:`sse_mock.serving.settle_gc`: open streams are not all scanned by frequent
    full collections); anywhere else (tests, an app of your own) the collector is left alone.
    """
    fallback = _FallbackApp()
    mw = SSEMockMiddleware(fallback, config, **options)
    fallback.configure(_demo_page(mw.config.prefix), mw.config.prefix, mw.paths())
    if in_gunicorn() or in_uwsgi():
        settle_gc()
    return mw
