"""The default routes: each turns one parsed request into an :class:`Answer`.

The plain stream and one route per LLM dialect, and what every LLM route does
alike (:func:`answer_llm`: decide, record or replay, shape, pace). What a handler receives and
returns (:class:`Call`, :class:`Answer`, :class:`Route`) is in :mod:`sse_mock.exchange`,
re-exported here.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .dialects.base import (
    SSE,
    Dialect,
    Frame,
    Framing,
    Message,
    MockError,
    Prompt,
    Reply,
    StreamContext,
    dumps,
)
from .dialects.plain import PlainDialect, parse_event_id, reply_tag
from .exchange import Answer, Call, Route, has_api_key, read_json_body, status_line
from .faults import Fault, StreamAbort, apply_stream_fault
from .journal import Entry
from .rules import nearest_rule
from .scenario import Decision, fit_reply
from .schema import structure
from .upstream.replay import closing, timed

if TYPE_CHECKING:
    from .middleware import SSEMockMiddleware

__all__ = ["Answer", "Call", "Route", "answer_llm", "has_api_key", "hold", "llm_route",
           "plain_route", "read_json_body", "status_line"]


def _counted(frames: Iterable[Frame], entry: Entry) -> Iterator[Frame]:
    for frame in frames:
        if frame.token:
            entry.events += 1
        yield frame


def _decide(
    mw: SSEMockMiddleware, call: Call, prompt: Prompt, family: str, resume: bool = False,
    answered: bool = False, miss: str = "", position: int | None = None,
) -> Decision:
    """The scenario's decision, with what every route does alike: strict mode's error for an
    unmatched request, and HTTP faults (which fail before any stream starts).

    `answered`: a cassette or the upstream answers (strict mode has nothing to say); `miss`: why
    no cassette did, for strict mode's error."""
    if not resume:  # [ratelimit] quotas: a 429, or the headers that count down (issue 10)
        call.headers += mw.quotas.check(call.environ, call.session, prompt, family)
    scenario = mw.scenario
    decision = scenario.decide(prompt, call.controls, call.environ, resume=resume,
                               session=call.session, position=position)
    call.entry.rule = decision.rule
    if decision.rule is None and mw.config.strict and not answered and (scenario.rules or miss):
        why = [miss] if miss else []
        if scenario.rules:
            near = nearest_rule(scenario.rules, prompt)
            why.append(f"the nearest rule is {near.label if near else 'none'}")
        what = ("cassette or rule" if scenario.rules else "cassette") if miss else "rule"
        raise MockError(404, f"No mock {what} matches this request (strict mode); "
                        f"{'; '.join(why)}.", kind="not_found",
                        code="no_matching_cassette" if miss else "no_matching_rule")
    fault = decision.fault
    if fault is not None:
        call.entry.fault = fault.spec
        if not fault.in_stream:
            if fault.name == "timeout":
                hold(fault.seconds, mw.config.max_request_seconds, call.environ)
            raise fault.to_error(family, decision.should_retry)
    return decision


def hold(seconds: float, cap: float, environ: Mapping[str, Any] | None = None) -> None:
    """A non-streamed wait (a ``timeout`` fault, the time to first token of a JSON answer).

    Nothing is written while it lasts, so the server cannot notice that the client left: the
    wait is never longer than ``max_request_seconds``, whatever its source (issue 9: four
    abandoned requests must not hold waitress' four threads for longer). Where the server shows
    its connection (werkzeug's and gunicorn's socket, waitress' ``client_disconnected``), the
    wait also ends within :data:`HOLD_POLL` seconds of the client going away.
    """
    end = time.monotonic() + min(seconds, cap)
    gone = _gone_probe(environ) if environ is not None else None
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(left, HOLD_POLL) if gone is not None else left)
        if gone is not None and gone():
            return


#: How often a non-streamed wait looks whether its client is still there.
HOLD_POLL = 0.25


def _gone_probe(environ: Mapping[str, Any]) -> Callable[[], bool] | None:
    """A function that says whether the client has closed its connection, if the server lets
    us see it; None otherwise (gevent, wsgiref, test clients)."""
    check = environ.get("waitress.client_disconnected")
    if callable(check):
        return lambda: bool(check())
    sock = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
    peek = getattr(socket, "MSG_PEEK", 0) | getattr(socket, "MSG_DONTWAIT", 0)
    if not isinstance(sock, socket.socket) or not getattr(socket, "MSG_DONTWAIT", 0):
        return None

    def closed() -> bool:
        try:
            # An orderly close reads as b"" at once; a pipelined request as data; else nothing.
            return sock.recv(1, peek) == b""
        except (BlockingIOError, InterruptedError):
            return False
        except ValueError:  # e.g. a TLS socket, which takes no flags: cannot tell
            return False
        except OSError:  # reset by the peer
            return True

    return closed


def llm_route(mw: SSEMockMiddleware, dialect: Dialect) -> Route:
    config = mw.config

    def handle(call: Call) -> Answer:
        environ = call.environ
        if config.require_api_key and not has_api_key(environ):
            raise MockError(401, "Missing API key: send Authorization: Bearer <key> (OpenAI) "
                            "or x-api-key (Anthropic).", kind="authentication")
        body = call.json_body(config.max_body_size)
        return answer_llm(mw, call, dialect, dialect.parse(body))

    return Route(dialect.name, dialect.path, frozenset({"POST"}), handle, dialect.family)


def answer_llm(mw: SSEMockMiddleware, call: Call, dialect: Dialect, prompt: Prompt) -> Answer:
    """Decide, shape and pace the answer to a parsed LLM request (every dialect alike)."""
    miss = ""
    if mw.upstream is not None:  # record and replay: a cassette or the upstream may answer
        recorded, miss = _recorded(mw, call, dialect, prompt)
        if recorded is not None:
            return recorded
    decision = _decide(mw, call, prompt, dialect.family, miss=miss)
    fault = decision.fault
    reply = fit_reply(_structured(mw, call, decision, prompt), prompt)
    ctx = dialect.new_context(prompt)
    if prompt.stream:
        framing: Framing = getattr(dialect, "framing", SSE)
        frames: Iterable[Frame] = dialect.stream(reply, prompt, ctx)
        if fault is not None:
            frames = apply_stream_fault(frames, fault, dialect, ctx)
        return Answer(frames=frames, timing=decision.timing, framing=framing)
    # Not streamed: the answer arrives after the time to first token.
    if decision.timing.first_token_delay:
        hold(decision.timing.first_token_delay, mw.config.max_request_seconds, call.environ)
    return _body_answer(dumps(dialect.complete(reply, prompt, ctx)).encode(), fault)


def _structured(mw: SSEMockMiddleware, call: Call, decision: Decision, prompt: Prompt) -> Reply:
    """Tool arguments and structured output from the request's JSON Schemas (sse_mock.schema);
    a rule's fixed ones are checked: a mismatch is noted in the journal, an error when strict."""
    reply, problems = structure(decision.reply, prompt, decision.timing.seed, decision.given)
    if problems:
        call.entry.schema_errors = problems
        if mw.config.strict:
            raise MockError(422, "The mock's reply does not fit the request's JSON Schema "
                            f"(strict mode): {'; '.join(problems[:5])}", kind="invalid_request",
                            code="schema_mismatch")
    return reply


def _body_answer(body: bytes, fault: Fault | None, status: int = 200,
                 headers: list[tuple[str, str]] | None = None) -> Answer:
    """A non-streamed answer with the stream faults that apply to one."""
    if fault is not None and fault.name == "error_after":
        raise MockError(500, "The server had an error while processing your request "
                        "(mocked by sse_mock).", kind="server_error")
    if fault is not None and fault.name == "disconnect_after":
        # Promise the whole body, send half, drop the connection: an incomplete read.
        return Answer(status=status, headers=headers or [], body=body,
                      chunks=_half_then_abort(body, fault.spec))
    return Answer(status=status, headers=headers or [], body=body)


def _recorded(
    mw: SSEMockMiddleware, call: Call, dialect: Dialect, prompt: Prompt
) -> tuple[Answer | None, str]:
    """Record and replay (sse_mock.upstream): a cassette's answer, or the upstream's — streamed
    through as it arrives while it is recorded — with the faults of the request's controls,
    rules and chaos on top. ``(None, why)`` when neither answers: the scenario does."""
    up = mw.upstream
    assert up is not None
    request = up.request(dialect.name, dialect.family, call.environ, prompt.body, prompt.model,
                         prompt.stream)
    cassette = up.find(request)
    if cassette is None and not up.records(request):
        return None, (up.nearest(request) if mw.config.strict else "")
    decision = _decide(mw, call, prompt, dialect.family, answered=True)
    exchange = (up.replay(cassette) if cassette is not None
                else up.call(request, call.environ, prompt.body))
    call.entry.source, call.entry.cassette = exchange.source, exchange.cassette or None
    fault = decision.fault
    if exchange.frames is None:
        if exchange.source == "replay":  # a live answer has taken its own time already
            hold(exchange.wait if up.recorded_timing else decision.timing.first_token_delay,
                 mw.config.max_request_seconds, call.environ)
        if exchange.status >= 300:  # an upstream error, passed through as it came
            call.entry.outcome = "fault" if exchange.status in (429, 529) or (
                exchange.status >= 500) else "error"
            return Answer(exchange.status, exchange.headers, exchange.body), ""
        return _body_answer(exchange.body, fault, exchange.status, exchange.headers), ""
    framing: Framing = getattr(dialect, "framing", SSE)
    frames: Iterable[Frame] = exchange.frames
    if fault is not None:
        frames = apply_stream_fault(frames, fault, dialect, dialect.new_context(prompt))
    frames = _counted(frames, call.entry)
    if exchange.live or exchange.timed:
        chunks = timed(frames, live=exchange.live, first=framing.first)
    else:  # replay_timing = "mock"
        chunks = mw.pacer.pace(frames, decision.timing, framing.first, framing.heartbeat)
    return Answer(exchange.status, exchange.headers, chunks=closing(chunks, exchange.close),
                  content_type=None if framing is SSE else framing.content_type), ""


def _half_then_abort(body: bytes, spec: str) -> Iterator[bytes]:
    yield body[: max(1, len(body) // 2)]
    raise StreamAbort(spec)


def plain_route(mw: SSEMockMiddleware) -> Route:
    dialect = PlainDialect()
    retry = mw.config.retry

    def handle(call: Call) -> Answer:
        # `?prompt=` lets the demo page (EventSource: GET only) drive rules and echo.
        said = call.controls.prompt
        messages = (Message("user", said),) if said else ()
        prompt = Prompt(route="plain", stream=True, messages=messages)
        last_id = call.environ.get("HTTP_LAST_EVENT_ID")
        after, fingerprint, position = -1, None, None
        if last_id is not None:
            try:
                after, fingerprint, position = parse_event_id(last_id)
            except ValueError:
                raise MockError(400, f"Invalid Last-Event-ID {last_id[:40]!r}: not an id of "
                                "this stream.", param="Last-Event-ID") from None
        decision = _decide(mw, call, prompt, "plain", resume=last_id is not None,
                           position=position)
        text = decision.reply.text
        tag = reply_tag(text, decision.position)
        if last_id is not None:
            # A reconnecting EventSource (§1.7): the id names the reply (its fingerprint and
            # place in a sequence), recomputed here on any worker. Resume only the very reply
            # the client was reading; when it cannot be known, 204 stops the browser: never
            # the tail of another reply (issue 9). A bare index (no fingerprint) is trusted
            # only when no sequence is involved.
            same = tag.split(".")[0] == fingerprint if fingerprint is not None else (
                decision.position is None)
            if not same or after >= len(text.split()):
                # Or the stream was complete ([DONE] has the last index).
                call.entry.outcome = "completed"
                return Answer(status=204)
        fault = decision.fault
        if retry:
            call.entry.sse_retry = retry  # the verdict checks reconnects against it (§1.7)
        frames: Iterable[Frame] = dialect.stream(text, after=after, retry=retry, tag=tag)
        if fault is not None:
            frames = apply_stream_fault(frames, fault, dialect, StreamContext.new("", ""))
        return Answer(frames=frames, timing=decision.timing)

    return Route("plain", dialect.path, frozenset({"GET"}), handle, "plain")
