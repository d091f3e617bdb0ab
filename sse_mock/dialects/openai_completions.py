"""OpenAI legacy Completions: ``POST /v1/completions`` (PROTOCOLS.md §2.8).

Streamed and non-streamed answers have the same ``text_completion`` shape; a stream is one
``data:`` event per token, a finish chunk per choice, the optional usage chunk
(``stream_options.include_usage``, §2.4 R4) and ``data: [DONE]``.

What the real endpoint does and the mock copies:

* ``max_tokens`` defaults to 16: an answer longer than 16 tokens ends with ``"length"``.
* ``prompt`` may be a list: every prompt gets ``n`` choices, indexed ``prompt * n + j``.
* ``echo: true`` puts the prompt in front of the answer (it is not counted as completion).

Deliberate divergences: #1–#5 of :mod:`.openai_chat` hold here too (only ``data:`` lines; unknown
parameters ignored; choices interleaved token by token). Prompts given as token arrays are
accepted; their text is empty and their length counts as prompt tokens.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from ..tokens import count_tokens
from .base import Frame, Message, MockError, Prompt, Reply, StreamContext, dumps, random_id
from .openai_chat import fingerprint, usage_counts
from .openai_chunks import escape, reply_tokens, token_frame
from .openai_requests import (
    invalid_type,
    missing,
    optional_bool,
    optional_int,
    parse_stop,
    parse_stream_options,
    require_model,
)
from .shapes import openai_error_object

__all__ = ["OpenAICompletionsDialect"]

DEFAULT_MAX_TOKENS = 16  # the real endpoint's default (openapi.yaml CreateCompletionRequest)

#: neutral finish → legacy finish_reason (§2.8: stop, length, content_filter; no tool calls)
FINISH_REASONS = {"length": "length", "content_filter": "content_filter"}

_TYPE = "one of a string, array of strings, array of tokens, or array of token arrays"


def _is_tokens(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(t, int) and not isinstance(t, bool) for t in value)


def _prompts(value: Any) -> list[tuple[str, int]]:
    """``prompt`` as (text, prompt tokens) pairs, one per prompt."""
    if value is None:
        raise missing("prompt")
    if isinstance(value, str):
        return [(value, count_tokens(value))]
    if _is_tokens(value) and value:
        return [("", len(value))]
    if isinstance(value, list) and value:
        if all(isinstance(p, str) for p in value):
            return [(p, count_tokens(p)) for p in value]
        if all(_is_tokens(p) for p in value):
            return [("", len(p)) for p in value]
    raise invalid_type("prompt", _TYPE, value)


class OpenAICompletionsDialect:
    """``text_completion`` streams and objects (PROTOCOLS.md §2.8)."""

    name: ClassVar[str] = "openai-completions"
    path: ClassVar[str] = "/v1/completions"
    family: ClassVar[str] = "openai"

    def __init__(self) -> None:
        self.system_fingerprint = fingerprint()

    def parse(self, body: Mapping[str, Any]) -> Prompt:
        model = require_model(body)
        prompts = _prompts(body.get("prompt"))
        stream = optional_bool(body, "stream") is True
        optional_bool(body, "echo")
        max_tokens = optional_int(body, "max_tokens", 0)
        optional_int(body, "logprobs", 0, 5)
        optional_int(body, "best_of", 1, 20)
        return Prompt(
            route=self.name,
            model=model,
            messages=tuple(Message("user", text) for text, _ in prompts),
            stream=stream,
            max_tokens=DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens,
            stop=parse_stop(body),
            n=optional_int(body, "n", 1, 128) or 1,
            include_usage=parse_stream_options(body, stream),
            body=body,
        )

    def new_context(self, prompt: Prompt) -> StreamContext:
        ctx = StreamContext.new(random_id("cmpl-", 29), prompt.model)  # §2.8 "cmpl-…"
        ctx.extra["system_fingerprint"] = self.system_fingerprint
        return ctx

    # -- answers ------------------------------------------------------------------------------

    def _usage(self, reply: Reply, prompt: Prompt) -> dict[str, int]:
        prompts = _prompts(prompt.body.get("prompt")) if "prompt" in prompt.body else [
            (m.text, count_tokens(m.text)) for m in prompt.messages]
        prompt_tokens, completion_tokens = usage_counts(
            reply, sum(count for _, count in prompts),
            len(prompts) * prompt.n * count_tokens(reply.text))
        return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens}

    @staticmethod
    def _echoes(prompt: Prompt) -> list[str]:
        """The text in front of each choice: its prompt with ``echo``, else ""."""
        echo = prompt.body.get("echo") is True
        return [m.text if echo else "" for m in prompt.messages for _ in range(prompt.n)]

    def stream(self, reply: Reply, prompt: Prompt, ctx: StreamContext) -> Iterator[Frame]:
        fp = ctx.extra.get("system_fingerprint", self.system_fingerprint)
        # §2.8 key order: id, object, created, choices, model, system_fingerprint (+ usage).
        head = (f'data: {{"id":{escape(ctx.id)},"object":"text_completion",'
                f'"created":{int(ctx.created)},"choices":[')
        tail = (f'],"model":{escape(ctx.model)},"system_fingerprint":{dumps(fp)}'
                + (',"usage":null}\n\n' if prompt.include_usage else "}\n\n"))
        echoes = self._echoes(prompt)
        count = len(echoes)

        def choice(i: int, text: str, finish: str = "null") -> str:
            return f'{{"text":{escape(text)},"index":{i},"logprobs":null,"finish_reason":{finish}}}'

        if any(echoes):
            yield token_frame("".join(head + choice(i, e) + tail
                                      for i, e in enumerate(echoes) if e).encode())
        cache: dict[str, Frame] = {}
        after = ',"logprobs":null,"finish_reason":null}' + tail
        befores = [head + '{"text":' for _ in range(count)]
        for tok in reply_tokens(reply.text):
            frame = cache.get(tok)
            if frame is None:
                quoted = escape(tok)
                frame = cache[tok] = token_frame("".join(
                    f'{before}{quoted},"index":{i}{after}' for i, before in enumerate(befores)
                ).encode())
            yield frame
        finish = escape(FINISH_REASONS.get(reply.finish_reason, "stop"))
        yield Frame("".join(head + choice(i, "", finish) + tail for i in range(count)).encode())
        if prompt.include_usage:
            usage = {"id": ctx.id, "object": "text_completion", "created": ctx.created,
                     "choices": [], "model": ctx.model, "system_fingerprint": fp,
                     "usage": self._usage(reply, prompt)}
            yield Frame(f"data: {dumps(usage)}\n\n".encode())
        yield Frame(b"data: [DONE]\n\n")

    def complete(self, reply: Reply, prompt: Prompt, ctx: StreamContext) -> dict[str, Any]:
        finish = FINISH_REASONS.get(reply.finish_reason, "stop")
        return {
            "id": ctx.id,
            "object": "text_completion",
            "created": ctx.created,
            "model": ctx.model,
            "system_fingerprint": ctx.extra.get("system_fingerprint", self.system_fingerprint),
            "choices": [{"text": echo + reply.text, "index": i, "logprobs": None,
                         "finish_reason": finish}
                        for i, echo in enumerate(self._echoes(prompt))],
            "usage": self._usage(reply, prompt),
        }

    def in_band_error(self, error: MockError, ctx: StreamContext) -> bytes:
        """§2.6: the same mid-stream error as Chat Completions."""
        return f"data: {dumps({'error': openai_error_object(error)})}\n\n".encode()

    def end_of_stream(self, ctx: StreamContext) -> bytes:
        return b"data: [DONE]\n\n"
