"""The seams between the pipeline's steps, in no provider's words.

``Prompt`` (what the client asked) → ``Reply`` (what to say) → ``Frame`` s (how one provider says
it, as whole SSE events) → pacing → bytes. A :class:`Dialect` is pure: no clock, no WSGI; it
parses a provider's JSON request into a ``Prompt`` and renders a ``Reply`` as frames or as the
non-streaming JSON object. Errors are raised as :class:`MockError` (provider-neutral ``kind``) and
rendered by the route's :class:`ErrorShape` in the provider's own JSON shape (PROTOCOLS.md §2.6,
§4.5).
"""

from __future__ import annotations

import functools
import json
import random
import string
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from ..tokens import count_tokens

__all__ = [
    "NDJSON",
    "SSE",
    "Dialect",
    "ErrorShape",
    "Frame",
    "Framing",
    "Message",
    "MockError",
    "Prompt",
    "Reply",
    "Steady",
    "StreamContext",
    "ToolCall",
    "Usage",
    "dumps",
    "random_id",
]


def dumps(obj: Any) -> str:
    """Compact JSON; never contains a raw CR/LF, so one `data:` line per event (§1.8 F-13).

    ``ensure_ascii`` stays on: U+2028/U+2029/U+0085 raw in a line break clients that split
    decoded text with ``str.splitlines()`` (§1.8 F-13).
    """
    return json.dumps(obj, separators=(",", ":"))


_ALNUM = string.ascii_letters + string.digits


@functools.lru_cache(maxsize=8)
def _id_table(alphabet: str) -> bytes:
    return bytes(ord(alphabet[i % len(alphabet)]) for i in range(256))


def random_id(prefix: str, length: int, alphabet: str = _ALNUM) -> str:
    """A realistic-looking id such as ``chatcmpl-`` + 29 alphanumerics (§2.3).

    Ids, not secrets: random bytes from the ``random`` module (re-seeded in each forked worker),
    each mapped to a character (the mapping's slight bias is harmless). ``secrets.choice`` per
    character was one system call each, 13 % of a worker's CPU under paced load
    (bench/results/load.md).
    """
    raw = random.getrandbits(length * 8).to_bytes(length, "little")  # random.randbytes inlined
    return prefix + raw.translate(_id_table(alphabet)).decode()


def request_id_openai() -> str:
    return f"req_{random.getrandbits(128):032x}"  # "req_" + 32 lowercase hex (§2.2)


def request_id_anthropic() -> str:
    return random_id("req_", 24)  # "req_" + 24 base62 (§5.5)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the model makes: a name and its JSON arguments (as text)."""

    name: str
    arguments: str = "{}"
    id: str = ""  # "" → the dialect makes one in the provider's format


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Reply:
    """What to say, in no provider's words.

    ``finish`` is neutral: "stop", "length", "tool_calls", "content_filter" or
    "stop_sequence"; None means "tool_calls" when there are tool calls, else "stop".
    """

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    finish: str | None = None
    usage: Usage | None = None

    @property
    def finish_reason(self) -> str:
        if self.finish is not None:
            return self.finish
        return "tool_calls" if self.tool_calls else "stop"


@dataclass(frozen=True, slots=True)
class Message:
    role: str  # "system" | "user" | "assistant" | "tool"
    text: str


@dataclass(slots=True)
class Prompt:
    """What the client asked, in no provider's words. Treat it as immutable: it is not a frozen
    dataclass only because a frozen one's ``__init__`` costs about 3× more (a microsecond of
    every request), and every request builds one."""

    route: str  # the dialect name, e.g. "openai-chat"
    model: str = ""
    messages: tuple[Message, ...] = ()
    stream: bool = False
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    n: int = 1
    include_usage: bool = False
    tools: tuple[str, ...] = ()
    has_tool_results: bool = False
    body: Mapping[str, Any] = field(default_factory=dict)

    @property
    def system(self) -> str:
        return "\n".join(m.text for m in self.messages if m.role == "system")

    @property
    def last_user(self) -> str:
        for m in reversed(self.messages):
            if m.role == "user":
                return m.text
        return ""

    @property
    def ends_with_tool_result(self) -> bool:
        """The last message is a tool's result: the client is answering a tool call."""
        return bool(self.messages) and self.messages[-1].role == "tool"

    @property
    def turn(self) -> int:
        """1 for the first user message, 2 for the second, …"""
        return sum(1 for m in self.messages if m.role == "user")


@dataclass(slots=True)
class Frame:
    """One or more complete SSE events (never a fragment, §1.8 F-14).

    ``token``: the frame carries one content token (counted by ``error_after:N`` and the like),
    so the pacer spaces it by the token interval. ``paced``: spaced like a token without being
    one (the plain stream's ``[DONE]``). Other frames leave as soon as the frames before them
    have left. ``pause``: extra seconds of silence before this frame (a stall).

    Treat it as immutable. It is not a frozen dataclass only because a frozen one's
    ``__init__`` costs about 3× more, and a stream builds one per token
    (bench/bench_chat_chunks.py).
    """

    data: bytes
    token: bool = False
    paced: bool = False
    pause: float = 0.0


class Steady:
    """A stream that is token frames between untimed ones: each of ``head`` (leaves at once),
    one token frame per item of ``tokens``, each of ``tail`` (follows the last token).

    Iterating it gives those :class:`Frame` objects, which is what stream faults, record and
    replay and the pacer's general loop see. Without jitter the pacer sends it from the bytes
    themselves, with no Frame per token (pacing.py, Divergence #3). Treat it as immutable.
    """

    __slots__ = ("head", "tail", "tokens")

    def __init__(self, head: Sequence[bytes], tokens: list[bytes], tail: Sequence[bytes]) -> None:
        self.head, self.tokens, self.tail = head, tokens, tail

    def __iter__(self) -> Iterator[Frame]:
        for data in self.head:
            yield Frame(data)
        for data in self.tokens:
            yield Frame(data, True)
        for data in self.tail:
            yield Frame(data)


@dataclass(frozen=True, slots=True)
class Framing:
    """How a dialect's stream is framed on the wire: its media type, the first chunk that makes
    every WSGI server send the headers at once (PROTOCOLS.md §5.4), and the keep-alive written
    after ``heartbeat`` seconds of silence. Both must be harmless to the provider's clients.
    """

    content_type: str
    first: bytes
    heartbeat: bytes


#: Server-sent events: a comment line first and as the heartbeat (§1.8 F-11, §5.4).
SSE = Framing("text/event-stream; charset=utf-8", b": ok\n", b": ping\n")

#: Newline-delimited JSON (Ollama, PROTOCOLS.md §9.2): one space, which is insignificant
#: whitespace before the next JSON text (RFC 8259 §2), so no line of its own (a blank line
#: makes ollama-python call ``json.loads("")``).
NDJSON = Framing("application/x-ndjson", b" ", b" ")


@dataclass
class StreamContext:
    """Per-response values a dialect needs: ids and timestamps, fixed for one response."""

    id: str
    created: int
    model: str
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(cls, id: str, model: str) -> StreamContext:
        return cls(id=id, created=int(time.time()), model=model)


class MockError(Exception):
    """An error answer, in no provider's words; an :class:`ErrorShape` renders it.

    ``kind``: invalid_request, authentication, permission, not_found, method_not_allowed,
    request_too_large, unsupported_media_type, rate_limit, server_error, overloaded, timeout.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request",
        param: str | None = None,
        code: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.param = param
        self.code = code
        self.headers = list(headers)


class ErrorShape(Protocol):
    """How one provider family words errors and which headers it puts on every answer."""

    name: str

    def new_request_id(self) -> str: ...

    def headers(self, request_id: str, environ: Mapping[str, Any]) -> list[tuple[str, str]]: ...

    def error_body(self, error: MockError, request_id: str) -> bytes: ...


class Dialect(Protocol):
    """How one provider says a reply: pure, no clock, no WSGI."""

    name: ClassVar[str]
    path: ClassVar[str]  # relative to the prefix, e.g. "/v1/chat/completions"
    family: ClassVar[str]  # "openai" | "anthropic": which ErrorShape words its errors

    def parse(self, body: Mapping[str, Any]) -> Prompt:
        """Validate a decoded JSON body; raise MockError (400, with ``param``) when wrong."""
        ...

    def new_context(self, prompt: Prompt) -> StreamContext: ...

    def stream(self, reply: Reply, prompt: Prompt, ctx: StreamContext) -> Iterable[Frame]:
        """The whole stream, start to terminator, as frames of whole events (iterated once)."""
        ...

    def complete(self, reply: Reply, prompt: Prompt, ctx: StreamContext) -> dict[str, Any]:
        """The non-streaming JSON object."""
        ...

    def in_band_error(self, error: MockError, ctx: StreamContext) -> bytes:
        """A mid-stream error event, in the provider's own shape (§2.6, §3.4, §4.5)."""
        ...

    def end_of_stream(self, ctx: StreamContext) -> bytes:
        """What follows an in-band error (e.g. ``data: [DONE]``), or b""."""
        ...


def whole_call_usage(reply: Reply, prompt: Prompt) -> tuple[int, int]:
    """(prompt tokens, output tokens) for the dialects whose tool calls arrive whole (Gemini
    §8.3, Ollama §9.3): counted — the text's tokens plus each call's arguments' — unless
    ``Reply.usage`` overrides them (-1 = it does not)."""
    prompt_tokens = count_tokens(m.text for m in prompt.messages)
    out = count_tokens(reply.text) + sum(count_tokens(c.arguments) for c in reply.tool_calls)
    usage = reply.usage
    if usage is not None:
        prompt_tokens = usage.input_tokens if usage.input_tokens >= 0 else prompt_tokens
        out = usage.output_tokens if usage.output_tokens >= 0 else out
    return prompt_tokens, out
