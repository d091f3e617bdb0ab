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

from typing import TYPE_CHECKING, Any

from ._parser import Event, SSEParser, parse
from ._transport import WSGITransport
from .calls import Calls, ControlError, MockControl

if TYPE_CHECKING:
    import anthropic
    import openai
    from _typeshed.wsgi import WSGIApplication

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
