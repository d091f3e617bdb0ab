"""OpenAI Chat Completions: ``POST /v1/chat/completions`` (PROTOCOLS.md §2).

``stream: true`` answers with ``chat.completion.chunk`` events (§2.3–§2.5), each a single
``data: <json>`` line, then ``data: [DONE]``; otherwise with one ``chat.completion`` object
(§2.7). Requests are validated the way the real API does it, with its messages, ``param`` and
``code`` values, so a client's error handling can be tested against the mock (§2.6).

The pieces the three OpenAI dialects share live beside it: request validation in
``openai_requests``, chunk bytes and the token cache in ``openai_chunks``; ids, finish reasons,
usage and argument fragments here.

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: only ``data:`` lines. No ``id:``, ``retry:`` or ``event:`` line, ever: any of them
    makes openai-python call ``json.loads("")`` on a later event and crash (§5.2, §0 rule 8).
Divergence #2: ``role`` only in the first delta of a choice, a tool call's ``id``/``type``/
    ``name`` only in its first delta: the SDK's accumulator concatenates repeated strings, so
    ``"assistantassistant"`` would follow (§2.4 R7).
Divergence #3: ``"usage":null`` on every chunk only when ``stream_options.include_usage`` is true
    (the documented form; the 2024 captures omit the key), §2.4 R4.
Divergence #4: unknown request parameters are accepted and ignored (the real API rejects them),
    so clients that send provider extensions (vLLM, Azure) through ``extra_body`` still work.
Divergence #5: with ``n`` > 1 the choices are interleaved token by token, one choice per chunk,
    and the n chunks of one token position leave together as one frame: the pace (and
    ``error_after:N``) counts token positions, not chunks (§2.4 R8).
Divergence #6: content and argument-fragment chunks omit ``system_fingerprint`` and
    ``"logprobs":null`` (both optional, §2.3); the first and last chunks keep them
    (``openai_chunks``, Divergence #1).
Divergence #7: a text answer's stream is a :class:`~.base.Steady` of its bytes (role chunk,
    content chunks, last chunks), or for a long answer an ``itertools.chain`` of its frames, not
    a generator that delegates to the content chunks: a server holds thousands of paced streams
    open, and each token then resumes no generator of ours on its way to the pacer, touches no
    chain, and is no Frame object of its own (pacing.py, Divergence #3;
    bench/bench_open_streams.py). Answers with tool calls stay a generator (``_with_calls``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain
from typing import Any, ClassVar

from ..tokens import count_tokens
from . import openai_chunks
from .base import (
    Frame,
    Message,
    MockError,
    Prompt,
    Reply,
    Steady,
    StreamContext,
    ToolCall,
    dumps,
    random_id,
)
from .openai_chunks import (
    ChatChunks,
    escape,
    reply_tokens,
    token_bytes,
    token_frames,
)
from .openai_chunks import token_frame as token_frame  # tests and older imports find it here
from .openai_requests import (
    bad_request,
    check_function_name,
    empty_array,
    invalid_type,
    invalid_value,
    missing,
    optional_bool,
    optional_int,
    parse_stop,
    parse_stream_options,
    require_model,
    typed_items,
)
from .shapes import openai_error_object

__all__ = ["OpenAIChatDialect"]

# --- ids, finish reasons, tokens ---------------------------------------------------------------

HEX = "0123456789abcdef"

#: neutral ``Reply.finish_reason`` → OpenAI ``finish_reason`` (§2.3)
FINISH_REASONS = {
    "stop": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
}

# Argument text split like a real stream splits it (§2.5: `{"`, `city`, `":"`, `New York City`,
# `"}`): words with the whitespace before them, whitespace, runs of punctuation. Every
# character matches one alternative, so the fragments concatenate back to the text.
_ARG_PIECES = re.compile(r"\s*\w+|\s+|[^\w\s]+")


def argument_fragments(arguments: str) -> list[str]:
    """The pieces a tool call's JSON arguments are streamed in (§2.4 R6, §3.2)."""
    return _ARG_PIECES.findall(arguments)


def call_id(call: ToolCall) -> str:
    """The call's own id, or a new one in OpenAI's format: ``call_`` + 24 alnum (§2.4 R6)."""
    return call.id or random_id("call_", 24)


def fingerprint() -> str:
    return "fp_" + secrets.token_hex(5)  # "fp_" + 10 hex (§2.3)


def usage_counts(reply: Reply, prompt_tokens: int, completion_tokens: int) -> tuple[int, int]:
    """Counted tokens, overridden by ``Reply.usage`` fields that are not -1."""
    if reply.usage is not None:
        if reply.usage.input_tokens >= 0:
            prompt_tokens = reply.usage.input_tokens
        if reply.usage.output_tokens >= 0:
            completion_tokens = reply.usage.output_tokens
    return prompt_tokens, completion_tokens


def output_tokens(reply: Reply) -> int:
    """Tokens of one answer: its text plus the streamed pieces of its tool-call arguments."""
    return count_tokens(reply.text) + sum(
        len(argument_fragments(c.arguments)) for c in reply.tool_calls)


# --- chat requests -----------------------------------------------------------------------------

ROLES = ("system", "assistant", "user", "function", "tool", "developer")  # the API's order
PART_TYPES = ("text", "image_url", "input_audio", "refusal", "audio", "file")
TOOL_TYPES = ("function", "custom")
_ROLE_AS = {"developer": "system", "function": "tool"}  # "developer" counts as system


def _content_text(where: str, message: Mapping[str, Any], null_ok: bool) -> str:
    """The text of a message's ``content``: a string, or the text parts of a list."""
    if "content" not in message or message["content"] is None:
        if null_ok:
            return ""
        if "content" not in message:
            raise missing(f"{where}.content")
    content = message["content"]
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise invalid_type(f"{where}.content", "one of a string or array of objects", content)
    if not content:
        raise empty_array(f"{where}.content")
    texts = []
    for pw, part, ptype in typed_items(f"{where}.content", content, PART_TYPES):
        if ptype in ("text", "refusal"):
            text = part.get(ptype)
            if text is None:
                raise missing(f"{pw}.{ptype}")
            if not isinstance(text, str):
                raise invalid_type(f"{pw}.{ptype}", "a string", text)
            texts.append(text)
        # Other parts (images, audio, files) are accepted and not read.
    return "".join(texts)


def _check_tool_calls(where: str, calls: Any) -> None:
    if not isinstance(calls, list):
        raise invalid_type(f"{where}.tool_calls", "an array of objects", calls)
    if not calls:
        raise empty_array(f"{where}.tool_calls")
    for k, call in enumerate(calls):
        cw = f"{where}.tool_calls[{k}]"
        if not isinstance(call, dict):
            raise invalid_type(cw, "an object", call)
        if call.get("id") is None:
            raise missing(f"{cw}.id")
        if not isinstance(call["id"], str):
            raise invalid_type(f"{cw}.id", "a string", call["id"])
        if call.get("type", "function") == "function":
            function = call.get("function")
            if function is None:
                raise missing(f"{cw}.function")
            if not isinstance(function, dict):
                raise invalid_type(f"{cw}.function", "an object", function)
            if not isinstance(function.get("name"), str):
                raise missing(f"{cw}.function.name")


def parse_messages(value: Any) -> tuple[tuple[Message, ...], bool]:
    """Validate ``messages``; return them as neutral messages and "has tool results"."""
    if value is None:
        raise missing("messages")
    if not isinstance(value, list):
        raise invalid_type("messages", "an array of objects", value)
    if not value:
        raise empty_array("messages")
    out: list[Message] = []
    has_tool_results = False
    answering = False  # the messages before this one are an assistant's tool_calls + answers
    for i, m in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise invalid_type(where, "an object", m)
        role = m.get("role")
        if role is None:
            raise missing(f"{where}.role")
        if not isinstance(role, str):
            raise invalid_type(f"{where}.role", "a string", role)
        if role not in ROLES:
            raise invalid_value(f"{where}.role", role, ROLES)
        calls = m.get("tool_calls") if role == "assistant" else None
        if calls is not None:
            _check_tool_calls(where, calls)
        null_ok = role == "assistant" and (calls is not None or m.get("function_call")
                                           is not None or m.get("refusal") is not None)
        text = _content_text(where, m, null_ok)
        if role == "tool":
            # These two errors keep the API's legacy `messages.[i]` param format (seen in
            # real answers, e.g. "param":"messages.[3].role") and its "preceeding" typo.
            if not isinstance(m.get("tool_call_id"), str):
                raise bad_request("Missing parameter 'tool_call_id': messages with role 'tool' "
                                  "must have a 'tool_call_id'.", f"messages.[{i}].tool_call_id")
            if not answering:
                raise bad_request("Invalid parameter: messages with role 'tool' must be a "
                                  "response to a preceeding message with 'tool_calls'.",
                                  f"messages.[{i}].role")
        answering = calls is not None or (role == "tool" and answering)
        if role in ("tool", "function"):
            has_tool_results = True
        out.append(Message(_ROLE_AS.get(role, role), text))
    return tuple(out), has_tool_results


def parse_chat_tools(value: Any) -> tuple[str, ...]:
    """``tools``: a list of ``{type: "function", function: {name, …}}`` (or ``custom``)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise invalid_type("tools", "an array of objects", value)
    if not value:
        raise empty_array("tools")
    names = []
    for where, tool, ttype in typed_items("tools", value, TOOL_TYPES):
        spec = tool.get(ttype)
        if spec is None:
            raise missing(f"{where}.{ttype}")
        if not isinstance(spec, dict):
            raise invalid_type(f"{where}.{ttype}", "an object", spec)
        if spec.get("name") is None:
            raise missing(f"{where}.{ttype}.name")
        names.append(check_function_name(f"{where}.{ttype}.name", spec["name"]))
    return tuple(names)


# --- the dialect -------------------------------------------------------------------------------

_LOGPROBS_NULL = ',"logprobs":null,"finish_reason":null}'


def _content(env: ChatChunks, n: int, tokens: Sequence[str]) -> list[Frame] | Iterator[Frame]:
    """R2: one content chunk per token (n choices a frame); the JSON around the token is
    rendered once (a list of frames, or for a long answer an iterator: openai_chunks,
    Divergence #3)."""
    return token_frames(tokens, *_around_content(env, n)) if tokens else []


def _content_bytes(env: ChatChunks, n: int, tokens: Sequence[str]) -> list[bytes]:
    """:func:`_content`'s chunks as bytes, rendered now (a Steady stream's tokens)."""
    return token_bytes(tokens, *_around_content(env, n)) if tokens else []


def _around_content(env: ChatChunks, n: int) -> tuple[list[bytes], bytes]:
    """The bytes before a content token in each choice's chunk, and after it."""
    return [env.lean_before(i, '"content"') for i in range(n)], env.lean_after("}")


class OpenAIChatDialect:
    """``chat.completion.chunk`` streams and ``chat.completion`` objects (PROTOCOLS.md §2)."""

    name: ClassVar[str] = "openai-chat"
    path: ClassVar[str] = "/v1/chat/completions"
    family: ClassVar[str] = "openai"

    def __init__(self) -> None:
        # One backend configuration per process: the same fingerprint on every answer (§2.3).
        self.system_fingerprint = fingerprint()

    # -- request ------------------------------------------------------------------------------

    def parse(self, body: Mapping[str, Any]) -> Prompt:
        model = require_model(body)
        messages, has_tool_results = parse_messages(body.get("messages"))
        stream = optional_bool(body, "stream") is True
        n = optional_int(body, "n", 1, 128) or 1
        max_tokens = optional_int(body, "max_tokens", 1)
        max_completion = optional_int(body, "max_completion_tokens", 1)
        return Prompt(
            route=self.name,
            model=model,
            messages=messages,
            stream=stream,
            max_tokens=max_completion if max_completion is not None else max_tokens,
            stop=parse_stop(body),
            n=n,
            include_usage=parse_stream_options(body, stream),
            tools=parse_chat_tools(body.get("tools")),
            has_tool_results=has_tool_results,
            body=body,
        )

    def new_context(self, prompt: Prompt) -> StreamContext:
        ctx = StreamContext.new(random_id("chatcmpl-", 29), prompt.model)  # §2.3
        ctx.extra["system_fingerprint"] = self.system_fingerprint
        return ctx

    # -- answers ------------------------------------------------------------------------------

    def _usage(self, reply: Reply, prompt: Prompt) -> dict[str, Any]:
        # completion tokens add up over the n choices, as the real API counts them.
        prompt_tokens, completion_tokens = usage_counts(
            reply, count_tokens(m.text for m in prompt.messages), prompt.n * output_tokens(reply))
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0,
                                          "rejected_prediction_tokens": 0},
        }

    def stream(self, reply: Reply, prompt: Prompt, ctx: StreamContext) -> Iterable[Frame]:
        """§2.4 R1–R8: role chunk, content chunks, tool-call chunks, finish, usage, [DONE].

        The middle chunks (content, argument fragments) are lean (openai_chunks.py, Divergence
        #1); the role, tool-call header, finish and usage chunks are whole. A text answer is a
        Steady stream, or a chain of frames for a long answer (Divergence #7).
        """
        fp = ctx.extra.get("system_fingerprint", self.system_fingerprint)
        env = ChatChunks(ctx.id, int(ctx.created), ctx.model, fp, prompt.include_usage)
        tokens = reply_tokens(reply.text)
        if reply.tool_calls:
            return self._with_calls(reply, prompt, ctx, env, fp, tokens)
        role = self._role(env, prompt.n, None)
        last = self._last(reply, prompt, ctx, env, fp)
        if len(tokens) <= openai_chunks.EAGER_PIECES:  # the stream's bytes, rendered now
            return Steady((role,), _content_bytes(env, prompt.n, tokens), last)
        return chain((Frame(role),), _content(env, prompt.n, tokens), map(Frame, last))

    @staticmethod
    def _role(env: ChatChunks, n: int, first_calls: list[str] | None) -> bytes:
        """R1: the role, once per choice. A tool-calls-only answer carries each choice's first
        call header (`first_calls`) in the same delta, with content null (the §2.5 capture)."""
        if first_calls is None:
            return env.full([
                f'{{"index":{i},"delta":{{"role":"assistant","content":"","refusal":null}}'
                + _LOGPROBS_NULL for i in range(n)])
        return env.full([
            f'{{"index":{i},"delta":{{"role":"assistant","content":null,"tool_calls":['
            f'{first_calls[i]}],"refusal":null}}' + _LOGPROBS_NULL for i in range(n)])

    def _last(self, reply: Reply, prompt: Prompt, ctx: StreamContext, env: ChatChunks,
              fp: str) -> list[bytes]:
        """R3 the finish chunk of each choice, R4 the usage chunk (choices empty), R5 [DONE]:
        each its own frame."""
        finish = escape(FINISH_REASONS.get(reply.finish_reason, "stop"))
        frames = [env.full([f'{{"index":{i},"delta":{{}},"logprobs":null,'
                            f'"finish_reason":{finish}}}' for i in range(prompt.n)])]
        if prompt.include_usage:
            usage = {"id": ctx.id, "object": "chat.completion.chunk", "created": ctx.created,
                     "model": ctx.model, "system_fingerprint": fp, "choices": [],
                     "usage": self._usage(reply, prompt)}
            frames.append(f"data: {dumps(usage)}\n\n".encode())
        frames.append(b"data: [DONE]\n\n")
        return frames

    def _with_calls(self, reply: Reply, prompt: Prompt, ctx: StreamContext, env: ChatChunks,
                    fp: str, tokens: Sequence[str]) -> Iterator[Frame]:
        """A stream with tool calls: R1, R2, then each call's R6 chunks, then R3–R5."""
        n = prompt.n
        calls = reply.tool_calls
        ids = [[call_id(c) for c in calls] for _ in range(n)]

        def header(i: int, k: int) -> str:
            c = calls[k]
            return (f'{{"index":{k},"id":{escape(ids[i][k])},"type":"function","function":'
                    f'{{"name":{escape(c.name)},"arguments":""}}}}')

        yield Frame(self._role(env, n, None if tokens else [header(i, 0) for i in range(n)]))
        yield from _content(env, n, tokens)
        # R6: each call's header (unless already in the role chunk), then its arguments.
        for k, call in enumerate(calls):
            if tokens or k:
                yield Frame(env.full([f'{{"index":{i},"delta":{{"tool_calls":[{header(i, k)}]}}'
                                      + _LOGPROBS_NULL for i in range(n)]))
            pieces = argument_fragments(call.arguments)
            if pieces:
                yield from token_frames(
                    pieces,
                    [env.lean_before(i, f'"tool_calls":[{{"index":{k},"function":{{"arguments"')
                     for i in range(n)],
                    env.lean_after("}}]}"))
        yield from map(Frame, self._last(reply, prompt, ctx, env, fp))

    def complete(self, reply: Reply, prompt: Prompt, ctx: StreamContext) -> dict[str, Any]:
        """The ``chat.completion`` object (§2.7)."""
        finish = FINISH_REASONS.get(reply.finish_reason, "stop")
        choices = []
        for i in range(prompt.n):
            message: dict[str, Any] = {
                "role": "assistant",
                "content": reply.text if reply.text or not reply.tool_calls else None,
                "refusal": None,
                "annotations": [],
            }
            if reply.tool_calls:
                message["tool_calls"] = [
                    {"id": call_id(c), "type": "function",
                     "function": {"name": c.name, "arguments": c.arguments}}
                    for c in reply.tool_calls]
            choices.append({"index": i, "message": message, "logprobs": None,
                            "finish_reason": finish})
        return {
            "id": ctx.id,
            "object": "chat.completion",
            "created": ctx.created,
            "model": ctx.model,
            "choices": choices,
            "usage": self._usage(reply, prompt),
            "service_tier": "default",
            "system_fingerprint": ctx.extra.get("system_fingerprint", self.system_fingerprint),
        }

    # -- errors -------------------------------------------------------------------------------

    def in_band_error(self, error: MockError, ctx: StreamContext) -> bytes:
        """§2.6 mid-stream error: a ``data:`` object with a top-level ``error`` key."""
        return f"data: {dumps({'error': openai_error_object(error)})}\n\n".encode()

    def end_of_stream(self, ctx: StreamContext) -> bytes:
        return b"data: [DONE]\n\n"  # §2.6: the observed error stream still ends with [DONE]
