"""Anthropic Messages: ``POST /v1/messages``, streamed and not (PROTOCOLS.md §4).

A stream is, in order (§4.2, §4.3)::

    message_start            the Message with empty content; usage {input_tokens, output_tokens: 1}
    content_block_start 0    {"type":"text","text":""}            (when there is text, see #2)
    ping                     once, right after the first content_block_start (as real streams)
    content_block_delta 0    one text_delta per token (sse_mock.tokens.tokenize)
    content_block_stop 0
    content_block_start i    {"type":"tool_use","id":"toolu_…","name":…,"input":{}} per tool call
    content_block_delta i    input_json_delta: "" first, then fragments of the JSON arguments
    content_block_stop i
    message_delta            stop_reason, stop_sequence and the cumulative usage.output_tokens
    message_stop

Every event has an ``event:`` line *and* the same ``"type"`` in its JSON: anthropic-python skips
events without an ``event:`` line and types each event by its JSON ``type`` (§4.6, §0 rule 12).
There is no ``[DONE]`` and no ``id:`` (§0 rule 10).

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: ``stop_sequence`` names the *first* of the request's ``stop_sequences`` when the
    reply was cut at one. The dialect only sees the reply after
    :func:`~sse_mock.scenario.fit_reply` has cut it, so which sequence matched is no longer
    known; the SDKs only echo the value.
Divergence #2: a reply with neither text nor tool calls still has one (empty) text block, so
    the SDK's ``get_final_text()`` returns ``""`` instead of raising ``RuntimeError`` (§4.3).
Divergence #3: tool arguments are sent as fragments of at most :data:`FRAGMENT` characters
    (real streams cut them at arbitrary places, §4.3); each fragment counts as one output
    token, so ``usage.output_tokens`` equals the number of content deltas (the first, empty
    ``partial_json`` fragment excluded).
Divergence #4: unknown request keys (``temperature``, ``thinking``, ``metadata``, …) are
    accepted and ignored — the real API rejects unknown keys, but new SDKs keep adding real
    ones, and a mock that rejects them breaks on every SDK upgrade.
Divergence #5: a text answer of up to ``EAGER_PIECES`` tokens renders all its events when it
    starts, as a :class:`~.base.Steady` stream that the pacer sends from its bytes, with no
    generator of ours to resume and no Frame object per token (pacing.py, Divergence #3;
    openai_chunks.py, Divergence #3). Tool calls and longer texts stay a generator.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from json.encoder import encode_basestring_ascii
from typing import Any, ClassVar

from ..tokens import count_tokens, tokenize
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
from .shapes import anthropic_error_object

__all__ = ["FRAGMENT", "PING", "STOP_REASONS", "AnthropicMessagesDialect", "fragments"]

#: The neutral ``Reply.finish_reason`` → Anthropic ``stop_reason`` (§4.2, SDK ``StopReason``).
STOP_REASONS: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "stop_sequence": "stop_sequence",
    "content_filter": "refusal",
}

#: Largest ``input_json_delta`` fragment, in characters (Divergence #3).
FRAGMENT = 8

_ROLES = ("user", "assistant")


def _event(obj: Mapping[str, Any]) -> bytes:
    """One event: ``event: <type>`` + ``data: <json>`` + the empty line (§4.2, §4.6).

    ``dumps`` escapes CR and LF (and, with ``ensure_ascii``, every non-ASCII character), so the
    data is a single line and the bytes are exactly what SSEFormatter would make (§1.8 F-13).
    """
    name: str = obj["type"]
    return b"event: " + name.encode() + b"\ndata: " + dumps(obj).encode() + b"\n\n"


# The recorded real stream writes the ping with a space after the colon (§4.3, verbatim).
PING = b'event: ping\ndata: {"type": "ping"}\n\n'
MESSAGE_STOP = _event({"type": "message_stop"})


def _delta_parts(index: int, kind: str, field: str) -> tuple[bytes, bytes]:
    """The constant bytes around a delta's string value, pre-rendered once per block.

    Only the token itself is JSON-escaped per event (the hot path of a stream).
    """
    marker = "\x00"
    whole = _event({"type": "content_block_delta", "index": index,
                    "delta": {"type": kind, field: marker}})
    head, _, tail = whole.partition(b'"\\u0000"')
    return head, tail


_TEXT_HEAD, _TEXT_TAIL = _delta_parts(0, "text_delta", "text")


#: The text block's start (§4.3: real streams send one ping right after the first
#: content_block_start) and its stop.
_TEXT_START = _event({"type": "content_block_start", "index": 0,
                      "content_block": {"type": "text", "text": ""}}) + PING
_TEXT_STOP = _event({"type": "content_block_stop", "index": 0})


def _text_delta(token: str, head: bytes = _TEXT_HEAD, tail: bytes = _TEXT_TAIL) -> bytes:
    # The quoted JSON string exactly as json.dumps (ensure_ascii) writes it, ~7x quicker: pure
    # ASCII, so no raw CR/LF/U+2028/U+0085 can break the data line (§1.8 F-13).
    return head + encode_basestring_ascii(token).encode() + tail


def fragments(arguments: str) -> list[str]:
    """The ``partial_json`` fragments of a tool call's arguments; they concatenate back to it."""
    return [arguments[i:i + FRAGMENT] for i in range(0, len(arguments), FRAGMENT)]


def _tool_input(arguments: str) -> Any:
    """The parsed ``input`` of a tool_use block; ``{}`` when the arguments are not JSON."""
    try:
        return json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return {}


class AnthropicMessagesDialect:
    """How Anthropic's Messages API says a reply (PROTOCOLS.md §4)."""

    name: ClassVar[str] = "anthropic-messages"
    path: ClassVar[str] = "/v1/messages"
    family: ClassVar[str] = "anthropic"

    # -- request -------------------------------------------------------------------------------

    def parse(self, body: Mapping[str, Any]) -> Prompt:
        """Validate a Messages request the way the real API words it (§4.1, §4.5).

        Errors are 400 ``invalid_request_error`` with pydantic-style messages such as
        ``"max_tokens: Field required"``; ``param`` names the offending key.
        """
        model = body.get("model")
        if "model" not in body:
            raise _invalid("model", "Field required")
        if not isinstance(model, str):
            raise _invalid("model", "Input should be a valid string")

        if "max_tokens" not in body:
            raise _invalid("max_tokens", "Field required")
        max_tokens = body["max_tokens"]
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
            raise _invalid("max_tokens", "Input should be a valid integer")
        if max_tokens < 1:
            raise _invalid("max_tokens", "Input should be greater than or equal to 1")

        messages: list[Message] = []
        _parse_system(body.get("system"), messages)
        has_tool_results = False
        raw = body.get("messages")
        if "messages" not in body:
            raise _invalid("messages", "Field required")
        if not isinstance(raw, list):
            raise _invalid("messages", "Input should be a valid list")
        if not raw:
            raise _invalid("messages", "at least one message is required")
        for i, item in enumerate(raw):
            has_tool_results |= _parse_message(f"messages.{i}", item, messages)

        stream = body.get("stream")
        if stream is not None and not isinstance(stream, bool):
            raise _invalid("stream", "Input should be a valid boolean")

        stop = body.get("stop_sequences")
        if stop is not None and (
            not isinstance(stop, list) or not all(isinstance(s, str) for s in stop)
        ):
            raise _invalid("stop_sequences", "Input should be a valid list of strings")

        tools = body.get("tools")
        names: list[str] = []
        if tools is not None:
            if not isinstance(tools, list):
                raise _invalid("tools", "Input should be a valid list")
            for i, tool in enumerate(tools):
                if not isinstance(tool, dict):
                    raise _invalid(f"tools.{i}", "Input should be a valid dictionary")
                tool_name = tool.get("name")
                if not isinstance(tool_name, str) or not tool_name:
                    raise _invalid(f"tools.{i}.name", "Field required" if tool_name is None
                                   else "Input should be a non-empty string")
                names.append(tool_name)

        return Prompt(
            route=self.name,
            model=model,
            messages=tuple(messages),
            stream=bool(stream),
            max_tokens=max_tokens,
            stop=tuple(stop or ()),
            tools=tuple(names),
            has_tool_results=has_tool_results,
            body=body,
        )

    def new_context(self, prompt: Prompt) -> StreamContext:
        # §4.4: "msg_" + 24 base-62 characters.
        return StreamContext.new(random_id("msg_", 24), prompt.model)

    # -- answers -------------------------------------------------------------------------------

    def stream(self, reply: Reply, prompt: Prompt, ctx: StreamContext) -> Iterable[Frame]:
        """The whole stream, ``message_start`` to ``message_stop`` (§4.2, §4.3). A text answer
        of up to EAGER_PIECES tokens is a Steady stream, rendered now (Divergence #5)."""
        if reply.tool_calls:
            return self._frames(reply, prompt, ctx)
        tokens = tokenize(reply.text)
        if len(tokens) > openai_chunks.EAGER_PIECES:
            return self._frames(reply, prompt, ctx)
        input_tokens, output_tokens = self._usage(reply, prompt)
        return Steady(
            (self._message_start(ctx, input_tokens), _TEXT_START),
            [_text_delta(token) for token in tokens],
            (_TEXT_STOP, self._message_end(reply, prompt, output_tokens)))

    @staticmethod
    def _message_start(ctx: StreamContext, input_tokens: int) -> bytes:
        return _event({"type": "message_start", "message": {
            "id": ctx.id, "type": "message", "role": "assistant", "content": [],
            "model": ctx.model, "stop_reason": None, "stop_sequence": None,
            # §4.6: message_start.message.usage must exist; real streams say output_tokens 1.
            "usage": {"input_tokens": input_tokens, "output_tokens": 1},
        }})

    def _message_end(self, reply: Reply, prompt: Prompt, output_tokens: int) -> bytes:
        # §4.2 step 3, §4.6: usage.output_tokens is required (cumulative), stop_* in delta.
        stop_reason, stop_sequence = self._stop(reply, prompt)
        return _event({"type": "message_delta",
                       "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
                       "usage": {"output_tokens": output_tokens}}) + MESSAGE_STOP

    def _frames(self, reply: Reply, prompt: Prompt, ctx: StreamContext) -> Iterator[Frame]:
        """The stream of an answer with tool calls, or of a long text, frame by frame."""
        input_tokens, output_tokens = self._usage(reply, prompt)
        yield Frame(self._message_start(ctx, input_tokens))
        index = 0
        if reply.text or not reply.tool_calls:  # Divergence #2
            yield Frame(_TEXT_START)
            for token in tokenize(reply.text):
                yield Frame(_text_delta(token), token=True)
            yield Frame(_TEXT_STOP)
            index = 1
        for call in reply.tool_calls:
            start = _event({"type": "content_block_start", "index": index,
                            "content_block": {"type": "tool_use", "id": _tool_id(call),
                                              "name": call.name, "input": {}}})
            head, tail = _delta_parts(index, "input_json_delta", "partial_json")
            # §4.3: the first input_json_delta fragment is "" in recorded streams.
            yield Frame(start + (PING if index == 0 else b"") + head + b'""' + tail)
            for piece in fragments(call.arguments):
                yield Frame(head + encode_basestring_ascii(piece).encode() + tail, token=True)
            yield Frame(_event({"type": "content_block_stop", "index": index}))
            index += 1
        yield Frame(self._message_end(reply, prompt, output_tokens))

    def complete(self, reply: Reply, prompt: Prompt, ctx: StreamContext) -> dict[str, Any]:
        """The non-streaming Message object (§4.4)."""
        input_tokens, output_tokens = self._usage(reply, prompt)
        stop_reason, stop_sequence = self._stop(reply, prompt)
        content: list[dict[str, Any]] = []
        if reply.text or not reply.tool_calls:  # Divergence #2
            content.append({"type": "text", "text": reply.text})
        for call in reply.tool_calls:
            content.append({"type": "tool_use", "id": _tool_id(call), "name": call.name,
                            "input": _tool_input(call.arguments)})
        return {
            "id": ctx.id,
            "type": "message",
            "role": "assistant",
            "model": ctx.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": stop_sequence,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }

    def in_band_error(self, error: MockError, ctx: StreamContext) -> bytes:
        """``event: error`` with ``{"type":"error","error":{type, message}}`` (§4.3, §4.5).

        anthropic-python raises it as ``APIStatusError`` (status 200, ``.type`` = error.type).
        """
        return _event({"type": "error", "error": anthropic_error_object(error)})

    def end_of_stream(self, ctx: StreamContext) -> bytes:
        return b""  # §4.2: after an error event the stream just ends (no message_stop).

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _usage(reply: Reply, prompt: Prompt) -> tuple[int, int]:
        """(input_tokens, output_tokens): counted, unless ``Reply.usage`` overrides (-1 = not)."""
        usage = reply.usage
        if usage is not None and usage.input_tokens >= 0:
            input_tokens = usage.input_tokens
        else:
            input_tokens = count_tokens(m.text for m in prompt.messages)
        if usage is not None and usage.output_tokens >= 0:
            output_tokens = usage.output_tokens
        else:
            output_tokens = count_tokens(reply.text) + sum(
                len(fragments(c.arguments)) for c in reply.tool_calls)
        return input_tokens, output_tokens

    @staticmethod
    def _stop(reply: Reply, prompt: Prompt) -> tuple[str, str | None]:
        finish = reply.finish_reason
        reason = STOP_REASONS.get(finish, "end_turn")
        if reason != "stop_sequence":
            return reason, None
        # Divergence #1: the first stop sequence of the request.
        return reason, next((s for s in prompt.stop if s), None)


def _tool_id(call: ToolCall) -> str:
    return call.id or random_id("toolu_", 24)


def _invalid(param: str, why: str) -> MockError:
    return MockError(400, f"{param}: {why}", param=param)


def _text_of(where: str, content: Any) -> tuple[str, list[str], bool]:
    """Read a ``content``: its text, the texts of its tool results, and whether it has any.

    ``content`` is a string or a list of blocks (``text``, ``image``, ``tool_use``,
    ``tool_result``, …); only text blocks contribute text (§4.1).
    """
    if isinstance(content, str):
        return content, [], False
    if not isinstance(content, list):
        raise _invalid(where, "Input should be a valid string or a list of content blocks")
    texts: list[str] = []
    results: list[str] = []
    has_result = False
    for j, block in enumerate(content):
        w = f"{where}.{j}"
        if not isinstance(block, dict):
            raise _invalid(w, "Input should be a valid dictionary")
        kind = block.get("type")
        if not isinstance(kind, str):
            raise _invalid(f"{w}.type", "Field required")
        if kind == "text":
            text = block.get("text")
            if not isinstance(text, str):
                raise _invalid(f"{w}.text", "Input should be a valid string")
            texts.append(text)
        elif kind == "tool_result":
            has_result = True
            if not isinstance(block.get("tool_use_id"), str):
                raise _invalid(f"{w}.tool_use_id", "Field required")
            inner = block.get("content")
            if inner is not None:
                inner_text, _, _ = _text_of(f"{w}.content", inner)
                results.append(inner_text)
            else:
                results.append("")
    return "\n".join(texts), results, has_result


def _parse_system(system: Any, out: list[Message]) -> None:
    """``system``: a string or a list of text blocks → one system message (§4.1)."""
    if system is None:
        return
    if not isinstance(system, str | list):
        raise _invalid("system", "Input should be a valid string or a list of text blocks")
    if isinstance(system, list):
        for j, block in enumerate(system):
            if not isinstance(block, dict) or block.get("type") != "text":
                raise _invalid(f"system.{j}", "Input should be a text block")
    text, _, _ = _text_of("system", system)
    if text:
        out.append(Message("system", text))


def _parse_message(where: str, item: Any, out: list[Message]) -> bool:
    """One entry of ``messages``; returns whether it carries a tool result.

    A ``tool_result`` block becomes a ``tool`` message (as OpenAI's role "tool"), so that
    ``last_user`` stays what the user typed; the user's text blocks become a ``user`` message.
    """
    if not isinstance(item, dict):
        raise _invalid(where, "Input should be a valid dictionary")
    role = item.get("role")
    if "role" not in item:
        raise _invalid(f"{where}.role", "Field required")
    if role not in _ROLES:
        raise _invalid(f"{where}.role", "Input should be 'user' or 'assistant'")
    if "content" not in item:
        raise _invalid(f"{where}.content", "Field required")
    text, results, has_result = _text_of(f"{where}.content", item["content"])
    out.extend(Message("tool", r) for r in results)
    if text or not has_result:
        out.append(Message(role, text))
    return has_result
