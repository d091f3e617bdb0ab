"""Ollama: ``POST /api/chat`` and ``POST /api/generate`` as NDJSON streams (PROTOCOLS.md §9).

``stream`` defaults to true. A stream is one JSON object per line (``application/x-ndjson``):
one per token (``message.content`` for chat, ``response`` for generate, ``done: false``), one
per tool call (a whole ``tool_calls`` entry with ``arguments`` as an object, §9.3), then the last
object with ``done: true``, ``done_reason`` and the timing fields (``total_duration``,
``load_duration``, ``prompt_eval_count``, ``prompt_eval_duration``, ``eval_count``,
``eval_duration``, all durations in nanoseconds). ``stream: false`` answers that last object
with the whole message instead.

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: the first chunk and the heartbeat are one space (:data:`~.base.NDJSON`): a
    non-empty first write makes every WSGI server send the headers at once (§5.4), and a space
    is insignificant whitespace before the next JSON text (RFC 8259 §2) where a blank line
    would make ollama-python call ``json.loads("")`` (§9.2).
Divergence #2: the durations are measured on the server's monotonic clock while the stream is
    produced (so ``eval_count / eval_duration`` is the mock's real pace); ``load_duration`` is a
    fixed 1 ms. This is the one place a dialect reads the clock.
Divergence #3: any model name is accepted (the real server answers 404 for a model it has not
    pulled); ``/api/tags`` lists the configured ``ollama_models``.
Divergence #4: ``created_at`` is the same on every object of one answer.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as escape
from typing import Any, ClassVar

from ..tokens import tokenize
from .base import (
    NDJSON,
    Frame,
    Framing,
    Message,
    MockError,
    Prompt,
    Reply,
    StreamContext,
    dumps,
    whole_call_usage,
)

__all__ = ["DONE_REASONS", "OllamaChatDialect", "OllamaGenerateDialect", "tags_listing"]

#: neutral ``Reply.finish_reason`` → Ollama ``done_reason`` (§9.3)
DONE_REASONS = {"length": "length"}

ROLES = ("system", "user", "assistant", "tool")
LOAD_NS = 1_000_000


def bad(message: str, param: str | None = None) -> MockError:
    """A 400 worded as Ollama's Go server words it (§9.5)."""
    return MockError(400, message, param=param)


def _unmarshal(value: Any, field: str, go_type: str) -> MockError:
    kind = ("number" if isinstance(value, int | float) and not isinstance(value, bool) else
            "bool" if isinstance(value, bool) else "array" if isinstance(value, list) else
            "object" if isinstance(value, dict) else "string")
    return bad(f"json: cannot unmarshal {kind} into Go struct field {field} of type {go_type}",
               field)


def created_at() -> str:
    """RFC 3339 with nanoseconds and ``Z``, as Ollama writes it (§9.3)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def tags_listing(models: tuple[str, ...]) -> dict[str, Any]:
    """``GET /api/tags`` (§9.6)."""
    out = []
    for i, name in enumerate(models):
        full = name if ":" in name else name + ":latest"
        digest = hashlib.sha256(full.encode()).hexdigest()
        out.append({
            "name": full,
            "model": full,
            "modified_at": "2025-01-01T00:00:00.000000000Z",
            "size": 2_000_000_000 + i,
            "digest": digest,
            "details": {"parent_model": "", "format": "gguf", "family": "llama",
                        "families": ["llama"], "parameter_size": "3.2B",
                        "quantization_level": "Q4_K_M"},
        })
    return {"models": out}


def _options(body: Mapping[str, Any]) -> tuple[int | None, tuple[str, ...]]:
    """``options.num_predict`` (-1 = no limit) and ``options.stop``."""
    options = body.get("options")
    if options is None:
        return None, ()
    if not isinstance(options, dict):
        raise _unmarshal(options, "ChatRequest.options", "map[string]interface {}")
    limit = options.get("num_predict")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise bad("option \"num_predict\" must be of type integer", "options.num_predict")
    stop = options.get("stop") or []
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise bad("option \"stop\" must be of type array", "options.stop")
    return (limit if limit is not None and limit >= 0 else None), tuple(stop)


def _stream_flag(body: Mapping[str, Any]) -> bool:
    stream = body.get("stream", True)
    if stream is None:
        return True
    if not isinstance(stream, bool):
        raise _unmarshal(stream, "stream", "bool")
    return stream


def _model(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if not model:
        raise bad("model is required", "model")
    if not isinstance(model, str):
        raise _unmarshal(model, "model", "string")
    return model


def _tool_names(tools: Any) -> tuple[str, ...]:
    if tools is None:
        return ()
    if not isinstance(tools, list):
        raise _unmarshal(tools, "ChatRequest.tools", "api.Tools")
    names = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str) or not name:
            raise bad("invalid tool: function name is required", "tools")
        names.append(name)
    return tuple(names)


class _OllamaBase:
    family: ClassVar[str] = "ollama"
    framing: ClassVar[Framing] = NDJSON

    def new_context(self, prompt: Prompt) -> StreamContext:
        ctx = StreamContext.new("", prompt.model)
        ctx.extra["t0"] = time.monotonic_ns()
        ctx.extra["created_at"] = created_at()
        return ctx

    def _done(self, reply: Reply, prompt: Prompt, ctx: StreamContext) -> dict[str, Any]:
        """The fields of the last object: done, done_reason and the timing (Divergence #2)."""
        prompt_tokens, out = whole_call_usage(reply, prompt)
        t0: int = ctx.extra["t0"]
        now = time.monotonic_ns()
        first: int = ctx.extra.get("t_first", now)
        total = max(now - t0, LOAD_NS + 2)
        prompt_ns = max(first - t0 - LOAD_NS, 1)
        return {
            "done": True,
            "done_reason": DONE_REASONS.get(reply.finish_reason, "stop"),
            "total_duration": total,
            "load_duration": LOAD_NS,
            "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": prompt_ns,
            "eval_count": out,
            "eval_duration": max(total - LOAD_NS - prompt_ns, 1),
        }

    @staticmethod
    def _line(obj: Mapping[str, Any]) -> bytes:
        return dumps(obj).encode() + b"\n"

    def in_band_error(self, error: MockError, ctx: StreamContext) -> bytes:
        """§9.5: ``{"error": "<message>"}`` as one line; ollama-python raises ResponseError."""
        return self._line({"error": error.message})

    def end_of_stream(self, ctx: StreamContext) -> bytes:
        return b""  # §9.5: the stream ends after the error line

    def _token_frames(self, reply: Reply, ctx: StreamContext, head: bytes,
                      tail: bytes) -> Iterator[Frame]:
        cache: dict[str, Frame] = {}
        first = True
        for token in tokenize(reply.text):
            if first:
                ctx.extra["t_first"] = time.monotonic_ns()
                first = False
            frame = cache.get(token)
            if frame is None:
                frame = cache[token] = Frame(head + escape(token).encode() + tail, token=True)
            yield frame


class OllamaChatDialect(_OllamaBase):
    """``POST /api/chat`` (§9.3)."""

    name: ClassVar[str] = "ollama-chat"
    path: ClassVar[str] = "/api/chat"

    def parse(self, body: Mapping[str, Any]) -> Prompt:
        model = _model(body)
        raw = body.get("messages") or []
        if not isinstance(raw, list):
            raise _unmarshal(raw, "ChatRequest.messages", "[]api.Message")
        messages: list[Message] = []
        has_results = False
        for i, m in enumerate(raw):
            if not isinstance(m, dict):
                raise _unmarshal(m, "ChatRequest.messages", "api.Message")
            role = m.get("role")
            if role not in ROLES:
                raise bad(f"invalid role {role!r} in messages[{i}]; expected system, user, "
                          "assistant or tool", f"messages[{i}].role")
            content = m.get("content", "")
            if content is None:
                content = ""
            if not isinstance(content, str):
                raise _unmarshal(content, "Message.messages.content", "string")
            has_results |= role == "tool"
            messages.append(Message(role, content))
        limit, stop = _options(body)
        return Prompt(route=self.name, model=model, messages=tuple(messages),
                      stream=_stream_flag(body), max_tokens=limit, stop=stop,
                      tools=_tool_names(body.get("tools")), has_tool_results=has_results,
                      body=body)

    @staticmethod
    def _calls(reply: Reply) -> list[dict[str, Any]]:
        calls = []
        for index, call in enumerate(reply.tool_calls):
            try:
                args = json.loads(call.arguments) if call.arguments.strip() else {}
            except ValueError:
                args = {}
            calls.append({"function": {"index": index, "name": call.name, "arguments": args}})
        return calls

    def stream(self, reply: Reply, prompt: Prompt, ctx: StreamContext) -> Iterator[Frame]:
        start = {"model": ctx.model, "created_at": ctx.extra["created_at"]}
        head = dumps(start)[:-1].encode() + b',"message":{"role":"assistant","content":'
        yield from self._token_frames(reply, ctx, head, b'},"done":false}\n')
        if reply.tool_calls:
            ctx.extra.setdefault("t_first", time.monotonic_ns())
            yield Frame(self._line({**start, "message": {
                "role": "assistant", "content": "", "tool_calls": self._calls(reply)},
                "done": False}), token=True)
        yield Frame(self._line({**start, "message": {"role": "assistant", "content": ""},
                                **self._done(reply, prompt, ctx)}))

    def complete(self, reply: Reply, prompt: Prompt, ctx: StreamContext) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.tool_calls:
            message["tool_calls"] = self._calls(reply)
        return {"model": ctx.model, "created_at": ctx.extra["created_at"], "message": message,
                **self._done(reply, prompt, ctx)}


class OllamaGenerateDialect(_OllamaBase):
    """``POST /api/generate`` (§9.4): ``prompt`` (+ ``system``) in, ``response`` pieces out."""

    name: ClassVar[str] = "ollama-generate"
    path: ClassVar[str] = "/api/generate"

    def parse(self, body: Mapping[str, Any]) -> Prompt:
        model = _model(body)
        messages: list[Message] = []
        for key, role in (("system", "system"), ("prompt", "user")):
            value = body.get(key)
            if value is None:
                continue
            if not isinstance(value, str):
                raise _unmarshal(value, f"GenerateRequest.{key}", "string")
            if value or role == "user":
                messages.append(Message(role, value))
        limit, stop = _options(body)
        return Prompt(route=self.name, model=model, messages=tuple(messages),
                      stream=_stream_flag(body), max_tokens=limit, stop=stop, body=body)

    def stream(self, reply: Reply, prompt: Prompt, ctx: StreamContext) -> Iterator[Frame]:
        start = {"model": ctx.model, "created_at": ctx.extra["created_at"]}
        head = dumps(start)[:-1].encode() + b',"response":'
        yield from self._token_frames(reply, ctx, head, b',"done":false}\n')
        yield Frame(self._line({**start, "response": "", **self._done(reply, prompt, ctx),
                                "context": [1, 2, 3]}))

    def complete(self, reply: Reply, prompt: Prompt, ctx: StreamContext) -> dict[str, Any]:
        return {"model": ctx.model, "created_at": ctx.extra["created_at"],
                "response": reply.text, **self._done(reply, prompt, ctx), "context": [1, 2, 3]}
