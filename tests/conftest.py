"""Shared test fixtures: real WSGI servers on loopback sockets, and WSGI helpers."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import wsgiref.simple_server
import wsgiref.util
import wsgiref.validate
from collections.abc import Callable, Iterator
from socketserver import ThreadingMixIn
from typing import Any

import pytest

SERVERS = ("werkzeug", "waitress", "wsgiref")


class _ThreadingWSGIServer(ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serve(app: Callable[..., Any], kind: str = "werkzeug") -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (a free port) in a thread; yield the base URL."""
    if kind == "werkzeug":
        from werkzeug.serving import make_server

        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.port}"
        finally:
            server.shutdown()
            server.server_close()
    elif kind == "waitress":
        from webtest.http import StopableWSGIServer

        # No port=0 here: webtest then reports port 0 in application_url. And no ws.wait():
        # its probe leaves a socket open (a ResourceWarning); poll the port instead.
        ws = StopableWSGIServer.create(app, host="127.0.0.1", threads=8)
        try:
            wait_for_port("127.0.0.1", int(ws.adj.port))
            yield ws.application_url.rstrip("/")
        finally:
            ws.shutdown()
    elif kind == "wsgiref":
        server = wsgiref.simple_server.make_server(
            "127.0.0.1", 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            server.server_close()
    else:  # pragma: no cover
        raise ValueError(kind)


@pytest.fixture(params=SERVERS)
def server_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def validated(app: Callable[..., Any]) -> Callable[..., Any]:
    """`app` under wsgiref.validate plus an explicit hop-by-hop check (PEP 3333)."""
    inner = wsgiref.validate.validator(app)

    def checked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def sr(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            for name, _ in headers:
                assert not wsgiref.util.is_hop_by_hop(name), f"hop-by-hop header {name}"
            return start_response(status, headers, exc_info)

        return inner(environ, sr)

    return checked


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    """Poll until something accepts connections on (host, port)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
