"""The server behind ``sse-mock serve``: gevent's WSGI server when gevent is installed (the
``serve`` extra: ``pip install "sse-mock[serve]"``), else werkzeug's threaded server.

gevent's ``pywsgi`` runs every connection as a greenlet on one event loop: HTTP/1.1 keep-alive,
chunked streams, and thousands of open paced streams in one process for the memory of a few
kilobytes each (bench/results/load.md). Without gevent, werkzeug serves one thread per connection
and one response per connection — fine for a page and a test suite, not for thousands of streams
— and says so on start-up.

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: ``use_gevent()`` monkey-patches the process (``gevent.monkey.patch_all()``) before
    the app is built. Only the CLI calls it: importing ``sse_mock`` never patches anything. The
    patch is what lets the pacer's ``time.sleep`` (looked up when each stream starts) and any
    socket the app opens (Redis state, upstream recording) yield to the loop instead of
    blocking every stream (PROTOCOLS.md §5.4: the server, not the app, owns the connection).
Divergence #2: the soft limit on open files is raised to the hard limit: every open stream is a
    socket, and the common default of 1,024 would cap the mock at about a thousand streams.
Divergence #3: request headers are split by hand (``_Headers``) instead of by the ``email``
    package that ``gevent.pywsgi`` uses (a tenth of the server's CPU under paced load,
    bench/results/load.md). Same limits (65,536 bytes a line, 100 headers) and the same first-
    value-wins reading; obsolete line folding and lines without a colon are a 400 (RFC 9112
    §5.2 allows rejecting folding; the ``email`` parser would have joined or skipped them).
Divergence #4: ``TCP_NODELAY`` on every connection, as gunicorn does: pywsgi sends a chunked
    stream's terminator as a write of its own, which Nagle's algorithm held back until the
    client's delayed ACK (40 ms) — a keep-alive client's next request waited that long.
Divergence #5: Ctrl-C and SIGTERM are gevent signal handlers that stop the server, not a
    ``KeyboardInterrupt``: Python runs its own handler only when the main thread next runs
    bytecode, and an idle server sat in the event loop's ``epoll_wait`` until the next
    request (or printed the interrupt with a traceback from whichever greenlet it landed in).
Divergence #6: ``settle_gc()`` changes the process's garbage collector, once, when a server
    process is ready to serve (``sse-mock serve``, and ``create_app()`` in a gunicorn or uWSGI
    process):
    what start-up built goes to the permanent generation (``gc.freeze()``) and a full
    collection waits for 100 collections of the middle generation instead of 10. Under
    paced load a process holds every open stream's objects; each full collection scanned all
    of them and stopped the loop: 35–110 ms at 1,000 streams a worker, and every stream due in
    that time was late by as much (p99 lateness 109 → 48 ms at 5,000 streams,
    bench/results/notes.md). Young collections still run as often; cyclic garbage (servers
    make some; sse_mock makes none, tests/servers/test_gc.py) still goes, in fewer, later
    passes. An app that embeds the middleware keeps its own collector settings.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["Standalone", "in_gunicorn", "in_uwsgi", "make_server", "settle_gc", "use_gevent",
           "uwsgi_async_cores"]

#: Pending connections the kernel queues while the loop is busy (capped by net.core.somaxconn).
BACKLOG = 2048

FALLBACK_NOTICE = (
    "sse-mock: gevent is not installed: serving with one thread per connection (fine for a few "
    "streams; for thousands, pip install \"sse-mock[serve]\")")


def use_gevent() -> bool:
    """Patch this process for gevent's server if gevent is installed (Divergence #1)."""
    try:
        from gevent import monkey  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return False
    monkey.patch_all()
    _raise_open_files()
    return True


#: Collections of the middle generation before a full one (Python's default: 10).
FULL_COLLECTION_EVERY = 100
_settled_pid = 0


def settle_gc() -> None:
    """Set this server process's garbage collector up for serving (Divergence #6); once per
    process."""
    global _settled_pid
    if _settled_pid == os.getpid():
        return
    _settled_pid = os.getpid()
    young, middle, full = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(young, middle, max(full, FULL_COLLECTION_EVERY))


def in_gunicorn() -> bool:
    """Whether this process is a gunicorn server's (its arbiter sets ``SERVER_SOFTWARE`` in the
    environment of itself and its workers)."""
    return os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn/")


def in_uwsgi() -> bool:
    """Whether this process is a uWSGI server's: uWSGI embeds the ``uwsgi`` module in its
    interpreter (no package outside uWSGI provides it)."""
    return "uwsgi" in sys.modules


def uwsgi_async_cores() -> int:
    """Requests a uWSGI worker serves at once on its async loop (``--gevent N``: N); 1 when
    this is not uWSGI."""
    cores = getattr(sys.modules.get("uwsgi"), "cores", 1)
    return cores if isinstance(cores, int) else 1


def _raise_open_files() -> None:
    try:
        import resource
    except ImportError:  # pragma: no cover - not Unix
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):  # pragma: no cover - a limit we may not raise
            pass


@dataclass
class Standalone:
    """A bound server: ``kind`` is ``"gevent"`` or ``"threads"``; ``notice`` is what to say
    about it on start-up (None: nothing)."""

    port: int
    kind: str
    notice: str | None
    serve_forever: Callable[[], None]
    server_close: Callable[[], None]


def make_server(host: str, port: int, app: WSGIApplication, *, gevent: bool) -> Standalone:
    """Bind `host`:`port` (OSError if it cannot) and return the server, not yet serving."""
    settle_gc()  # the app is built: what exists now lives as long as the server
    if gevent:
        return _gevent_server(host, port, app)
    return _threaded_server(host, port, app)


MAX_LINE = 65536  # http.client's limits, which gevent.pywsgi's parser applies
MAX_HEADERS = 100


class _Headers:
    """The request headers, with the interface ``gevent.pywsgi.WSGIHandler`` reads from its
    ``MessageClass`` (Divergence #3): ``status`` (non-empty: a 400), ``get``, ``getheader``,
    ``del``, ``typeheader`` and ``headers`` (``"Name: value\r\n"`` lines)."""

    __slots__ = ("items", "status")

    def __init__(self, fp: Any) -> None:
        self.items: list[tuple[str, str]] = []
        self.status = ""
        while True:
            line = fp.readline(MAX_LINE + 1)
            if len(line) > MAX_LINE:
                self.status = "Line too long"
                return
            if line in (b"\r\n", b"\n", b""):
                return
            if len(self.items) >= MAX_HEADERS:
                self.status = "Too many headers"
                return
            text = line.decode("iso-8859-1")
            name, colon, value = text.partition(":")
            if not colon or not name or name[0] in " \t" or name != name.rstrip():
                self.status = "Invalid header line"  # no colon, folding, or "Name :"
                return
            self.items.append((name, value.lstrip(" \t").rstrip("\r\n")))

    def get(self, name: str, default: Any = None) -> Any:
        name = name.lower()
        for key, value in self.items:
            if key.lower() == name:
                return value
        return default

    getheader = get

    def __delitem__(self, name: str) -> None:
        name = name.lower()
        self.items = [(k, v) for k, v in self.items if k.lower() != name]

    @property
    def typeheader(self) -> str | None:
        return self.get("content-type")  # type: ignore[no-any-return]

    @property
    def headers(self) -> list[str]:
        return [f"{key}: {value}\r\n" for key, value in self.items]


def _gevent_server(host: str, port: int, app: WSGIApplication) -> Standalone:
    from gevent.pywsgi import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
        WSGIHandler,
        WSGIServer,
    )

    class Handler(WSGIHandler):  # type: ignore[misc,unused-ignore]
        def MessageClass(self, fp: Any, *args: Any) -> _Headers:  # noqa: N802 (gevent's name)
            return _Headers(fp)

        def handle(self) -> None:
            # Divergence #4: each write leaves at once (no Nagle delay on the chunked end).
            try:
                self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover - not TCP (a Unix socket)
                pass
            super().handle()

    # Access lines through logging (INFO, as werkzeug's); SERVER_NAME given, so the first
    # request does not wait for a reverse DNS look-up (socket.getfqdn).
    server = WSGIServer((host, port), app, backlog=BACKLOG, handler_class=Handler,
                        log=logging.getLogger("sse_mock.access"),
                        error_log=logging.getLogger("sse_mock.server"),
                        environ={"SERVER_NAME": host})
    server.init_socket()
    bound: Any = server.socket.getsockname()

    def serve_forever() -> None:
        # Divergence #5: Ctrl-C and SIGTERM set an event the main greenlet waits on.
        import gevent  # type: ignore[import-untyped,import-not-found,unused-ignore]
        from gevent.event import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
            Event,
        )

        stop = Event()
        handlers = [gevent.signal_handler(sig, stop.set)
                    for sig in (signal.SIGINT, signal.SIGTERM)]
        try:
            server.start()
            stop.wait()
        finally:
            for handler in handlers:
                handler.cancel()

    def close() -> None:
        server.stop(timeout=1)

    return Standalone(int(bound[1]), "gevent", None, serve_forever, close)


def _threaded_server(host: str, port: int, app: WSGIApplication) -> Standalone:
    from werkzeug.serving import make_server as werkzeug_server

    # One response per connection: werkzeug closes it after each (its request handler cannot
    # drain a request body before reading the next one).
    server = werkzeug_server(host, port, app, threaded=True)
    return Standalone(server.port, "threads", FALLBACK_NOTICE, server.serve_forever,
                      server.server_close)
