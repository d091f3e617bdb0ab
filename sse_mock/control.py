"""Sessions and the control API: ``GET``/``DELETE <prefix>/_journal``, ``POST <prefix>/_next``,
``POST <prefix>/_reset``, ``GET <prefix>/_verdict``. DESIGN.md, "Added in the second round".

A request names its **session** by the ``X-Mock-Session`` header, else the ``session`` query
parameter (an ``EventSource`` cannot send headers, PROTOCOLS.md §1.7), else the
``sse_mock_session`` cookie (a browser page under test); no name is the default session ``""``.
Journal, queued actions, ``*count`` cycles and sequences are kept per session (the state seam).
A control call acts on the session it names.

Every route here is ``control=True``: the middleware answers it only through the one guard
(:mod:`sse_mock.guard`: no foreign ``Origin``, loopback ``Host``), and does not journal it.

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: ``POST _reset`` without a session restarts *everything* (every session, quotas
    included), not only the default session: "reset the mock" is what a test or a developer
    without sessions means.
Divergence #2: ``_next`` answers 200 with the session's whole queue, not 201/204: a test that
    scripts several answers sees at once what the mock will serve.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .config import ConfigError
from .dialects.base import MockError
from .exchange import Answer, Call, Route, read_json_body
from .queue import MAX_ITEM_BYTES, parse_next
from .state.base import MAX_QUEUE

if TYPE_CHECKING:
    from .middleware import SSEMockMiddleware

__all__ = ["COOKIE", "HEADER", "control_routes", "read_session"]

HEADER = "X-Mock-Session"
COOKIE = "sse_mock_session"
_ENVIRON_KEY = "HTTP_X_MOCK_SESSION"
#: A session name: what a test id or a worker name needs, nothing a log or a key could misread.
_NAME = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def _check(name: str, where: str) -> str:
    if name and not _NAME.fullmatch(name):  # empty: the default session
        raise MockError(400, f"Invalid session name {name[:40]!r} ({where}): 1–128 letters, "
                        "digits or . _ : @ / + = -", param="session")
    return name


def read_session(environ: Mapping[str, Any]) -> str:
    """The request's session name ("" = the default); a bad name is a 400 naming it."""
    value = environ.get(_ENVIRON_KEY)
    if value is not None:
        return _check(value.strip(), HEADER)
    query = environ.get("QUERY_STRING", "")
    if "session=" in query:
        for part in query.split("&"):
            key, _, raw = part.partition("=")
            if key == "session":
                from urllib.parse import unquote

                return _check(unquote(raw.replace("+", " ")), "?session=")
    cookies = environ.get("HTTP_COOKIE", "")
    if COOKIE in cookies:
        for part in cookies.split(";"):
            key, _, raw = part.strip().partition("=")
            if key == COOKIE:
                return _check(raw.strip().strip('"'), f"cookie {COOKIE}")
    return ""


def _json(data: Any, status: int = 200) -> Answer:
    return Answer(status=status, body=json.dumps(data, default=str).encode())


def _queue(mw: SSEMockMiddleware, session: str) -> list[Any]:
    return [json.loads(item) for item in mw.state.queue_items(session)]


def control_routes(mw: SSEMockMiddleware) -> list[Route]:
    def journal(call: Call) -> Answer:
        if call.environ["REQUEST_METHOD"] == "DELETE":
            mw.journal.clear(call.session)
            return Answer(status=204)
        entries = [e.to_dict() for e in mw.journal.entries(call.session)]
        body = json.dumps({"object": "list", "data": entries}, default=str).encode()
        return Answer(body=body)

    def next_(call: Call) -> Answer:
        session = call.session
        if call.environ["REQUEST_METHOD"] == "GET":
            return _json({"object": "list", "session": session, "data": _queue(mw, session)})
        payload = read_json_body(call.environ, 16 * MAX_ITEM_BYTES)
        try:
            items = parse_next(payload)
        except ConfigError as exc:
            raise MockError(400, str(exc), param=str(exc).split(":", 1)[0]) from None
        if len(mw.state.queue_items(session)) + len(items) > MAX_QUEUE:
            raise MockError(409, f"The queue of session {session!r} would hold more than "
                            f"{MAX_QUEUE} actions; reset it or let the mock serve some.",
                            kind="conflict")
        for item in items:
            mw.state.queue_push(session, item)
        return _json({"object": "list", "session": session, "queued": len(items),
                      "data": _queue(mw, session)})

    def reset(call: Call) -> Answer:
        session = call.session or None  # Divergence #1
        mw.state.reset(session)
        return _json({"object": "reset", "session": session if session is not None else "*"})

    def verdict(call: Call) -> Answer:
        records = [e.to_dict() for e in mw.journal.entries(call.session)]
        from .verdict import judge

        return _json(judge(records).to_dict())

    return [
        Route("journal", "/_journal", frozenset({"GET", "DELETE"}), journal, "plain",
              control=True),
        Route("next", "/_next", frozenset({"GET", "POST"}), next_, "plain", control=True),
        Route("reset", "/_reset", frozenset({"POST"}), reset, "plain", control=True),
        Route("verdict", "/_verdict", frozenset({"GET"}), verdict, "plain", control=True),
    ]
