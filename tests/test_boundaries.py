"""Token limits at their boundary, on every dialect that honours one (``fit_reply``, PROTOCOLS.md
§2.1): a reply of exactly the limit is whole and ends normally; one token more is cut to the
limit and reported as cut (``length`` / ``incomplete`` / ``max_tokens`` / ``MAX_TOKENS``).
Through the official SDKs, streamed and not: openai and anthropic in-process
(``sse_mock.testing``), google-genai and ollama over a real socket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import serve

from sse_mock import SSEMockMiddleware, create_app
from sse_mock.testing import anthropic_client, openai_client
from sse_mock.tokens import count_tokens, lorem, tokenize

N = 20  # ≥ 16: the Responses API refuses a smaller max_output_tokens
REPLY = lorem(N)
HI = [{"role": "user", "content": "Hi"}]

assert count_tokens(REPLY) == N


def app() -> SSEMockMiddleware:
    return create_app(delay=0, reply=REPLY)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """The same mock on a socket, for the SDKs that take a URL (it keeps no state that matters
    here: every request gets the same reply)."""
    with serve(app(), "werkzeug") as base:
        yield base + "/mock"


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


def gemini(url: str, limit: int, stream: bool) -> tuple[str, bool, int | None]:
    genai = pytest.importorskip("google.genai")
    from google.genai import types

    client = genai.Client(api_key="x", http_options={"base_url": url, "timeout": 10_000})
    config = types.GenerateContentConfig(max_output_tokens=limit)
    if not stream:
        chunks = [client.models.generate_content(model="gemini-2.5-flash", contents="Hi",
                                                 config=config)]
    else:
        chunks = list(client.models.generate_content_stream(
            model="gemini-2.5-flash", contents="Hi", config=config))
    finish = chunks[-1].candidates[0].finish_reason
    assert finish in (types.FinishReason.STOP, types.FinishReason.MAX_TOKENS), finish
    usage = chunks[-1].usage_metadata
    return ("".join(c.text or "" for c in chunks), finish == types.FinishReason.MAX_TOKENS,
            usage.candidates_token_count if usage else None)


def ollama(url: str, limit: int, stream: bool, method: str = "chat"
           ) -> tuple[str, bool, int | None]:
    ollama = pytest.importorskip("ollama")
    with ollama.Client(host=url, timeout=10) as client:
        kw: dict[str, Any] = {"model": "llama3.2", "options": {"num_predict": limit}}
        if method == "chat":
            kw["messages"] = HI
        else:
            kw["prompt"] = "Hi"
        answer = getattr(client, method)(stream=stream, **kw)
        parts = list(answer) if stream else [answer]
    last = parts[-1]
    assert last.done and last.done_reason in ("stop", "length"), last
    if method == "chat":
        text = "".join(p.message.content or "" for p in parts)
    else:
        text = "".join(p.response or "" for p in parts)
    return text, last.done_reason == "length", last.eval_count


def ollama_generate(url: str, limit: int, stream: bool) -> tuple[str, bool, int | None]:
    return ollama(url, limit, stream, method="generate")


#: dialects the SDK reaches over a socket (the argument is the mock's URL, not the app)
OVER_A_SOCKET = {"gemini": gemini, "ollama-chat": ollama, "ollama-generate": ollama_generate}

DIALECTS: dict[str, Ask] = {
    "openai-chat max_tokens": chat,
    "openai-chat max_completion_tokens": chat_max_completion_tokens,
    "openai-completions": completions,
    "openai-responses": responses,
    "anthropic-messages": anthropic,
    **OVER_A_SOCKET,  # type: ignore[dict-item]
}


def ask(dialect: str, url: str, limit: int, stream: bool) -> tuple[str, bool, int | None]:
    target: Any = url if dialect in OVER_A_SOCKET else app()
    return DIALECTS[dialect](target, limit, stream)


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_a_reply_of_exactly_the_limit_is_whole_and_not_cut(dialect: str, stream: bool,
                                                           url: str) -> None:
    text, cut, usage = ask(dialect, url, N, stream)
    assert not cut
    assert text == REPLY
    assert usage in (N, None)


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_one_token_more_than_the_limit_is_cut_to_the_limit(dialect: str, stream: bool,
                                                           url: str) -> None:
    text, cut, usage = ask(dialect, url, N - 1, stream)
    assert cut
    assert text == "".join(tokenize(REPLY)[: N - 1])
    assert usage in (N - 1, None)


def test_every_dialect_with_a_token_limit_is_covered() -> None:
    # A dialect added later that parses a token limit needs its row above.
    from sse_mock.dialects import ALL_DIALECTS as REGISTERED

    covered = {name.split(" ")[0] for name in DIALECTS}
    assert {d.name for d in REGISTERED} <= covered, {d.name for d in REGISTERED} - covered
