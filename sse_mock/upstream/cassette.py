"""The cassette: one recorded exchange as a human-readable JSON file.

A cassette holds the request (normalized: credentials removed, mock controls removed, body
redacted), the status, the response headers that matter, and either the events of a stream, each
with the offset in seconds at which it arrived, or the body of a non-streamed answer with its
offset. Its file name says what it is — ``<route>--<model>--<short hash>.json``, e.g.
``openai-chat--gpt-4o-mini--3f2a9c1b07.json`` — and the hash is the request's fingerprint: a
SHA-256 of the fields that decide the answer (configurable, ``cassette_match``), so finding the
cassette of a request is opening one file.

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: events are stored as their exact text (``"data: {...}\\n\\n"``), not as parsed
    JSON: a replay must be byte-exact, and a re-serialized object would not be.
Divergence #2: credentials are removed before anything is written or hashed — the headers
    ``Authorization``, ``x-api-key``, ``api-key``, ``x-goog-api-key`` (and any configured in
    ``redact_headers``), a ``key`` query parameter, and every match of the built-in and configured
    ``redact_patterns`` in the body and the events — so a cassette can be committed. A pattern
    that matches inside an event changes that event's bytes: the replay then differs from the
    upstream only there.
Divergence #3: bytes that are not UTF-8 (never valid SSE, §1.1) are kept with Python's
    ``surrogateescape``, so even a broken upstream replays as it came.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

__all__ = [
    "CREDENTIAL_HEADERS",
    "Cassette",
    "CassetteError",
    "Redactor",
    "Request",
    "differences",
    "fingerprint",
]

FORMAT = 1  # the "sse_mock_cassette" version written into every file

#: Request and response headers that hold credentials: never written, whatever is configured.
CREDENTIAL_HEADERS = frozenset({
    "authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key",
    "cookie", "set-cookie",
})
#: Query parameters that hold credentials (Gemini's ``?key=``).
CREDENTIAL_PARAMS = frozenset({"key", "api_key", "api-key", "access_token"})
#: API key shapes removed from bodies and events even when no pattern is configured:
#: OpenAI and Anthropic (``sk-…``, ``sk-ant-…``, ``sk-proj-…``) and Google (``AIza…``).
BUILTIN_PATTERNS = (r"sk-[A-Za-z0-9_-]{20,}", r"AIza[0-9A-Za-z_-]{35}")
REDACTED = "[REDACTED]"

#: Request headers that change a provider's answer and are worth keeping in the file.
KEPT_REQUEST_HEADERS = frozenset({"anthropic-version", "anthropic-beta", "openai-beta"})
#: Response headers that matter to a client (ids, rate limits, retry hints; §2.2, §4.1, §5.5).
KEPT_RESPONSE_HEADERS = frozenset({
    "x-request-id", "request-id", "openai-processing-ms", "openai-version", "x-should-retry",
    "retry-after", "retry-after-ms",
})
KEPT_RESPONSE_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-")


class CassetteError(ValueError):
    """A cassette file that cannot be read as one."""


class Redactor:
    """Removes credentials: header names (case-insensitive) and text patterns (regular
    expressions) from strings anywhere in a JSON value."""

    def __init__(self, headers: Iterable[str] = (), patterns: Iterable[str] = ()) -> None:
        self.headers = CREDENTIAL_HEADERS | {h.lower() for h in headers}
        self._pattern = re.compile("|".join(f"(?:{p})" for p in (*BUILTIN_PATTERNS, *patterns)))

    def keeps_header(self, name: str) -> bool:
        return name.lower() not in self.headers

    def text(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text)

    def value(self, obj: Any) -> Any:
        """`obj` (decoded JSON) with every pattern match in its strings replaced."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, dict):
            return {k: self.value(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.value(v) for v in obj]
        return obj


def _select(body: Mapping[str, Any], fields: Sequence[str]) -> Any:
    """The parts of `body` that decide the answer: all of it for ``*``, else the named fields
    (dotted for nested ones: ``generationConfig.temperature``); absent fields are left out."""
    if "*" in fields:
        return dict(body)
    out: dict[str, Any] = {}
    for name in fields:
        node: Any = body
        for part in name.split("."):
            node = node.get(part, _ABSENT) if isinstance(node, dict) else _ABSENT
        if node is not _ABSENT:
            out[name] = node
    return out


_ABSENT = object()


def fingerprint(path: str, query: Sequence[tuple[str, str]], stream: bool, selected: Any) -> str:
    """SHA-256 of the canonical JSON of what decides the answer. Whether the client asked for a
    stream always counts, whatever the match fields: a stream and a JSON body never mix."""
    material = {"path": path, "query": [list(p) for p in query], "stream": stream,
                "body": selected}
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Request:
    """One request as a cassette keeps it: no credentials, no mock controls."""

    route: str  # the dialect, e.g. "openai-chat"
    family: str  # which [upstream] base URL: "openai" | "anthropic" | …
    method: str
    path: str  # relative to the mock's prefix, e.g. "/v1/chat/completions"
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]
    body: Any
    model: str
    stream: bool
    fields: tuple[str, ...]
    fingerprint: str

    @classmethod
    def build(
        cls, *, route: str, family: str, method: str, path: str, query_string: str,
        headers: Mapping[str, str], body: Mapping[str, Any], model: str, stream: bool,
        fields: Sequence[str], redactor: Redactor, drop_params: Iterable[str] = (),
    ) -> Request:
        drop = CREDENTIAL_PARAMS | set(drop_params)
        query = tuple((k, redactor.text(v)) for k, v in parse_qsl(query_string,
                                                                  keep_blank_values=True)
                      if k not in drop)
        kept = {k.lower(): redactor.text(v) for k, v in headers.items()
                if k.lower() in KEPT_REQUEST_HEADERS and redactor.keeps_header(k)}
        clean = redactor.value(dict(body))
        digest = fingerprint(path, query, stream, _select(clean, fields))
        return cls(route=route, family=family, method=method, path=path, query=query,
                   headers=kept, body=clean, model=redactor.text(model), stream=stream,
                   fields=tuple(fields), fingerprint=digest)

    @property
    def name(self) -> str:
        """The cassette's file name: ``<route>--<model>--<10 hex of the fingerprint>.json``."""
        model = _SAFE.sub("_", self.model).strip("._")[:60] or "no-model"
        return f"{self.route}--{model}--{self.fingerprint[:10]}.json"

    def selected(self) -> Any:
        return _select(self.body, self.fields)

    def to_json(self) -> dict[str, Any]:
        return {"route": self.route, "family": self.family, "method": self.method,
                "path": self.path, "query": [list(p) for p in self.query],
                "headers": dict(self.headers), "model": self.model, "stream": self.stream,
                "body": self.body}


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def response_headers(
    headers: Iterable[tuple[str, str]], redactor: Redactor
) -> list[tuple[str, str]]:
    """The response headers worth recording and replaying (ids, rate limits, retry hints)."""
    return [(k.lower(), v) for k, v in headers
            if (k.lower() in KEPT_RESPONSE_HEADERS or k.lower().startswith(KEPT_RESPONSE_PREFIXES))
            and redactor.keeps_header(k)]


@dataclass
class Cassette:
    """One recorded exchange. ``events`` (offset seconds, exact bytes) for a stream, else
    ``body`` arriving at ``body_at`` seconds."""

    request: Request
    status: int
    content_type: str
    headers: list[tuple[str, str]]
    events: list[tuple[float, bytes]] = field(default_factory=list)
    body: bytes | None = None
    body_at: float = 0.0
    recorded_at: str = ""
    # Which events carry content (events.is_content), worked out once per loaded cassette.
    content: list[bool] | None = field(default=None, repr=False, compare=False)

    @property
    def streamed(self) -> bool:
        return self.body is None

    @property
    def duration(self) -> float:
        return self.events[-1][0] if self.events else self.body_at

    def dumps(self) -> str:
        """The file's text: indented JSON, one event per line (a reviewer reads it top down)."""
        doc: dict[str, Any] = {
            "sse_mock_cassette": FORMAT,
            "recorded_at": self.recorded_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "fingerprint": self.request.fingerprint,
            "match": list(self.request.fields),
            "request": self.request.to_json(),
            "response": {"status": self.status, "content_type": self.content_type,
                         "headers": dict(self.headers)},
        }
        response = doc["response"]
        if self.body is not None:
            response["body_at"] = round(self.body_at, 4)
            response["body"] = _text(self.body)
            return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        response["duration"] = round(self.duration, 4)
        response["events"] = "\0EVENTS\0"
        text = json.dumps(doc, indent=2, ensure_ascii=False)
        lines = ",\n".join(
            "      " + json.dumps({"t": round(t, 4), "event": _text(data)}, ensure_ascii=False)
            for t, data in self.events)
        events = f"[\n{lines}\n    ]" if lines else "[]"
        return text.replace('"\\u0000EVENTS\\u0000"', events) + "\n"

    @classmethod
    def loads(cls, text: str, where: str = "cassette") -> Cassette:
        try:
            doc = json.loads(text)
            if doc.get("sse_mock_cassette") != FORMAT:
                raise CassetteError(f"{where}: not an sse_mock cassette (format {FORMAT})")
            req, resp = doc["request"], doc["response"]
            request = Request(
                route=req["route"], family=req["family"], method=req["method"],
                path=req["path"], query=tuple((str(k), str(v)) for k, v in req["query"]),
                headers=dict(req["headers"]), body=req["body"], model=req["model"],
                stream=bool(req["stream"]), fields=tuple(doc["match"]),
                fingerprint=doc["fingerprint"])
            cassette = cls(request=request, status=int(resp["status"]),
                           content_type=str(resp["content_type"]),
                           headers=[(str(k), str(v)) for k, v in resp["headers"].items()],
                           recorded_at=str(doc.get("recorded_at", "")))
            if "body" in resp:
                cassette.body = _bytes(resp["body"])
                cassette.body_at = float(resp["body_at"])
            else:
                cassette.events = [(float(e["t"]), _bytes(e["event"])) for e in resp["events"]]
        except CassetteError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CassetteError(f"{where}: not a valid cassette: {type(exc).__name__}: {exc}"
                                ) from None
        return cassette


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")  # Divergence #3


def _bytes(text: Any) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"expected a string, got {type(text).__name__}")
    return text.encode("utf-8", "surrogateescape")


def differences(a: Any, b: Any, path: str = "", limit: int = 50) -> list[str]:
    """Where two JSON values differ, as paths like ``messages[2].content`` (at most `limit`)."""
    out: list[str] = []
    for p in _walk(a, b, path):
        out.append(p or "(the whole request)")
        if len(out) >= limit:
            break
    return out


def _walk(a: Any, b: Any, path: str) -> Iterator[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in a or key not in b:
                yield sub
            else:
                yield from _walk(a[key], b[key], sub)
    elif isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            if i >= len(a) or i >= len(b):
                yield f"{path}[{i}]"
            else:
                yield from _walk(a[i], b[i], f"{path}[{i}]")
    elif a != b or type(a) is not type(b):
        yield path
