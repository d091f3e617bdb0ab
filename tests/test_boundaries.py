"""Token limits at their boundary, on every dialect that honours one (``fit_reply``, PROTOCOLS.md
§2.1): a reply of exactly the limit is whole and ends normally; one token more is cut to the
limit and reported as cut (``length`` / ``incomplete`` / ``max_tokens``). Through the official
SDKs, in-process (``sse_mock.testing``), streamed and not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sse_mock import SSEMockMiddleware, create_app
from sse_mock.testing import anthropic_client, openai_client
from sse_mock.tokens import count_tokens, lorem, tokenize

N = 20  # ≥ 16: the Responses API refuses a smaller max_output_tokens
REPLY = lorem(N)
HI = [{"role": "user", "content": "Hi"}]

assert count_tokens(REPLY) == N


def app() -> SSEMockMiddleware:
    return create_app(delay=0, reply=REPLY)


# Each dialect: ask for at most `limit` tokens, streamed or not; answer (text, cut?, usage).
Ask = Callable[[SSEMockMiddleware, int, bool], tuple[str, bool, int | None]]


def chat(mock: SSEMockMiddleware, limit: int, stream: bool, key: str = "max_tokens"
         ) -> tuple[str, bool, int | None]:
    with openai_client(mock) as client:
        kw: dict[str, Any] = {key: limit}
        if not stream:
            c = client.chat.completions.create(model="gpt-4o-mini", messages=HI, **kw)
            assert c.usage is not None
            return (c.choices[0].message.content or "", c.choices[0].finish_reason == "length",
                    c.usage.completion_tokens)
        chunks = list(client.chat.completions.create(
            model="gpt-4o-mini", messages=HI, stream=True,
            stream_options={"include_usage": True}, **kw))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finishes = [c.choices[0].finish_reason for c in chunks
                    if c.choices and c.choices[0].finish_reason]
        assert len(finishes) == 1 and finishes[0] in ("stop", "length"), finishes
        usage = chunks[-1].usage
        return text, finishes[0] == "length", usage.completion_tokens if usage else None


def chat_max_completion_tokens(mock: SSEMockMiddleware, limit: int, stream: bool
                               ) -> tuple[str, bool, int | None]:
    return chat(mock, limit, stream, key="max_completion_tokens")


def completions(mock: SSEMockMiddleware, limit: int, stream: bool) -> tuple[str, bool, int | None]:
    with openai_client(mock) as client:
        if not stream:
            c = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hi",
                                          max_tokens=limit)
            assert c.usage is not None
            return c.choices[0].text, c.choices[0].finish_reason == "length", \
                c.usage.completion_tokens
        chunks = list(client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hi",
                                                max_tokens=limit, stream=True))
        text = "".join(c.choices[0].text for c in chunks if c.choices)
        finishes = [c.choices[0].finish_reason for c in chunks
                    if c.choices and c.choices[0].finish_reason]
        assert len(finishes) == 1 and finishes[0] in ("stop", "length"), finishes
        return text, finishes[0] == "length", None


def responses(mock: SSEMockMiddleware, limit: int, stream: bool) -> tuple[str, bool, int | None]:
    with openai_client(mock) as client:
        if not stream:
            r = client.responses.create(model="gpt-4o-mini", input="Hi", max_output_tokens=limit)
        else:
            events = list(client.responses.create(model="gpt-4o-mini", input="Hi",
                                                  max_output_tokens=limit, stream=True))
            ends = [e for e in events if e.type in ("response.completed", "response.incomplete")]
            assert len(ends) == 1, [e.type for e in events]
            r = ends[0].response
        assert r.status in ("completed", "incomplete"), r.status
        cut = r.status == "incomplete"
        if cut:
            assert r.incomplete_details is not None
            assert r.incomplete_details.reason == "max_output_tokens"
        else:
            assert r.incomplete_details is None
        assert r.usage is not None
        return r.output_text, cut, r.usage.output_tokens


def anthropic(mock: SSEMockMiddleware, limit: int, stream: bool) -> tuple[str, bool, int | None]:
    with anthropic_client(mock) as client:
        if not stream:
            m = client.messages.create(model="claude-sonnet-4-6", max_tokens=limit, messages=HI)
        else:
            with client.messages.stream(model="claude-sonnet-4-6", max_tokens=limit,
                                        messages=HI) as s:
                m = s.get_final_message()
        assert m.stop_reason in ("end_turn", "max_tokens"), m.stop_reason
        text = "".join(b.text for b in m.content if b.type == "text")
        return text, m.stop_reason == "max_tokens", m.usage.output_tokens


DIALECTS: dict[str, Ask] = {
    "openai-chat max_tokens": chat,
    "openai-chat max_completion_tokens": chat_max_completion_tokens,
    "openai-completions": completions,
    "openai-responses": responses,
    "anthropic-messages": anthropic,
}


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_a_reply_of_exactly_the_limit_is_whole_and_not_cut(dialect: str, stream: bool) -> None:
    text, cut, usage = DIALECTS[dialect](app(), N, stream)
    assert not cut
    assert text == REPLY
    assert usage in (N, None)


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_one_token_more_than_the_limit_is_cut_to_the_limit(dialect: str, stream: bool) -> None:
    text, cut, usage = DIALECTS[dialect](app(), N - 1, stream)
    assert cut
    assert text == "".join(tokenize(REPLY)[: N - 1])
    assert usage in (N - 1, None)


def test_every_dialect_with_a_token_limit_is_covered() -> None:
    # A dialect added later that parses a token limit needs its row above.
    from sse_mock.dialects import DIALECTS as REGISTERED

    covered = {name.split(" ")[0] for name in DIALECTS}
    assert {d.name for d in REGISTERED} <= covered, {d.name for d in REGISTERED} - covered
