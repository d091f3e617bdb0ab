"""The standalone app: the middleware around a tiny app that serves the demo chat page at ``/``
and a JSON 404 for everything else. Used by ``sse-mock serve`` and by any WSGI server::

    gunicorn -k gevent 'sse_mock:create_app()'
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from .config import Config
from .middleware import SSEMockMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["create_app"]


def _demo_page(prefix: str) -> bytes:
    html = files("sse_mock").joinpath("demo/index.html").read_text(encoding="utf-8")
    return html.replace("__SSE_MOCK_PREFIX__", json.dumps(prefix)).encode("utf-8")


class _FallbackApp:
    """``/``: the demo page; anything else: a JSON 404 naming the mock's routes."""

    page = b""
    not_found = b""

    def configure(self, page: bytes, paths: list[str]) -> None:
        self.page = page
        self.not_found = json.dumps({"error": {
            "message": "Not found. sse_mock answers: " + ", ".join(paths),
            "type": "invalid_request_error", "param": None, "code": "not_found"}}).encode()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path in ("/", "/index.html") and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                      ("Content-Length", str(len(self.page)))])
            return [] if environ["REQUEST_METHOD"] == "HEAD" else [self.page]
        start_response("404 Not Found", [("Content-Type", "application/json"),
                                         ("Content-Length", str(len(self.not_found)))])
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [self.not_found]


def create_app(
    config: Mapping[str, Any] | str | os.PathLike[str] | Config | None = None, **options: Any
) -> SSEMockMiddleware:
    """A standalone WSGI app: the mock, the demo page at ``/``, JSON 404 elsewhere."""
    fallback = _FallbackApp()
    mw = SSEMockMiddleware(fallback, config, **options)
    fallback.configure(_demo_page(mw.config.prefix), mw.paths())
    return mw
