"""Helpers for your own tests: talk to the mock (or any WSGI app) in-process, without a socket.

* :class:`WSGITransport` — an httpx transport that calls a WSGI application directly and
  streams its answer *lazily*: each chunk is pulled from the application's iterable when the
  client reads it, so a paced stream arrives piece by piece, and closing the response calls
  the iterable's ``close()`` (the mock then records ``"client went away"``).
* :func:`openai_client` and :func:`anthropic_client` — the official SDK clients, pointed at the
  mock through that transport (``max_retries=0`` unless you say otherwise).
* :func:`parse`, :class:`SSEParser`, :class:`Event` — the reference SSE parser (PROTOCOLS.md
  §1.2–1.6), to check raw bytes.
* :class:`MockControl` — the control API of a mock served elsewhere (queue the next answers,
  reset, read the journal and the resilience verdict), and :class:`Calls`, the journal's
  records with readable assertions (:mod:`sse_mock.calls`).
* :func:`read_events` — a whole response as events in one call: a ``webtest.TestApp``
  response, a werkzeug/Flask test-client response, a Django test-client response, an httpx
  response, or bytes.

A pytest example::

    import pytest
    from sse_mock import create_app
    from sse_mock.testing import anthropic_client, openai_client

    @pytest.fixture
    def mock():
        return create_app(delay=0, rules=[
            {"match": {"contains": "weather"},
             "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
        ])

    def test_my_chat_code(mock):
        client = openai_client(mock)
        stream = client.chat.completions.create(
            model="gpt-4o-mini", stream=True,
            messages=[{"role": "user", "content": "Hi"}])
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert text == "Hello, this is a mocked chatbot. How can I help you?"

    def test_my_claude_code(mock):
        client = anthropic_client(mock)
        with client.messages.stream(model="claude-sonnet-4-6", max_tokens=100,
                                    messages=[{"role": "user", "content": "Hi"}]) as s:
            assert s.get_final_text().startswith("Hello")
        assert mock.journal.entries()[-1].outcome == "completed"

Your application code can take the client (or its ``http_client``) as a parameter, or you can
patch where it builds one. The transport also works with a plain httpx client::

    with httpx.Client(transport=WSGITransport(mock), base_url="http://sse-mock.test") as c:
        with c.stream("GET", "/mock/stream") as r:
            for event in SSEParser().feed(r.read()): ...

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: not ``httpx.WSGITransport``. That one also streams lazily and closes the
    iterable, but it drops whatever the app passes to ``write()``, keeps only the last of
    repeated request headers, fails on non-ASCII (latin-1) header values, and lets a dropped
    connection (``ConnectionError`` from the app, how sse_mock's ``disconnect_after`` fault
    ends a stream, PROTOCOLS.md §5.4) surface as itself instead of as the
    ``RemoteProtocolError`` a client sees over a socket.
Divergence #2: one transport for ``httpx`` *and* ``httpx2`` (the fork that openai ≥ 3 and
    anthropic ≥ 2 use, and whose SDKs reject any object with an ``httpx`` class in its MRO).
    So :class:`WSGITransport` inherits from neither at run time; responses are built with the
    classes of the library the request came from. Type checkers see an
    ``httpx.BaseTransport`` (for httpx2, ``cast`` it).
Divergence #3: the headers "go out" with the first non-empty body chunk (PEP 3333: a server
    must not send them earlier), so ``handle_request`` pulls that one chunk before it returns;
    everything after it is pulled only as the client reads. sse_mock's streams start with a
    ``: ok`` comment at once (PROTOCOLS.md §5.4), so this never waits for a token.
Divergence #4: the app runs in the caller's thread: a paced stream's pauses happen inside the
    client's reads, and client timeouts do not apply.
Divergence #5: closing a response before the end pulls *one more* chunk before calling the
    iterable's ``close()``, as a server notices a vanished client only at its next write
    (PROTOCOLS.md §5.4). So a client that stops reading at a terminator (openai-python closes
    the response at ``data: [DONE]``) leaves a journal entry "completed", as over a socket,
    while a client that leaves mid-stream gives "client went away". That last pull runs in a
    helper thread; ``close()`` waits for it at most ``close_grace`` seconds (0.25), so the
    journal entry of a paced stream closed early may change a moment after ``close()``
    returns.
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

from ._parser import Event, SSEParser, parse
from .calls import Calls, ControlError, MockControl

if TYPE_CHECKING:
    import anthropic
    import httpx
    import openai
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import WSGIApplication

    _TransportBase = httpx.BaseTransport  # Divergence #2: for type checkers only
else:
    _TransportBase = object

__all__ = [
    "BASE_URL",
    "Calls",
    "ControlError",
    "MockControl",
    "Event",
    "SSEParser",
    "WSGITransport",
    "anthropic_client",
    "openai_client",
    "parse",
    "read_events",
]

#: The origin the SDK helpers use; the ``.test`` TLD is reserved (RFC 2606), nothing resolves it.
BASE_URL = "http://sse-mock.test"

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


# -- the official SDK clients, pointed at the mock --------------------------------------------


def _prefix(app: object, prefix: str | None) -> str:
    """The mock's prefix: given, or read from the middleware's configuration."""
    if prefix is not None:
        return prefix.rstrip("/")
    from .middleware import SSEMockMiddleware

    for candidate in (app, getattr(app, "wsgi_app", None)):  # Flask: app.wsgi_app = mw(...)
        if isinstance(candidate, SSEMockMiddleware):
            return candidate.config.prefix
    from .config import Config

    return Config().prefix


def _untyped(transport: WSGITransport) -> Any:
    """The transport for an httpx2 client: typed as httpx's only (Divergence #2)."""
    return transport


def openai_client(
    app: WSGIApplication, *, prefix: str | None = None, max_retries: int = 0, **kw: Any
) -> openai.OpenAI:
    """An ``openai.OpenAI`` client talking to `app` in-process.

    ``base_url`` is ``http://sse-mock.test<prefix>/v1``, the prefix read from `app`'s
    configuration when it is an :class:`~sse_mock.SSEMockMiddleware` (or a Flask app whose
    ``wsgi_app`` is one), else "/mock". Other keywords go to ``OpenAI(...)`` and override
    these defaults (``api_key="test"``, ``http_client`` over :class:`WSGITransport`).
    """
    import openai

    kw.setdefault("base_url", f"{BASE_URL}{_prefix(app, prefix)}/v1")
    kw.setdefault("api_key", "test")
    if "http_client" not in kw:
        # The SDK's own client class, so httpx vs httpx2 is the SDK's choice (Divergence #2).
        kw["http_client"] = openai.DefaultHttpxClient(transport=_untyped(WSGITransport(app)))
    return openai.OpenAI(max_retries=max_retries, **kw)


def anthropic_client(
    app: WSGIApplication, *, prefix: str | None = None, max_retries: int = 0, **kw: Any
) -> anthropic.Anthropic:
    """An ``anthropic.Anthropic`` client talking to `app` in-process.

    ``base_url`` is ``http://sse-mock.test<prefix>`` (the SDK adds ``/v1/messages``); the
    rest as :func:`openai_client`.
    """
    import anthropic

    kw.setdefault("base_url", f"{BASE_URL}{_prefix(app, prefix)}")
    kw.setdefault("api_key", "test")
    if "http_client" not in kw:
        kw["http_client"] = anthropic.DefaultHttpxClient(transport=_untyped(WSGITransport(app)))
    return anthropic.Anthropic(max_retries=max_retries, **kw)


def read_events(response: Any) -> list[Event]:
    """Read a whole event-stream response and parse it with the reference parser (§1.2–1.6).

    `response`: a ``webtest.TestApp`` response, a werkzeug or Flask test-client response
    (``buffered`` or not), a Django test-client response, an ``httpx.Response``, or the raw
    bytes. The response is read to its end and closed. An answer that is not
    ``text/event-stream`` (a 404, a JSON error) raises :class:`AssertionError` with its status
    and the start of its body, so a test failure says what came back.

    >>> [e.data for e in read_events(b"data: a\\n\\ndata: [DONE]\\n\\n")]
    ['a', '[DONE]']
    """
    if isinstance(response, bytes | bytearray | str):
        data = response.encode() if isinstance(response, str) else bytes(response)
        return parse(data)
    status: Any
    if hasattr(response, "streaming_content") or hasattr(response, "streaming"):  # Django
        try:
            data = b"".join(response.streaming_content) if response.streaming else (
                response.content)
        finally:
            response.close()
        status, ctype = response.status_code, response.get("Content-Type", "")
    elif hasattr(response, "get_data"):  # werkzeug.test.TestResponse (Flask's test client)
        try:
            data = response.get_data()
        finally:
            response.close()
        status, ctype = response.status_code, response.headers.get("Content-Type", "")
    elif hasattr(response, "body") and hasattr(response, "status_int"):  # webtest / WebOb
        data, status, ctype = response.body, response.status_int, response.content_type or ""
    else:  # httpx.Response (or anything with read() and headers)
        try:
            data = response.read()
        finally:
            response.close()
        status, ctype = response.status_code, response.headers.get("content-type", "")
    if not str(ctype).startswith("text/event-stream"):
        raise AssertionError(f"not an event stream: {status} {ctype or '(no content type)'}: "
                             f"{data[:300]!r}")
    return parse(data)
