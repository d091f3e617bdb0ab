"""What a route handler receives and returns: :class:`Call` in, :class:`Answer` out, and the
:class:`Route` that binds a handler to a path; with what every handler reads alike (the JSON
body, bounded; the API key) and the status lines the middleware writes.

Handlers know nothing of ``start_response``; the middleware adds CORS and provider headers and
speaks WSGI. A handler raises :class:`~sse_mock.dialects.base.MockError` for an error answer.
The handlers themselves are in :mod:`sse_mock.routes`, :mod:`sse_mock.control` and
:mod:`sse_mock.provider_routes`, above this module; :mod:`sse_mock.routes` re-exports these
names.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .controls import Controls
from .dialects.base import SSE, Frame, Framing, MockError
from .journal import Entry
from .pacing import Timing

__all__ = ["Answer", "Call", "Handler", "Route", "has_api_key", "read_json_body", "status_line"]


@dataclass
class Call:
    """One intercepted request, as the handlers see it."""

    environ: dict[str, Any]
    controls: Controls
    entry: Entry
    rest: str = ""  # the part of the path after a prefix route, e.g. the model id
    session: str = ""  # the request's session ("" = the default one): its state's namespace
    headers: list[tuple[str, str]] = field(default_factory=list)  # for the answer (quotas)

    def json_body(self, limit: int) -> dict[str, Any]:
        """The request's JSON object (:func:`read_json_body`), kept for the journal when it
        lists the entry (otherwise an open stream would hold it for nothing)."""
        body = read_json_body(self.environ, limit)
        if self.entry.listed:
            self.entry.body = body
        return body


@dataclass
class Answer:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    chunks: Iterator[bytes] | None = None  # a stream: whole events per chunk
    content_type: str | None = None  # a stream's media type; None = SSE (base.Framing)
    # A paced stream: frames the middleware paces (Pacer.pace, with the journal entry as the
    # tally), at `timing`, framed by `framing` (whose media type is the answer's).
    frames: Iterable[Frame] | None = None
    timing: Timing = Timing()
    framing: Framing = SSE


Handler = Callable[[Call], Answer]


@dataclass(frozen=True)
class Route:
    name: str
    path: str  # relative to the prefix
    methods: frozenset[str]
    handler: Handler
    family: str  # which error shape: "openai" | "anthropic" | "plain"
    prefix_match: bool = False  # True: path is a prefix (e.g. "/v1/models/")
    control: bool = False  # a control endpoint: answered only through guard.ControlGuard
    # Routes that share paths with others (Gemini's /v1/models/…:generateContent beside
    # OpenAI's /v1/models/{id}): tried before the others; `claims(rest, environ)` says whether
    # the request is this route's (`rest`: the path after the prefix, passed as Call.rest).
    claims: Callable[[str, Mapping[str, Any]], bool] | None = None

    @property
    def allow(self) -> str:
        methods = set(self.methods) | {"OPTIONS"}
        if "GET" in methods:
            methods.add("HEAD")
        return ", ".join(sorted(methods))


def _status_text(status: int) -> str:
    from http import HTTPStatus

    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} {'Site Overloaded' if status == 529 else 'Unknown'}"


STATUS_LINES = {s: _status_text(s) for s in (200, 204, 400, 401, 403, 404, 405, 408, 409, 413,
                                             415, 422, 429, 500, 502, 503, 504, 529)}


def status_line(status: int) -> str:
    return STATUS_LINES.get(status) or _status_text(status)


def read_json_body(environ: Mapping[str, Any], limit: int) -> dict[str, Any]:
    """The request body as a JSON object, or a 4xx MockError saying what is wrong."""
    ctype = environ.get("CONTENT_TYPE", "")
    media = ctype.split(";", 1)[0].strip().lower()
    if media and media != "application/json" and not media.endswith("+json"):
        raise MockError(400, f"Invalid Content-Type header ({ctype[:100]!r}); expected "
                        "application/json.", param="content-type",
                        kind="invalid_request")
    length_text = environ.get("CONTENT_LENGTH", "")
    stream = environ["wsgi.input"]
    if length_text:
        try:
            length = int(length_text)
        except ValueError:
            raise MockError(400, "Invalid Content-Length header.", param="content-length") from None
        if length < 0:
            raise MockError(400, "Invalid Content-Length header.", param="content-length")
        if length > limit:
            raise MockError(413, f"Request body too large: {length} bytes; the limit is "
                            f"{limit} bytes.", kind="request_too_large")
        body = stream.read(length) if length else b""
    elif environ.get("wsgi.input_terminated"):
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise MockError(413, f"Request body too large; the limit is {limit} bytes.",
                            kind="request_too_large")
    else:
        body = b""
    if not body.strip():
        raise MockError(400, "The request body is empty; expected a JSON object.", param="body")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MockError(400, f"The request body is not valid UTF-8 (byte {exc.start}).",
                        param="body") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(
            exc, json.JSONDecodeError) else ""
        raise MockError(400, f"We could not parse the JSON body of your request{where}. "
                        "Expected a JSON object.", param="body") from None
    if not isinstance(data, dict):
        raise MockError(400, f"The request body must be a JSON object, got "
                        f"{type(data).__name__}.", param="body")
    # Containers cannot nest deeper than the brackets the text opens (those inside strings
    # only add to the count): most bodies need no walk.
    if text.count("{") + text.count("[") > MAX_DEPTH and _depth_exceeds(data, MAX_DEPTH):
        # Deeper bodies would be echoed (Responses `tools`, the journal) close to Python's
        # recursion limit; no real request nests this deep.
        raise MockError(400, f"The request body is nested more than {MAX_DEPTH} levels deep.",
                        param="body")
    return data


MAX_DEPTH = 64


def _depth_exceeds(obj: Any, limit: int) -> bool:
    """True when containers in `obj` nest deeper than `limit` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def has_api_key(environ: Mapping[str, Any]) -> bool:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if auth.lower().startswith("bearer ") and auth[7:].strip():
        return True
    return bool(environ.get("HTTP_X_API_KEY", "").strip()
                or environ.get("HTTP_X_GOOG_API_KEY", "").strip())
