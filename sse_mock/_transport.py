"""The in-process transport of :mod:`sse_mock.testing`: :class:`WSGITransport` and the
exchange behind each response (the WSGI call, its lazy chunks, closing early).

Re-exported by :mod:`sse_mock.testing`, whose docstring (the documentation's page) lists the
deliberate divergences that the comments here cite as "Divergence #n": #1 not
``httpx.WSGITransport``; #2 one transport for httpx and httpx2; #3 the headers go out with the
first non-empty chunk; #4 the app runs in the caller's thread; #5 closing early pulls one more
chunk.
"""

from __future__ import annotations

import io
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import unquote_to_bytes

if TYPE_CHECKING:
    import httpx
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import WSGIApplication

    _TransportBase = httpx.BaseTransport  # Divergence #2: for type checkers only
else:
    _TransportBase = object

__all__ = ["WSGITransport"]

_NO_BODY_STATUS = frozenset({204, 304})


class WSGITransport(_TransportBase):
    """Send httpx (or httpx2) requests to a WSGI application in-process, streaming lazily.

    :param app: The WSGI application to call (e.g. :func:`sse_mock.create_app` or your own app
        wrapped in :class:`~sse_mock.SSEMockMiddleware`).
    :param script_name: Where the application is mounted (``SCRIPT_NAME``); a request path
        that starts with it has it removed from ``PATH_INFO``.
    :param remote_addr: ``REMOTE_ADDR`` of every request.
    :param wsgi_errors: ``wsgi.errors``; ``sys.stderr`` by default.
    :param close_grace: Seconds that closing a response early may wait for the application's
        next chunk (Divergence #5); the rest happens in the background.

    Exceptions raised by the application propagate to the caller (a test wants the
    traceback), except ``ConnectionError``, which is how a WSGI application drops the
    connection: it becomes the client library's ``RemoteProtocolError``, as over a socket.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        script_name: str = "",
        remote_addr: str = "127.0.0.1",
        wsgi_errors: TextIO | None = None,
        close_grace: float = 0.25,  # Divergence #5: how long close() waits for the app
    ) -> None:
        self.app = app
        self.script_name = script_name.rstrip("/")
        self.remote_addr = remote_addr
        self.wsgi_errors = wsgi_errors
        self.close_grace = close_grace

    # The transport protocol of httpx / httpx2 (their BaseTransport, Divergence #2).

    def __enter__(self) -> WSGITransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release: there is no connection."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        lib = _library_of(request)
        body = request.read()
        environ = self.environ(request, body)
        call = _Call(lib)
        result = self.app(environ, call.start_response)
        exchange = _Exchange(lib, call, result, grace=self.close_grace,
                             errors=self.wsgi_errors)
        try:
            exchange.start()  # Divergence #3: up to the first non-empty chunk
        except BaseException:
            exchange.close()
            raise
        if call.status is None:  # pragma: no cover - start() checks it
            raise RuntimeError("the WSGI application did not call start_response")
        code, _, reason = call.status.partition(" ")
        status = int(code)
        headers = [(name.encode("latin-1"), value.encode("latin-1"))
                   for name, value in call.headers]
        if request.method == "HEAD" or status in _NO_BODY_STATUS:
            exchange.close()  # servers send no body here, whatever the application yields
            exchange = _Exchange.empty(lib, call)
        else:
            exchange.expect(_content_length(call.headers))
        response: httpx.Response = lib.Response(
            status,
            headers=headers,
            stream=_stream_class(lib)(exchange),
            request=request,
            extensions={"http_version": b"HTTP/1.1",
                        "reason_phrase": reason.encode("latin-1")},
        )
        return response

    def environ(self, request: httpx.Request, body: bytes) -> dict[str, Any]:
        """The PEP 3333 environ for `request` (its body already read as `body`)."""
        url = request.url
        raw_path, _, raw_query = url.raw_path.partition(b"?")
        # PEP 3333: PATH_INFO is the URL-decoded path as a "native string" holding bytes
        # (latin-1); QUERY_STRING stays encoded.
        path = unquote_to_bytes(raw_path).decode("latin-1")
        script = self.script_name
        if script and (path == script or path.startswith(script + "/")):
            path = path[len(script):]
        port = url.port or (443 if url.scheme == "https" else 80)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": script,
            "PATH_INFO": path,
            "QUERY_STRING": raw_query.decode("latin-1"),
            "SERVER_NAME": url.host,
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.remote_addr,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": url.scheme,
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": self.wsgi_errors or sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }
        for raw_name, raw_value in request.headers.raw:
            name = raw_name.decode("latin-1").upper().replace("-", "_")
            value = raw_value.decode("latin-1")
            if name == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
                continue
            if name == "CONTENT_LENGTH":
                continue  # the body we pass is what counts
            key = "HTTP_" + name
            # RFC 9110 §5.3: repeated fields combine into one comma-separated value.
            environ[key] = environ[key] + ", " + value if key in environ else value
        return environ


def _library_of(request: Any) -> ModuleType:
    """``httpx`` or ``httpx2``: the library whose Request this is (Divergence #2)."""
    return sys.modules[type(request).__module__.partition(".")[0]]


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    for name, value in headers:
        if name.lower() == "content-length" and value.strip().isdigit():
            return int(value)
    return None


class _Call:
    """``start_response`` and ``write`` for one call of the application (PEP 3333)."""

    def __init__(self, lib: ModuleType) -> None:
        self.lib = lib
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.sent = False  # the headers "went out" with the first non-empty chunk
        self.written: list[bytes] = []  # what the application passed to write()

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
    ) -> Callable[[bytes], object]:
        if exc_info is not None:
            try:
                if self.sent:
                    # PEP 3333: after the headers went out, re-raise the application's error.
                    raise exc_info[1].with_traceback(exc_info[2])  # type: ignore[union-attr]
            finally:
                exc_info = None  # PEP 3333: avoid a reference cycle through the traceback
        elif self.status is not None:
            raise RuntimeError("start_response called a second time without exc_info")
        self.status, self.headers = status, list(headers)
        return self.write

    def write(self, data: bytes) -> None:
        if self.status is None:
            raise RuntimeError("write() before start_response()")
        if data:
            self.written.append(bytes(data))


class _Exchange:
    """The application's iterable, pulled one chunk per read of the client."""

    def __init__(
        self,
        lib: ModuleType,
        call: _Call,
        result: Iterable[bytes] | None,
        *,
        grace: float = 0.0,
        errors: TextIO | None = None,
    ) -> None:
        self.lib = lib
        self.call = call
        self.result = result
        self.iterator: Iterator[bytes] | None = None
        self.ready: list[bytes] = []  # pulled but not yet read by the client
        self.expected: int | None = None
        self.received = 0
        self.done = result is None  # the iterable is exhausted (or raised)
        self.closed = False
        self.grace = grace
        self.errors = errors
        self._lock = threading.Lock()

    @classmethod
    def empty(cls, lib: ModuleType, call: _Call) -> _Exchange:
        return cls(lib, call, None)

    def expect(self, length: int | None) -> None:
        self.expected = length

    def start(self) -> None:
        """Pull until the first non-empty chunk (or the end), so start_response has run."""
        assert self.result is not None
        self.iterator = iter(self.result)
        while not self.ready and not self.done:
            self._pull()
        if self.call.status is None:
            raise RuntimeError("the WSGI application did not call start_response")
        self.call.sent = True

    def _pull(self) -> None:
        """One step of the iterable; written and yielded bytes go to ``ready``."""
        assert self.iterator is not None
        try:
            chunk = next(self.iterator)
        except StopIteration:
            self.done = True
        except ConnectionError as exc:
            # How a WSGI application drops the connection (PROTOCOLS.md §5.4): a client
            # sees the body end early.
            self.done = True
            raise self.lib.RemoteProtocolError(
                "peer closed connection without sending complete message body "
                f"({type(exc).__name__}: {exc})") from exc
        except BaseException:
            self.done = True
            raise
        else:
            if chunk:
                self.ready.append(bytes(chunk))
        if self.call.written:
            self.ready[:0] = self.call.written
            self.call.written = []

    def chunks(self) -> Iterator[bytes]:
        while True:
            while self.ready:
                chunk = self.ready.pop(0)
                self.received += len(chunk)
                yield chunk
            if self.done or self.closed:
                break
            self._pull()
        if not self.closed:
            self.close()  # PEP 3333: close() once the iterable is exhausted
            if self.expected is not None and self.received < self.expected:
                raise self.lib.RemoteProtocolError(
                    "peer closed connection without sending complete message body "
                    f"(received {self.received} bytes, expected {self.expected})")

    def close(self) -> None:
        """The client closed the response: end the application's iterable (Divergence #5)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
        self.ready.clear()
        if self.done or self.iterator is None:
            self._close_iterable()
            return
        # Divergence #5: like a server, pull once more before closing — in a helper thread, so
        # the client does not wait for a paced chunk longer than `grace`.
        tail = threading.Thread(target=self._finish, name="sse_mock.testing close", daemon=True)
        tail.start()
        tail.join(self.grace)

    def _finish(self) -> None:
        try:
            self._pull()
            self._close_iterable()
        except self.lib.RemoteProtocolError:
            pass  # the app dropped the connection (it was closed anyway)
        except Exception:  # a server logs what the app raises after the client left
            traceback.print_exc(file=self.errors or sys.stderr)
            try:
                self._close_iterable()
            except Exception:
                traceback.print_exc(file=self.errors or sys.stderr)

    def _close_iterable(self) -> None:
        """Call the iterable's ``close()`` (PEP 3333): the app's ``finally`` runs."""
        close = getattr(self.result, "close", None)
        if close is not None:
            close()


_STREAM_CLASSES: dict[str, type[Any]] = {}


def _stream_class(lib: ModuleType) -> type[Any]:
    """A ``SyncByteStream`` of `lib` over an :class:`_Exchange` (httpx2 checks isinstance)."""
    cls = _STREAM_CLASSES.get(lib.__name__)
    if cls is None:
        base: type[Any] = lib.SyncByteStream

        class _WSGIByteStream(base):  # type: ignore[misc]
            def __init__(self, exchange: _Exchange) -> None:
                self._exchange = exchange

            def __iter__(self) -> Iterator[bytes]:
                return self._exchange.chunks()

            def close(self) -> None:
                self._exchange.close()

        cls = _STREAM_CLASSES[lib.__name__] = _WSGIByteStream
    return cls
