"""Scenarios seen through the official SDKs over a real socket: faults and retries, agent loops,
timing (PROTOCOLS.md §2.6, §4.5, §4.6)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from anthropic import Anthropic
from conftest import serve
from openai import OpenAI

from sse_mock import create_app

HI = [{"role": "user", "content": "Hi"}]
MODEL = "gpt-4o-mini"
CLAUDE = "claude-sonnet-4-6"

RULES = [
    {"name": "final", "match": {"has_tool_result": True}, "reply": "It is sunny in Paris."},
    {"name": "weather", "match": {"contains": "weather"},
     "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
    {"name": "flaky", "match": {"contains": "flaky"}, "fault": "rate_limit:0.01*2"},
    {"name": "steps", "match": {"contains": "plan"},
     "sequence": [{"tool_calls": [{"name": "search", "arguments": {"q": "a"}}]},
                  {"reply": "Done planning."}]},
]


# A model calls only tools the request declares (issue 12).
WEATHER_TOOL: Any = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}}
SEARCH_TOOL: Any = {"name": "search", "input_schema": {"type": "object"}}


@pytest.fixture(scope="module")
def app() -> Any:
    return create_app(delay=0, rules=RULES)


@pytest.fixture(scope="module")
def url(app: Any) -> Iterator[str]:
    with serve(app, "werkzeug") as base:
        yield base


def oai(url: str, retries: int = 0, timeout: float = 10) -> OpenAI:
    return OpenAI(base_url=url + "/mock/v1", api_key="x", max_retries=retries, timeout=timeout)


def claude(url: str, retries: int = 0, timeout: float = 10) -> Anthropic:
    return Anthropic(base_url=url + "/mock", api_key="x", max_retries=retries, timeout=timeout)


# -- faults and retries ------------------------------------------------------------------------


def test_count_fault_defeats_no_retries_but_not_the_default_two(app: Any, url: str) -> None:
    app.scenario.reset()
    msgs = [{"role": "user", "content": "flaky please"}]
    with oai(url, retries=0) as c, pytest.raises(openai.RateLimitError) as info:
        c.chat.completions.create(model=MODEL, messages=msgs)
    assert info.value.response.headers["retry-after-ms"] == "10"
    assert info.value.response.headers["x-ratelimit-remaining-requests"] == "0"
    app.scenario.reset()
    app.journal.clear()
    with oai(url, retries=2) as c:
        answer = c.chat.completions.create(model=MODEL, messages=msgs)
    assert answer.choices[0].message.content
    assert [e.status for e in app.journal.entries()] == [429, 429, 200]


def test_count_fault_with_anthropic_retries(app: Any, url: str) -> None:
    app.scenario.reset()
    app.journal.clear()
    with claude(url, retries=2) as c:
        message = c.messages.create(model=CLAUDE, max_tokens=100,
                                    messages=[{"role": "user", "content": "flaky"}])
    assert message.stop_reason == "end_turn"
    assert [e.status for e in app.journal.entries()] == [429, 429, 200]


def test_should_retry_false_makes_a_failure_final(app: Any, url: str) -> None:
    app.journal.clear()
    with oai(url, retries=2) as c, pytest.raises(openai.InternalServerError):
        c.chat.completions.create(model=MODEL, messages=HI, extra_headers={
            "X-Mock-Fault": "server_error", "X-Mock-Should-Retry": "false"})
    assert len(app.journal.entries()) == 1


@pytest.mark.parametrize(("fault", "exc"), [
    ("server_error", openai.InternalServerError),
    ("overloaded", openai.InternalServerError),
    ("unauthorized", openai.AuthenticationError),
])
def test_http_faults_raise_the_typed_openai_exception(url: str, fault: str, exc: Any) -> None:
    with oai(url) as c, pytest.raises(exc) as info:
        c.chat.completions.create(model=MODEL, messages=HI, stream=True,
                                  extra_headers={"X-Mock-Fault": fault})
    assert "mocked by sse_mock" in str(info.value)


@pytest.mark.parametrize(("fault", "exc", "status"), [
    ("server_error", anthropic.InternalServerError, 500),
    ("overloaded", anthropic.OverloadedError, 529),
    ("unauthorized", anthropic.AuthenticationError, 401),
    ("rate_limit:0.01", anthropic.RateLimitError, 429),
])
def test_http_faults_raise_the_typed_anthropic_exception(url: str, fault: str, exc: Any,
                                                         status: int) -> None:
    with claude(url) as c, pytest.raises(exc) as info:
        c.messages.create(model=CLAUDE, max_tokens=50, messages=HI, stream=True,
                          extra_headers={"X-Mock-Fault": fault})
    assert info.value.status_code == status
    assert info.value.body["type"] == "error"


def test_timeout_fault_holds_the_request_past_the_client_timeout(app: Any, url: str) -> None:
    with oai(url, timeout=0.5) as c, pytest.raises(openai.APITimeoutError):
        c.chat.completions.create(model=MODEL, messages=HI,
                                  extra_headers={"X-Mock-Fault": "timeout:1.5"})


def test_truncate_after_ends_without_finish_or_done(url: str) -> None:
    with oai(url) as c:
        chunks = list(c.chat.completions.create(
            model=MODEL, messages=HI, stream=True,
            extra_headers={"X-Mock-Fault": "truncate_after:3"}))
    assert chunks[-1].choices[0].finish_reason is None
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks) == "Hello, this is"
    with httpx.Client(timeout=10) as h:
        raw = h.post(url + "/mock/v1/chat/completions",
                     headers={"X-Mock-Fault": "truncate_after:3"},
                     json={"model": MODEL, "messages": HI, "stream": True}).text
    assert "[DONE]" not in raw


def test_malformed_after_breaks_the_sdks_json_parsing(url: str) -> None:
    with oai(url) as c, pytest.raises(json.JSONDecodeError):
        for _ in c.chat.completions.create(model=MODEL, messages=HI, stream=True,
                                           extra_headers={"X-Mock-Fault": "malformed_after:2"}):
            pass


def test_anthropic_disconnect_is_a_connection_error(app: Any, url: str) -> None:
    with claude(url) as c, pytest.raises(Exception) as info:
        with c.messages.stream(model=CLAUDE, max_tokens=100, messages=HI,
                               extra_headers={"X-Mock-Fault": "disconnect_after:2"}) as s:
            s.get_final_text()
    # The SDK's HTTP layer reports the incomplete body (httpx or its fork httpx2).
    assert isinstance(info.value, anthropic.APIConnectionError) or type(
        info.value).__name__ == "RemoteProtocolError", repr(info.value)
    assert app.journal.entries()[-1].outcome == "fault"


def test_stall_sends_heartbeats_and_then_goes_on(url: str) -> None:
    app = create_app(delay=0, heartbeat=0.1)
    with serve(app, "werkzeug") as base, httpx.Client(timeout=10) as h:
        start = time.monotonic()
        with h.stream("GET", base + "/mock/stream?reply=a+b+c&fault=stall_after:1:0.5") as r:
            body = b"".join(r.iter_raw())
        elapsed = time.monotonic() - start
    assert body.count(b": ping\n") >= 3
    assert body.endswith(b"data: [DONE]\n\n")
    assert 0.45 < elapsed < 3


# -- agent loops ----------------------------------------------------------------------------------


def test_openai_agent_loop_tool_call_then_final_answer_ends(url: str) -> None:
    messages: list[Any] = [{"role": "user", "content": "What's the weather in Paris?"}]
    with oai(url) as c:
        for _turn in range(5):
            with c.chat.completions.stream(model=MODEL, messages=messages,
                                           tools=[WEATHER_TOOL]) as s:
                final = s.get_final_completion()
            message = final.choices[0].message
            if not message.tool_calls:
                break
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                assert json.loads(call.function.arguments) == {"city": "Paris"}
                messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny"})
    assert message.content == "It is sunny in Paris."
    assert len(messages) == 3


def test_anthropic_agent_loop_with_a_sequence(app: Any, url: str) -> None:
    app.scenario.reset()
    messages: list[Any] = [{"role": "user", "content": "make a plan"}]
    with claude(url) as c:
        first = c.messages.create(model=CLAUDE, max_tokens=200, messages=messages,
                                  tools=[SEARCH_TOOL])
        assert first.stop_reason == "tool_use"
        assert first.content[0].type == "tool_use" and first.content[0].input == {"q": "a"}
        messages += [{"role": "assistant", "content": [b.model_dump() for b in first.content]},
                     {"role": "user", "content": "make a plan, go on"}]
        second = c.messages.create(model=CLAUDE, max_tokens=200, messages=messages,
                                   tools=[SEARCH_TOOL])
    assert second.stop_reason == "end_turn"
    assert second.content[0].text == "Done planning."


# -- timing ---------------------------------------------------------------------------------------


def test_ttft_and_tokens_per_second_over_a_socket() -> None:
    app = create_app(first_token_delay=0.3, tokens_per_second=20, lorem_tokens=40)
    with serve(app, "werkzeug") as base, oai(base) as c:
        start = time.monotonic()
        arrivals = []
        for chunk in c.chat.completions.create(model=MODEL, messages=HI, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                arrivals.append(time.monotonic() - start)
    assert len(arrivals) == 40
    assert 0.25 < arrivals[0] < 0.8
    span = arrivals[-1] - arrivals[0]
    assert 39 / 20 * 0.9 < span < 39 / 20 * 1.3


def test_no_drift_over_200_tokens() -> None:
    app = create_app(tokens_per_second=100, lorem_tokens=200)
    with serve(app, "werkzeug") as base, claude(base) as c:
        arrivals = []
        with c.messages.stream(model=CLAUDE, max_tokens=1000, messages=HI) as s:
            for _text in s.text_stream:
                arrivals.append(time.monotonic())
    assert len(arrivals) == 200
    span = arrivals[-1] - arrivals[0]
    assert abs(span - 1.99) < 0.2  # 199 intervals of 10 ms; sleeps overshoot but do not add up
