"""``sse_mock.testing``: the in-process transport and the SDK helpers, without any socket."""

from __future__ import annotations

import json
import socket
import sys
import time
import wsgiref.validate
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest
from conftest import validated

from sse_mock import SSEMockMiddleware, create_app
from sse_mock.testing import (
    BASE_URL,
    Event,
    SSEParser,
    WSGITransport,
    anthropic_client,
    openai_client,
    parse,
)
from sse_mock.tokens import count_tokens

REPLY = "Hello, this is a mocked chatbot. How can I help you?"
CLAUDE = "claude-sonnet-4-6"
HI = [{"role": "user", "content": "Hi"}]
LIBS = [httpx, httpx2]
StartResponse = Callable[..., Any]


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prove the point: nothing in this module may open a network connection."""
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("sse_mock.testing opened a socket")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def settled(app: SSEMockMiddleware, timeout: float = 3.0) -> str:
    """The last journal entry's outcome once it is no longer "in progress" (Divergence #5)."""
    deadline = time.monotonic() + timeout
    entry = app.journal.entries()[-1]
    while entry.outcome == "in progress" and time.monotonic() < deadline:
        time.sleep(0.01)
    return entry.outcome


def test_reexports() -> None:
    assert parse(b"data: x\n\n") == [Event(data="x")]
    assert SSEParser().feed(b"event: a\ndata: y\n\n") == [Event(type="a", data="y")]


# -- the SDK helpers --------------------------------------------------------------------------


def test_anthropic_stream_and_create() -> None:
    app = create_app(delay=0)
    with anthropic_client(app) as client:
        assert str(client.base_url) == BASE_URL + "/mock/"
        assert client.max_retries == 0
        with client.messages.stream(model=CLAUDE, max_tokens=100, messages=HI) as stream:
            assert "".join(stream.text_stream) == REPLY
            final = stream.get_final_message()
        assert final.stop_reason == "end_turn"
        assert final.usage.output_tokens == count_tokens(REPLY)
        events = [e.type for e in client.messages.create(model=CLAUDE, max_tokens=100,
                                                         messages=HI, stream=True)]
        assert events[0] == "message_start" and events[-1] == "message_stop"
        message = client.messages.create(model=CLAUDE, max_tokens=100, messages=HI)
        assert message.content[0].type == "text" and message.content[0].text == REPLY
    assert [e.outcome for e in app.journal.entries()] == ["completed"] * 3
    assert {e.path for e in app.journal.entries()} == {"/mock/v1/messages"}


def test_anthropic_errors_are_typed() -> None:
    app = create_app(delay=0)
    with anthropic_client(app) as client:
        with pytest.raises(anthropic.OverloadedError):
            client.messages.create(model=CLAUDE, max_tokens=5, messages=HI,
                                   extra_headers={"X-Mock-Fault": "overloaded"})
        with pytest.raises(anthropic.BadRequestError) as info:
            client.messages.create(model=CLAUDE, max_tokens=0, messages=HI)
        assert info.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
        with pytest.raises(anthropic.APIStatusError) as status_info:
            with client.messages.stream(model=CLAUDE, max_tokens=100, messages=HI,
                                        extra_headers={"X-Mock-Fault": "error_after:1"}) as s:
                s.get_final_text()
        assert status_info.value.status_code == 200 and status_info.value.type == "api_error"


def test_disconnect_fault_looks_like_a_dropped_connection() -> None:
    """ConnectionError from the app → the client library's RemoteProtocolError (§5.4)."""
    app = create_app(delay=0)
    got: list[str] = []
    with anthropic_client(app) as client:
        with pytest.raises(httpx2.RemoteProtocolError):
            with client.messages.stream(model=CLAUDE, max_tokens=100, messages=HI,
                                        extra_headers={"X-Mock-Fault": "disconnect_after:2"}
                                        ) as stream:
                got.extend(stream.text_stream)
        assert "".join(got) == "Hello, this"  # N events, then the connection drops
        # Not streamed: the body is cut short, as over a socket.
        with pytest.raises(anthropic.APIConnectionError):
            client.messages.create(model=CLAUDE, max_tokens=100, messages=HI,
                                   extra_headers={"X-Mock-Fault": "disconnect_after:2"})
    assert [e.outcome for e in app.journal.entries()] == ["fault", "fault"]


def test_openai_client_base_url_and_models() -> None:
    app = create_app(delay=0)
    with openai_client(app, max_retries=1) as client:
        assert str(client.base_url) == BASE_URL + "/mock/v1/"
        assert client.max_retries == 1
        assert client.api_key == "test"
        ids = [m.id for m in client.models.list()]
        assert "gpt-4o-mini" in ids
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve("no-such-model")


def test_openai_chat_stream_and_create() -> None:
    app = create_app(delay=0)
    with openai_client(app) as client:
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert text == REPLY
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=HI)
        assert completion.choices[0].message.content == REPLY
    assert [e.outcome for e in app.journal.entries()] == ["completed"] * 2


def test_prefix_from_the_app_or_given() -> None:
    app = create_app(delay=0, prefix="/llm")
    with anthropic_client(app) as client:
        assert str(client.base_url) == BASE_URL + "/llm/"
        assert client.messages.create(model=CLAUDE, max_tokens=9, messages=HI).content
    with openai_client(app) as oclient:
        assert str(oclient.base_url) == BASE_URL + "/llm/v1/"

    class FlaskLike:  # Flask: app.wsgi_app = SSEMockMiddleware(app.wsgi_app, ...)
        def __init__(self, inner: Any) -> None:
            self.wsgi_app = SSEMockMiddleware(inner, delay=0, prefix="/x/y")

        def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Any:
            return self.wsgi_app(environ, start_response)

    flask_like = FlaskLike(create_app())
    with anthropic_client(flask_like) as client:
        assert str(client.base_url) == BASE_URL + "/x/y/"
        assert client.messages.create(model=CLAUDE, max_tokens=9, messages=HI).content
    with anthropic_client(flask_like, prefix="/other/") as client:
        assert str(client.base_url) == BASE_URL + "/other/"
    with anthropic_client(object(), base_url="http://elsewhere.test/api",  # type: ignore[arg-type]
                          api_key="k") as client:
        assert str(client.base_url) == "http://elsewhere.test/api/"
        assert client.api_key == "k"
    with anthropic_client(lambda e, s: [], max_retries=0) as client:  # not a middleware
        assert str(client.base_url) == BASE_URL + "/mock/"


# -- lazy streaming and close() ---------------------------------------------------------------


@pytest.mark.parametrize("lib", LIBS)
def test_streams_lazily(lib: ModuleType) -> None:
    """The first chunk arrives while the stream is still going (0.2 s per token × 5)."""
    app = create_app(delay=0.2)
    body = {"model": CLAUDE, "max_tokens": 100, "messages": HI, "stream": True}
    with lib.Client(transport=WSGITransport(app), base_url=BASE_URL) as client:
        start = time.monotonic()
        with client.stream("POST", "/mock/v1/messages", json=body,
                           headers={"X-Mock-Reply": "one two three four five"}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
            chunks = r.iter_raw()
            first = next(chunks)
            first_at = time.monotonic() - start
            entry = app.journal.entries()[-1]
            assert entry.outcome == "in progress"  # the generator has not finished
            assert first.startswith(b": ok\n")
            arrivals = []
            parser = SSEParser()
            parser.feed(first)
            for chunk in chunks:
                for event in parser.feed(chunk):
                    arrivals.append((time.monotonic() - start, event.type))
        total = time.monotonic() - start
    assert entry.outcome == "completed"
    assert first_at < 0.5 < 0.8 < total  # four 0.2 s gaps after the first token
    deltas = [at for at, kind in arrivals if kind == "content_block_delta"]
    assert len(deltas) == 4  # the first token came with the first chunk
    gaps = [b - a for a, b in zip(deltas, deltas[1:], strict=False)]
    assert all(0.1 < g < 0.6 for g in gaps), gaps


def test_sdk_streams_lazily_and_close_propagates() -> None:
    app = create_app(delay=0.2)
    with anthropic_client(app) as client:
        start = time.monotonic()
        stream = client.messages.create(model=CLAUDE, max_tokens=100, messages=HI, stream=True,
                                        extra_headers={"X-Mock-Reply": "a b c d e"})
        it = iter(stream)
        assert next(it).type == "message_start"
        assert time.monotonic() - start < 0.5  # the whole stream takes 0.8 s
        assert app.journal.entries()[-1].outcome == "in progress"
        closing = time.monotonic()
        stream.close()
        assert time.monotonic() - closing < 1  # close() waits at most close_grace (0.25 s)
        assert settled(app) == "client went away"
        assert app.journal.entries()[-1].events < 5

        # The same with the stream helper, leaving its `with` block early.
        with client.messages.stream(model=CLAUDE, max_tokens=100, messages=HI,
                                    extra_headers={"X-Mock-Reply": "a b c d e"}) as helper:
            for _ in helper.text_stream:
                break
        assert settled(app) == "client went away"


@pytest.mark.parametrize("lib", LIBS)
def test_close_before_reading(lib: ModuleType) -> None:
    app = create_app(delay=0.2)
    with lib.Client(transport=WSGITransport(app), base_url=BASE_URL) as client:
        with client.stream("GET", "/mock/stream?reply=a+b+c+d") as r:
            assert r.status_code == 200
    assert settled(app) == "client went away"


def test_close_does_not_wait_for_a_slow_app() -> None:
    """Divergence #5: a stalled stream closed early costs the client only `close_grace`."""
    app = create_app(delay=5)
    transport = WSGITransport(app, close_grace=0.05)
    with httpx.Client(transport=transport, base_url=BASE_URL) as client:
        with client.stream("GET", "/mock/stream?reply=a+b+c") as r:
            next(r.iter_raw())
            start = time.monotonic()
        assert time.monotonic() - start < 1
    assert app.journal.entries()[-1].outcome == "in progress"  # noticed at its next write


def test_close_at_the_end_completes() -> None:
    """A client that stops at the last event and closes: "completed", as over a socket."""
    app = create_app(delay=0)
    with httpx.Client(transport=WSGITransport(app), base_url=BASE_URL) as client:
        with client.stream("GET", "/mock/stream?reply=a+b") as r:
            parser = SSEParser()
            for chunk in r.iter_raw():
                if any(e.data == "[DONE]" for e in parser.feed(chunk)):
                    break
        assert app.journal.entries()[-1].outcome == "completed"


def test_errors_after_close_go_to_wsgi_errors() -> None:
    import io

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"one"
        raise ValueError("raised after the client left")

    errors = io.StringIO()
    with httpx.Client(transport=WSGITransport(app, wsgi_errors=errors),
                      base_url=BASE_URL) as client:
        with client.stream("GET", "/") as r:
            assert next(r.iter_raw()) == b"one"
    assert "raised after the client left" in errors.getvalue()


# -- a general WSGI transport (PEP 3333) ------------------------------------------------------


class Recorder:
    """A small WSGI app that records its environ and how its iterable was closed."""

    def __init__(self, chunks: Iterable[bytes] = (b"a", b"b"), status: str = "200 OK",
                 headers: list[tuple[str, str]] | None = None) -> None:
        self.chunks = list(chunks)
        self.status = status
        self.headers = headers or [("Content-Type", "text/plain")]
        self.environ: dict[str, Any] = {}
        self.closed = 0
        self.body = b""

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        self.environ = environ
        self.body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        return self._gen(start_response)

    def _gen(self, start_response: StartResponse) -> Iterator[bytes]:
        # start_response late, inside the generator (allowed by PEP 3333).
        start_response(self.status, self.headers)
        try:
            yield from self.chunks
        finally:
            self.closed += 1


@pytest.mark.parametrize("lib", LIBS)
def test_environ(lib: ModuleType) -> None:
    app = Recorder()
    transport = WSGITransport(validated(app), script_name="/base", remote_addr="10.1.2.3")
    with lib.Client(transport=transport) as client:
        r = client.post("https://sse-mock.test:8443/base/p%C3%A4th%2Fx?q=%C3%A4+b&q=2",
                        content=b"hello", headers=[
                            ("Content-Type", "text/plain; charset=utf-8"),
                            ("X-Many", "1"), ("X-Many", "2"),
                            ("X-Latin", "caf\xe9".encode("latin-1")),
                        ])
    assert r.status_code == 200 and r.content == b"ab"
    env = app.environ
    assert env["REQUEST_METHOD"] == "POST"
    assert env["SCRIPT_NAME"] == "/base"
    # PEP 3333: the decoded path's bytes as latin-1; the query string stays encoded.
    assert env["PATH_INFO"] == "/päth/x".encode().decode("latin-1")
    assert env["QUERY_STRING"] == "q=%C3%A4+b&q=2"
    assert env["SERVER_NAME"] == "sse-mock.test" and env["SERVER_PORT"] == "8443"
    assert env["wsgi.url_scheme"] == "https"
    assert env["REMOTE_ADDR"] == "10.1.2.3"
    assert env["CONTENT_TYPE"] == "text/plain; charset=utf-8"
    assert env["CONTENT_LENGTH"] == "5" and app.body == b"hello"
    assert env["HTTP_X_MANY"] == "1, 2"  # RFC 9110 §5.3
    assert env["HTTP_X_LATIN"] == "caf\xe9"
    assert env["HTTP_HOST"] == "sse-mock.test:8443"
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env
    assert env["wsgi.multithread"] is True and env["wsgi.multiprocess"] is False
    assert app.closed == 1


@pytest.mark.parametrize("lib", LIBS)
def test_write_callable_and_status(lib: ModuleType) -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        write = start_response("529 Site Overloaded", [("Content-Type", "text/plain"),
                                                       ("X-Thing", "caf\xe9")])
        write(b"written ")
        return [b"returned"]

    with lib.Client(transport=WSGITransport(app), base_url=BASE_URL) as client:
        r = client.get("/")
    assert r.status_code == 529 and r.reason_phrase == "Site Overloaded"
    assert r.content == b"written returned"
    assert r.headers["x-thing"] == "caf\xe9"


@pytest.mark.parametrize("lib", LIBS)
def test_head_and_204_have_no_body(lib: ModuleType) -> None:
    app = Recorder([b"not for HEAD"])
    with lib.Client(transport=WSGITransport(app), base_url=BASE_URL) as client:
        r = client.head("/")
        assert r.status_code == 200 and r.content == b""
        assert app.closed == 1
        no_content = Recorder([b"x"], status="204 No Content")
        with lib.Client(transport=WSGITransport(no_content), base_url=BASE_URL) as c2:
            assert c2.get("/").content == b""
        assert no_content.closed == 1


@pytest.mark.parametrize("lib", LIBS)
def test_app_errors(lib: ModuleType) -> None:
    def broken(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"x"
        raise ValueError("bug in the app")

    def silent(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        return [b"no start_response"]

    def short(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("Content-Length", "10")])
        return [b"12345"]

    def dropped(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"part"
        raise ConnectionResetError("gone")

    with lib.Client(transport=WSGITransport(broken), base_url=BASE_URL) as client:
        with pytest.raises(ValueError, match="bug in the app"):
            client.get("/")
    with lib.Client(transport=WSGITransport(silent), base_url=BASE_URL) as client:
        with pytest.raises(RuntimeError, match="start_response"):
            client.get("/")
    with lib.Client(transport=WSGITransport(short), base_url=BASE_URL) as client:
        with pytest.raises(lib.RemoteProtocolError, match="expected 10"):
            client.get("/")
    with lib.Client(transport=WSGITransport(dropped), base_url=BASE_URL) as client:
        with client.stream("GET", "/") as r:
            it = r.iter_raw()
            assert next(it) == b"part"
            with pytest.raises(lib.RemoteProtocolError):
                next(it)


@pytest.mark.parametrize("lib", LIBS)
def test_exc_info_before_and_after_headers(lib: ModuleType) -> None:
    def recovers(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [])
        try:
            raise KeyError("oops")
        except KeyError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        return [b"error page"]

    def too_late(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"started"
        try:
            raise KeyError("late")
        except KeyError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        yield b"never"  # pragma: no cover

    with lib.Client(transport=WSGITransport(recovers), base_url=BASE_URL) as client:
        r = client.get("/")
        assert r.status_code == 500 and r.content == b"error page"
    with lib.Client(transport=WSGITransport(too_late), base_url=BASE_URL) as client:
        with client.stream("GET", "/") as r:
            it = r.iter_raw()
            assert next(it) == b"started"
            with pytest.raises(KeyError, match="late"):
                next(it)


def test_mock_under_wsgiref_validate() -> None:
    """The transport's environ satisfies wsgiref.validate, streamed and not."""
    app = create_app(delay=0)
    checked = wsgiref.validate.validator(app)
    with anthropic_client(checked, prefix="/mock") as client:
        with client.messages.stream(model=CLAUDE, max_tokens=100, messages=HI) as stream:
            assert stream.get_final_text() == REPLY
        assert client.messages.create(model=CLAUDE, max_tokens=100, messages=HI).content
    with httpx.Client(transport=WSGITransport(checked), base_url=BASE_URL) as plain:
        events = parse(plain.get("/mock/stream?reply=x+y").content)
        assert [e.data for e in events] == ["x", "y", "[DONE]"]
        journal = plain.get("/mock/_journal").json()
        assert journal["object"] == "list"
        assert json.loads(plain.post("/mock/v1/messages", content=b"{").content)["type"] == "error"
