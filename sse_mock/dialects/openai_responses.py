"""OpenAI Responses API: ``POST /v1/responses`` (PROTOCOLS.md §3).

A stream is the §3.2 event sequence: ``response.created``, ``response.in_progress``, then for
the message (when there is text, or nothing else) ``output_item.added``,
``content_part.added``, one ``output_text.delta`` per token, ``output_text.done``,
``content_part.done``, ``output_item.done``; then one ``function_call`` item per tool call
(``function_call_arguments.delta`` × N and ``.done``); and last ``response.completed`` — or
``response.incomplete`` when the answer was cut by ``max_output_tokens`` (§3.4). Every event has
an ``event:`` line equal to its JSON ``type`` and a ``sequence_number`` counting from 0 (§3.1).
No ``[DONE]``. Without ``stream`` the answer is the final Response object itself.

The Response object carries every field of §3.3, echoing what the request set
(``instructions``, ``max_output_tokens``, ``temperature``, ``tools`` …) and the defaults for the
rest. ``output_text`` is not a wire field: the SDK computes it from ``output``.

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: a mid-stream error is ``event: error`` with ``{"type":"error","code",
    "message","param","sequence_number"}``, as the real API sends it (§3.4), although
    openai-python (≤3.57) yields that as a ``ResponseErrorEvent`` instead of raising; a
    top-level ``"error"`` object would raise, but no real server sends one here.
Divergence #2: the error event takes the sequence number of the delta it replaces (the
    fault machinery holds back the next content frame and sends the error instead), so the
    numbers stay gapless.
Divergence #3: unknown request parameters and input item types are accepted and ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from ..tokens import count_tokens
from .base import Frame, Message, MockError, Prompt, Reply, StreamContext, dumps, random_id
from .openai_chat import HEX, argument_fragments, call_id, output_tokens, usage_counts
from .openai_chunks import escape, reply_tokens, token_frame
from .openai_requests import (
    bad_request,
    check_function_name,
    empty_array,
    invalid_type,
    invalid_value,
    missing,
    optional_bool,
    optional_int,
    optional_number,
    require_model,
    typed_items,
)
from .shapes import openai_error_object

__all__ = ["OpenAIResponsesDialect"]

MESSAGE_ROLES = ("user", "assistant", "system", "developer")
#: content part types of input messages; only the text-bearing ones are read
PART_TYPES = ("input_text", "input_image", "input_file", "input_audio", "output_text", "refusal")
_PART_TEXT = {"input_text": "text", "output_text": "text", "refusal": "refusal"}
MIN_OUTPUT_TOKENS = 16  # the real API: "Expected a value >= 16"

#: §3.4: why a response is incomplete, by neutral finish
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def _new_id(prefix: str) -> str:
    return random_id(prefix, 48, HEX)  # e.g. "msg_67c9fdcf…": prefix + 48 hex (§3.3)


def _parts_text(where: str, content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise invalid_type(where, "one of a string or array of objects", content)
    texts = []
    for pw, part, ptype in typed_items(where, content, PART_TYPES):
        key = _PART_TEXT.get(ptype)
        if key is not None:
            text = part.get(key)
            if not isinstance(text, str):
                raise missing(f"{pw}.{key}") if text is None else invalid_type(
                    f"{pw}.{key}", "a string", text)
            texts.append(text)
    return "".join(texts)


def _parse_input(value: Any) -> tuple[list[Message], bool]:
    """``input``: a string (one user message) or a list of items."""
    if value is None:
        raise missing("input")
    if isinstance(value, str):
        return [Message("user", value)], False
    if not isinstance(value, list):
        raise invalid_type("input", "one of a string or array of input items", value)
    messages: list[Message] = []
    has_tool_results = False
    for i, item in enumerate(value):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise invalid_type(where, "an object", item)
        itype = item.get("type", "message" if "role" in item else None)
        if itype is None:
            raise missing(f"{where}.type")
        if not isinstance(itype, str):
            raise invalid_type(f"{where}.type", "a string", itype)
        if itype == "message":
            role = item.get("role")
            if role is None:
                raise missing(f"{where}.role")
            if role not in MESSAGE_ROLES:
                raise invalid_value(f"{where}.role", role, MESSAGE_ROLES)
            if "content" not in item:
                raise missing(f"{where}.content")
            text = _parts_text(f"{where}.content", item["content"])
            messages.append(Message("system" if role == "developer" else role, text))
        elif itype == "function_call_output":
            if not isinstance(item.get("call_id"), str):
                raise missing(f"{where}.call_id")
            output = item.get("output")
            if output is None:
                raise missing(f"{where}.output")
            messages.append(Message("tool", _parts_text(f"{where}.output", output)))
            has_tool_results = True
        elif itype == "function_call":
            messages.append(Message("assistant", ""))
        elif itype.endswith("_output"):  # custom_tool_call_output, computer_call_output, …
            has_tool_results = True
        # Other item types (reasoning, item_reference, …) are accepted and not read.
    return messages, has_tool_results


def _parse_tools(value: Any) -> tuple[str, ...]:
    """``tools``: function tools are flat here: ``{type: "function", name, parameters}``."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise invalid_type("tools", "an array of objects", value)
    names = []
    for where, tool, ttype in typed_items("tools", value, None):
        if ttype in ("function", "custom"):
            if tool.get("name") is None:
                raise missing(f"{where}.name")
            names.append(check_function_name(f"{where}.name", tool["name"]))
    return tuple(names)


def _echo(body: Mapping[str, Any], key: str, default: Any, *types: type) -> Any:
    value = body.get(key)
    return value if value is not None and isinstance(value, types) else default


class _Sequence:
    """The response's ``sequence_number`` counter (§3.1), kept in ``StreamContext.extra``."""

    __slots__ = ("held", "next")

    def __init__(self) -> None:
        self.next = 0
        self.held: int | None = None  # the number of a content event not yet known to be sent

    def take(self) -> int:
        n = self.next
        self.next = n + 1
        return n


def _sequence(ctx: StreamContext) -> _Sequence:
    seq = ctx.extra.get("sequence")
    if not isinstance(seq, _Sequence):
        seq = ctx.extra["sequence"] = _Sequence()
    return seq


_Event = Callable[[dict[str, Any]], Frame]


class OpenAIResponsesDialect:
    """Responses API event streams and Response objects (PROTOCOLS.md §3)."""

    name: ClassVar[str] = "openai-responses"
    path: ClassVar[str] = "/v1/responses"
    family: ClassVar[str] = "openai"

    # -- request ------------------------------------------------------------------------------

    def parse(self, body: Mapping[str, Any]) -> Prompt:
        model = require_model(body)
        instructions = body.get("instructions")
        if instructions is not None and not isinstance(instructions, str):
            raise invalid_type("instructions", "a string", instructions)
        messages, has_tool_results = _parse_input(body.get("input"))
        if instructions:
            messages.insert(0, Message("system", instructions))
        stream = optional_bool(body, "stream") is True
        max_output = optional_int(body, "max_output_tokens", MIN_OUTPUT_TOKENS)
        optional_number(body, "temperature", 0, 2)
        optional_number(body, "top_p", 0, 1)
        optional_bool(body, "store")
        optional_bool(body, "parallel_tool_calls")
        metadata = body.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise invalid_type("metadata", "an object", metadata)
        if isinstance(body.get("input"), list) and not body["input"] and not instructions:
            raise empty_array("input")
        if body.get("stream_options") is not None and not stream:
            raise bad_request("The 'stream_options' parameter is only allowed when 'stream' is "
                              "enabled.", "stream_options")
        return Prompt(
            route=self.name,
            model=model,
            messages=tuple(messages),
            stream=stream,
            max_tokens=max_output,
            tools=_parse_tools(body.get("tools")),
            has_tool_results=has_tool_results,
            body=body,
        )

    def new_context(self, prompt: Prompt) -> StreamContext:
        return StreamContext.new(_new_id("resp_"), prompt.model)

    # -- the Response object ------------------------------------------------------------------

    def _response(
        self,
        ctx: StreamContext,
        prompt: Prompt,
        status: str = "in_progress",
        output: list[dict[str, Any]] | None = None,
        usage: dict[str, Any] | None = None,
        incomplete: str | None = None,
    ) -> dict[str, Any]:
        """R of §3.3, every field written out, in its order."""
        body = prompt.body
        reasoning = _echo(body, "reasoning", {}, dict)
        return {
            "id": ctx.id,
            "object": "response",
            "created_at": ctx.created,
            "status": status,
            "error": None,
            "incomplete_details": {"reason": incomplete} if incomplete else None,
            "instructions": _echo(body, "instructions", None, str),
            "max_output_tokens": _echo(body, "max_output_tokens", None, int),
            "model": ctx.model,
            "output": output or [],
            "parallel_tool_calls": _echo(body, "parallel_tool_calls", True, bool),
            "previous_response_id": _echo(body, "previous_response_id", None, str),
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "store": _echo(body, "store", True, bool),
            "temperature": float(_echo(body, "temperature", 1.0, int, float)),
            "text": _echo(body, "text", {"format": {"type": "text"}}, dict),
            "tool_choice": _echo(body, "tool_choice", "auto", str, dict),
            "tools": _echo(body, "tools", [], list),
            "top_p": float(_echo(body, "top_p", 1.0, int, float)),
            "truncation": _echo(body, "truncation", "disabled", str),
            "usage": usage,
            "user": _echo(body, "user", None, str),
            "metadata": _echo(body, "metadata", {}, dict),
        }

    @staticmethod
    def _usage(reply: Reply, prompt: Prompt) -> dict[str, Any]:
        input_tokens, output = usage_counts(
            reply, count_tokens(m.text for m in prompt.messages), output_tokens(reply))
        return {"input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": output, "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": input_tokens + output}

    @staticmethod
    def _items(reply: Reply, incomplete: bool) -> list[dict[str, Any]]:
        """The completed output items: the message (if any text, or nothing else), then calls."""
        items: list[dict[str, Any]] = []
        if reply.text or not reply.tool_calls:
            items.append({"id": _new_id("msg_"), "type": "message",
                          "status": "incomplete" if incomplete else "completed",
                          "role": "assistant", "content": [_part(reply.text)]})
        for call in reply.tool_calls:
            items.append({"id": _new_id("fc_"), "type": "function_call", "status": "completed",
                          "call_id": call_id(call), "name": call.name,
                          "arguments": call.arguments})
        return items

    def complete(self, reply: Reply, prompt: Prompt, ctx: StreamContext) -> dict[str, Any]:
        incomplete = _INCOMPLETE.get(reply.finish_reason)
        return self._response(ctx, prompt, "incomplete" if incomplete else "completed",
                              self._items(reply, incomplete is not None),
                              self._usage(reply, prompt), incomplete)

    # -- the stream ---------------------------------------------------------------------------

    def stream(self, reply: Reply, prompt: Prompt, ctx: StreamContext) -> Iterator[Frame]:
        """§3.2 in order; the terminal event is ``response.completed`` or ``.incomplete``."""
        seq = _sequence(ctx)

        def event(payload: dict[str, Any]) -> Frame:
            # §3.1: the `event:` line repeats the JSON "type"; sequence_number right after it.
            etype = payload["type"]
            data = dumps({"type": etype, "sequence_number": seq.take(), **payload})
            return Frame(f"event: {etype}\ndata: {data}\n\n".encode())

        incomplete = _INCOMPLETE.get(reply.finish_reason)
        items = self._items(reply, incomplete is not None)
        yield event({"type": "response.created", "response": self._response(ctx, prompt)})
        yield event({"type": "response.in_progress", "response": self._response(ctx, prompt)})
        for index, item in enumerate(items):
            if item["type"] == "message":
                yield from self._message_events(event, seq, item, index, reply.text)
            else:
                yield from self._call_events(event, seq, item, index)
        final = self._response(ctx, prompt, "incomplete" if incomplete else "completed", items,
                               self._usage(reply, prompt), incomplete)
        yield event({"type": "response.incomplete" if incomplete else "response.completed",
                     "response": final})

    @staticmethod
    def _message_events(
        event: _Event, seq: _Sequence, item: dict[str, Any], index: int, text: str
    ) -> Iterator[Frame]:
        item_id = item["id"]
        yield event({"type": "response.output_item.added", "output_index": index,
                     "item": {**item, "status": "in_progress", "content": []}})
        ids = {"item_id": item_id, "output_index": index, "content_index": 0}
        yield event({"type": "response.content_part.added", **ids, "part": _part("")})
        # One delta per token; everything around the token and its number is pre-rendered.
        pre = ('event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
               '"sequence_number":')
        mid = f',"item_id":{escape(item_id)},"output_index":{index},"content_index":0,"delta":'
        post = ',"logprobs":[]}\n\n'
        for tok in reply_tokens(text):
            n = seq.take()
            seq.held = n  # Divergence #2: an error sent instead of this delta takes its number
            yield token_frame(f"{pre}{n}{mid}{escape(tok)}{post}".encode())
            seq.held = None
        yield event({"type": "response.output_text.done", **ids, "text": text, "logprobs": []})
        yield event({"type": "response.content_part.done", **ids, "part": _part(text)})
        yield event({"type": "response.output_item.done", "output_index": index, "item": item})

    @staticmethod
    def _call_events(event: _Event, seq: _Sequence, item: dict[str, Any], index: int
                     ) -> Iterator[Frame]:
        item_id = item["id"]
        yield event({"type": "response.output_item.added", "output_index": index,
                     "item": {**item, "status": "in_progress", "arguments": ""}})
        pre = ('event: response.function_call_arguments.delta\ndata: {"type":'
               '"response.function_call_arguments.delta","sequence_number":')
        mid = f',"item_id":{escape(item_id)},"output_index":{index},"delta":'
        for piece in argument_fragments(item["arguments"]):
            n = seq.take()
            seq.held = n
            yield token_frame(f"{pre}{n}{mid}{escape(piece)}}}\n\n".encode())
            seq.held = None
        yield event({"type": "response.function_call_arguments.done", "item_id": item_id,
                     "output_index": index, "name": item["name"],
                     "arguments": item["arguments"]})
        yield event({"type": "response.output_item.done", "output_index": index, "item": item})

    # -- errors -------------------------------------------------------------------------------

    def in_band_error(self, error: MockError, ctx: StreamContext) -> bytes:
        """§3.4 stream-level error: ``event: error``, ``code`` a string, ``param`` null."""
        seq = _sequence(ctx)
        number = seq.held if seq.held is not None else seq.take()
        seq.held = None
        inner = openai_error_object(error)
        data = dumps({"type": "error", "code": inner["code"] or inner["type"],
                      "message": error.message, "param": error.param,
                      "sequence_number": number})
        return f"event: error\ndata: {data}\n\n".encode()

    def end_of_stream(self, ctx: StreamContext) -> bytes:
        return b""  # §3.1: no [DONE]; the stream just ends


def _part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
