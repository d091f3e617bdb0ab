"""``SSEMockMiddleware``: a WSGI middleware that answers configured paths with mocked LLM
streams and hands every other request to the wrapped application untouched.

.. code-block:: python

    from sse_mock import SSEMockMiddleware

    app.wsgi_app = SSEMockMiddleware(app.wsgi_app, delay=0.1)   # Flask
    # curl -N http://localhost:5000/mock/stream

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: ``start_response`` is called before the stream's generator is returned, and the
    first chunk is a bare comment line (``: ok``), so every server sends the headers at once
    (PEP 3333 lets servers hold them until the first non-empty write; PROTOCOLS.md §5.4).
    Streams that are not plain SSE choose their own first chunk and content type through the
    dialect's ``Framing`` (Gemini: an empty line, §8.3; Ollama's NDJSON: one space, §9.2).
Divergence #2: no ``Connection``, ``Keep-Alive`` or ``Transfer-Encoding`` header, ever: they are
    hop-by-hop and forbidden to WSGI applications (PEP 3333; ``wsgiref`` asserts, §5.4). The
    server chooses the framing.
Divergence #3: no ``Content-Length`` on streams; ``Cache-Control: no-cache, no-transform`` and
    ``X-Accel-Buffering: no`` keep proxies and compressors from buffering (§5.3).
Divergence #4: a request that does not match is passed on as the same call, with no wrapper
    around the application's iterable: its ``close()`` is the server's business, not ours.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .config import Config, load_config
from .control import read_session
from .controls import read_controls
from .cors import CORSPolicy
from .dialects.base import SSE, ErrorShape, MockError
from .dialects.shapes import AnthropicShape, GoogleShape, OllamaShape, OpenAIShape, PlainShape
from .faults import StreamAbort
from .guard import ControlGuard
from .journal import Entry, Journal, body_record
from .pacing import Pacer, tally_ended
from .quota import Quotas
from .route_table import build_routes
from .routes import Answer, Call, Route, status_line
from .scenario import Scenario
from .serving import uwsgi_async_cores
from .state import StateUnavailable, open_state
from .upstream import Upstream
from .verdict import Verdict, judge, note_answer, note_request

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["SSEMockMiddleware", "wrap"]

log = logging.getLogger("sse_mock")

#: PROTOCOLS.md §5.5: every SSE stream.
STREAM_HEADERS = [
    ("Content-Type", "text/event-stream; charset=utf-8"),
    ("Cache-Control", "no-cache, no-transform"),
    ("X-Accel-Buffering", "no"),
]
JSON_TYPE = ("Content-Type", "application/json")


class SSEMockMiddleware:
    """Answer the mock's routes; pass everything else to `app` untouched.

    :param app: The WSGI application to wrap.
    :param config: A mapping, a path to a TOML/JSON (or YAML) file, or None for the defaults.
    :param options: Single configuration keys that override `config`, e.g. ``delay=0``.

    The configuration is validated here, once: a bad key raises
    :class:`~sse_mock.config.ConfigError` naming it. ``journal`` holds what was served.
    """

    def __init__(
        self,
        app: WSGIApplication,
        config: Mapping[str, Any] | str | os.PathLike[str] | Config | None = None,
        **options: Any,
    ) -> None:
        self.app = app
        self.config = cfg = load_config(config, **options)
        self.enabled = cfg.enabled
        self.cors = CORSPolicy(cfg.cors)
        self.guard = ControlGuard(cfg)
        # Journal, cycles, sequences, chaos draws, quotas, queued actions (issue 10).
        self.state = open_state(cfg.state, prefix=cfg.state_prefix,
                                journal_entries=cfg.journal_size,
                                journal_bytes=cfg.journal_bytes)
        self.journal = Journal(cfg.journal_size, self.state)
        self.scenario = Scenario(cfg, self.state)
        self.quotas = Quotas(cfg.ratelimit, self.state)
        self.pacer = Pacer()
        # Record and replay (issue 15): None unless `cassettes` names a folder.
        self.upstream = Upstream.from_config(cfg)
        self._shapes: dict[str, ErrorShape] = {
            "openai": OpenAIShape(cfg.ratelimit),
            "anthropic": AnthropicShape(),
            "plain": PlainShape(),
            "google": GoogleShape(),
            "ollama": OllamaShape(),
        }
        self._prefix = cfg.prefix
        self._exact: dict[str, Route] = {}
        self._prefixed: list[Route] = []
        self._claiming: list[Route] = []
        for route in build_routes(self):
            if route.claims is not None:
                self._claiming.append(route)
            elif route.prefix_match:
                self._prefixed.append(route)
            else:
                self._exact[route.path] = route
        self._server_checked = False  # whether the server runs one request at a time
        # A provider path without the prefix (an SDK whose base_url lacks it) goes to the app,
        # whose 404 would not say why: log it once per path (issue 12).
        self._elsewhere = frozenset(
            p for p in self._exact if p.startswith("/v1/")) if self._prefix else frozenset()
        self._warned_elsewhere: set[str] = set()
        self._warned_multiprocess = False
        if self.enabled:
            # Loud when on (issue 9): a WARNING, which Python's last-resort handler prints to
            # stderr under the default logging of flask run, gunicorn, waitress and runserver —
            # a README line copied into production must not go unnoticed.
            log.warning(
                "sse_mock: mock active at %s/ - requests under %s/ are answered by a MOCK of "
                "the LLM APIs, not by any provider; set enabled=false to turn it off (docs: "
                "Security)",
                self._prefix, self._prefix)
            log.info("sse_mock: mock routes: %s", ", ".join(self.paths()))

    def verdict(self, session: str = "", **options: Any) -> Verdict:
        """The resilience verdict over the journal of `session`: what the clients did wrong with
        the faults they were given (:func:`sse_mock.verdict.judge`; `options` are its
        thresholds)."""
        return judge([e.to_dict() for e in self.journal.entries(session)], **options)

    def paths(self) -> list[str]:
        """The full paths this middleware answers (for start-up messages)."""
        out = [self._prefix + p for p in self._exact]
        out += [self._prefix + r.path + "{id}" for r in self._prefixed]
        out += [self._prefix + r.path for r in self._claiming]
        return out

    def _warn_elsewhere(self, path: str) -> None:
        if path in self._warned_elsewhere:
            return
        self._warned_elsewhere.add(path)  # bounded: at most one entry per route
        log.warning("sse_mock: a request for %s went to the application, not to the mock, which "
                    "answers at %s%s (an SDK's base_url must end in %s/v1 for OpenAI, %s for "
                    "Anthropic)", path, self._prefix, path, self._prefix, self._prefix)

    # -- WSGI ------------------------------------------------------------------------------

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        if not self.enabled:
            return self.app(environ, start_response)
        found = self._route(environ)
        if found is None:
            return self.app(environ, start_response)
        return self._serve(found[0], found[1], environ, start_response)

    def answer(
        self, environ: WSGIEnvironment
    ) -> tuple[str, list[tuple[str, str]], Iterable[bytes]] | None:
        """The mock's answer to `environ` as ``(status, headers, body)``, or None when the
        request is not the mock's: for framework glue (Django, Pyramid) that answers with its own
        response objects and hands every other request to its own chain. ``app`` is not called.
        """
        if not self.enabled:
            return None
        found = self._route(environ)
        if found is None:
            return None
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: Any = None) -> Callable[[bytes], object]:
            started[:] = [status, headers]
            return _no_write

        body = self._serve(found[0], found[1], environ, start_response)
        return started[0], started[1], body

    def _route(self, environ: WSGIEnvironment) -> tuple[Route, str] | None:
        """The route that answers `environ` and the rest of its path after the route's own
        (e.g. a model id), or None: the request is the wrapped application's."""
        path: str = environ.get("PATH_INFO") or "/"
        if not path.startswith(self._prefix):
            if path in self._elsewhere:
                self._warn_elsewhere(path)
            return None
        rest = path[len(self._prefix):]
        for claiming in self._claiming:
            if claiming.claims(rest, environ):  # type: ignore[misc]
                return claiming, rest
        route = self._exact.get(rest)
        if route is not None:
            return route, ""
        for candidate in self._prefixed:
            if rest.startswith(candidate.path) and len(rest) > len(candidate.path):
                return candidate, rest[len(candidate.path):]
        return None

    def _serve(
        self, route: Route, sub: str, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        environ["sse_mock.start"] = time.monotonic()
        method = environ.get("REQUEST_METHOD", "GET")
        shape = self._shapes[route.family]
        cors = self.cors
        if route.control:
            # One guard for every control endpoint: Host, Origin, and its own CORS.
            cors = self.guard.cors
            refused = self.guard.refusal(environ)
            if refused is not None:
                body = shape.error_body(refused, shape.new_request_id())
                start_response(status_line(403), [JSON_TYPE, ("Content-Length", str(len(body))),
                                                  *cors.response_headers(environ)])
                return [body]
        if method == "OPTIONS":
            # CORS preflight: answered before routing, auth and faults (§6.2).
            if "HTTP_ORIGIN" in environ and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ:
                headers = cors.preflight_headers(environ)
            else:
                headers = [("Allow", route.allow), *cors.response_headers(environ)]
            start_response("204 No Content", headers)
            return []
        if (not self._server_checked and "REMOTE_ADDR" in environ
                and environ.get("wsgi.multithread") is not None):
            # The first request from a real server (test clients set no REMOTE_ADDR) says
            # whether it runs one request at a time per process: gunicorn's sync worker,
            # `flask run --without-threads`, wsgiref. Looked at once: a server does not change.
            self._server_checked = True
            if environ["wsgi.multithread"] is False and not _concurrent_anyway(environ):
                log.warning(
                    "sse_mock: this WSGI server runs one request at a time (wsgi.multithread "
                    "is false): while a mock stream is open every other request waits. Use a "
                    "threaded server (flask run, waitress, gunicorn -k gthread or -k gevent).")
        if (not self._warned_multiprocess and environ.get("wsgi.multiprocess")
                and not self.state.shared):
            self._warned_multiprocess = True
            log.warning(
                "sse_mock: this WSGI server runs several processes (wsgi.multiprocess is true) "
                "and the mock's state is per process: *count faults, sequences, chaos draws and "
                "the journal are per worker. Use state = \"redis://…\" to share them.")
        head = method == "HEAD"
        try:
            session, bad_session = read_session(environ), None
        except MockError as error:  # answered below, in the route's shape
            session, bad_session = "", error
        entry = self.journal.start(method, path_of(environ), route.name,
                                   keep=not route.control,  # control calls are not journaled
                                   session=session)
        request_id = shape.new_request_id()
        entry.request_id = request_id
        listed = entry.listed  # kept by the journal: what only its readers need is noted
        if listed:
            note_request(entry, environ)
        rejected: str | None = None  # why a request was refused, for the journal's summary
        try:
            if (method if not head else "GET") not in route.methods:
                raise MockError(
                    405, f"Method {method} is not allowed on this route; use {route.allow}.",
                    kind="method_not_allowed", headers=[("Allow", route.allow)])
            if bad_session is not None:
                raise bad_session
            self.state.ready()  # a shared backend known to be down: a 503 at once (issue 10)
            controls = read_controls(environ, self.config.max_request_seconds)
            call = Call(environ, controls, entry, sub, session)
            answer = route.handler(call)
            if call.headers:
                answer.headers = [*call.headers, *answer.headers]
        except MockError as error:
            answer = Answer(status=error.status, headers=error.headers,
                            body=shape.error_body(error, request_id))
            entry.outcome = "fault" if error.status in (429, 529) or error.status >= 500 or (
                entry.fault) else "error"
            if entry.outcome == "error":
                rejected = error.message
        except StateUnavailable as exc:  # Redis is down: an answer, not a traceback (issue 10)
            log.warning("sse_mock: state backend unavailable: %s", exc)
            down = MockError(503, f"State backend unavailable (sse_mock: {exc}); try again.",
                             kind="overloaded", code="state_backend_unavailable")
            answer = Answer(status=503, body=shape.error_body(down, request_id))
            entry.outcome = "error"
        except Exception as exc:  # a bug: answer in the client's shape, keep the traceback
            log.exception("sse_mock: error while answering %s", path_of(environ))
            bug = MockError(500, f"sse_mock internal error: {type(exc).__name__}",
                            kind="server_error")
            answer = Answer(status=500, body=shape.error_body(bug, request_id))
            entry.outcome = "error"
        entry.status = answer.status
        if listed and (entry.body is not None or entry.outcome == "error"):
            # Large or rejected bodies are journaled as a summary, never whole (issue 9).
            entry.body = body_record(entry.body, _content_length(environ), rejected)
        if listed and answer.status >= 400:
            note_answer(entry, answer.headers)  # retry hints, for the verdict
        headers = _merge(shape.headers(request_id, environ), answer.headers)
        headers += cors.response_headers(environ)
        frames = answer.frames
        stream = frames if frames is not None else answer.chunks
        if stream is not None and answer.status == 200 and not answer.body:
            content_type = (answer.framing.content_type if frames is not None
                            else answer.content_type or SSE.content_type)
            stream_headers = STREAM_HEADERS if content_type == SSE.content_type else [
                ("Content-Type", content_type), *STREAM_HEADERS[1:]]
            start_response(status_line(200), [*stream_headers, *headers])
            if head:
                _close(stream)
                Journal.end(entry, "completed")
                return []
            if frames is not None:
                # The pacer's generator goes to the server as it is (pacing.py, Divergence #2).
                framing = answer.framing
                return self.pacer.pace(frames, answer.timing, framing.first, framing.heartbeat,
                                       _Tally(entry, environ))
            return self._stream(answer.chunks, entry, environ)  # type: ignore[arg-type]  # `stream`
        body = answer.body
        if answer.status == 204:
            start_response(status_line(204), headers)
            Journal.end(entry, "completed" if entry.outcome == "in progress" else entry.outcome)
            return []
        start_response(status_line(answer.status),
                       [JSON_TYPE, ("Content-Length", str(len(body))), *headers])
        if answer.chunks is None:  # every entry ends once: that writes its record
            Journal.end(entry, "completed" if entry.outcome == "in progress" else entry.outcome)
        if head:
            return []
        if answer.chunks is not None:  # a non-streamed answer that drops the connection
            return self._stream(answer.chunks, entry, environ)
        return [body]

    def _stream(
        self, chunks: Iterator[bytes], entry: Any, environ: WSGIEnvironment
    ) -> Iterator[bytes]:
        """Hand the chunks to the server; record how the stream ended, whatever happens.

        A client that goes away shows up as ``close()`` (GeneratorExit at the ``yield``) or as a
        server's timeout (SystemExit in a gunicorn sync worker). How it ended is told as the
        pacer tells it (:class:`_Tally`), after the chunks are closed.
        """
        tally = _Tally(entry, environ)
        try:
            try:
                for chunk in chunks:
                    entry.bytes += len(chunk)
                    yield chunk
            finally:
                _close(chunks)
        except BaseException as error:
            instead = tally_ended(tally, entry.events, entry.bytes, error)
            if instead is None:
                raise
            raise instead from None
        tally.ended(entry.events, entry.bytes, None)


class _Tally:
    """A stream's journal entry, as the pacer's :class:`~sse_mock.pacing.Tally` (and for the
    other streams, :meth:`SSEMockMiddleware._stream`'s): the counts, and the outcome of how the
    stream ended. Counts arrive after every write only while the journal lists the stream in
    progress (pacing.py, Divergence #2)."""

    __slots__ = ("entry", "environ", "live")

    def __init__(self, entry: Entry, environ: WSGIEnvironment) -> None:
        self.entry, self.environ, self.live = entry, environ, entry.listed

    def sent(self, events: int, size: int) -> None:
        entry = self.entry
        entry.events, entry.bytes = events, size

    def ended(self, events: int, size: int, error: BaseException | None) -> BaseException | None:
        entry = self.entry
        entry.events, entry.bytes = events, size
        instead = error
        if error is None:
            outcome = "fault" if entry.fault else "completed"
        elif isinstance(error, StreamAbort):
            outcome, instead = "fault", _quiet_drop(self.environ, error)
        elif isinstance(error, Exception):
            outcome = "error"  # a bug of the mock's (the server logs its traceback)
        else:  # GeneratorExit (the server closed the stream), or a server's SystemExit
            outcome = "client went away"
        Journal.end(entry, outcome)
        return instead


def _concurrent_anyway(environ: Mapping[str, Any]) -> bool:
    """A server that says ``wsgi.multithread`` is false but serves requests concurrently on an
    event loop: gevent's WSGI server, and uWSGI's async mode (``--gevent N``)."""
    if str(environ.get("SERVER_SOFTWARE", "")).startswith("gevent"):
        return True
    return "uwsgi.version" in environ and uwsgi_async_cores() > 1


def _quiet_drop(environ: Mapping[str, Any], abort: StreamAbort) -> BaseException:
    """The exception that makes this server drop the connection without logging an ERROR.

    An injected disconnect is a fault, not a bug (issue 9). ``StreamAbort`` (ECONNRESET) does
    that on werkzeug and gunicorn; waitress logs a traceback for anything but its own
    ``ClientDisconnected`` (logged at INFO), so there the stream raises that instead.
    """
    if "waitress.client_disconnected" in environ:
        channel = sys.modules.get("waitress.channel")
        disconnected = getattr(channel, "ClientDisconnected", None)
        if isinstance(disconnected, type) and issubclass(disconnected, Exception):
            return disconnected(str(abort))
    return abort


def _content_length(environ: Mapping[str, Any]) -> int | None:
    text = environ.get("CONTENT_LENGTH") or ""
    return int(text) if text.isascii() and text.isdigit() else None


def glue_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The "wrapped app" of a middleware that framework glue uses only through
    :meth:`SSEMockMiddleware.answer` (which never calls it)."""
    raise RuntimeError("sse_mock: this middleware answers through answer() only")


def _no_write(data: bytes) -> None:  # pragma: no cover - the mock never calls write()
    raise RuntimeError("sse_mock: write() is not supported")


def _close(it: Any) -> None:
    close = getattr(it, "close", None)
    if close is not None:
        close()


def _merge(base: list[tuple[str, str]], extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`base` with `extra` on top: a header in `extra` replaces the same name in `base`."""
    if not extra:
        return list(base)
    names = {name.lower() for name, _ in extra}
    return [h for h in base if h[0].lower() not in names] + list(extra)


def path_of(environ: Mapping[str, Any]) -> str:
    return (environ.get("SCRIPT_NAME", "") or "") + (environ.get("PATH_INFO", "") or "")


def wrap(app: WSGIApplication, config: Any = None, **options: Any) -> WSGIApplication:
    """Wrap `app` when the configuration is enabled; otherwise return `app` itself, unchanged.

    >>> def app(environ, start_response): ...
    >>> wrap(app, enabled=False) is app
    True
    """
    cfg = load_config(config, **options)
    if not cfg.enabled:
        return app
    return SSEMockMiddleware(app, cfg)
