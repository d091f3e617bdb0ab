"""The official ``ollama`` Python client against the mock over a real socket (PROTOCOLS.md §9):
``ollama.Client(host=<server>/mock)`` unmodified."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import serve

from sse_mock import create_app

ollama = pytest.importorskip("ollama")

MODEL = "llama3.2"
REPLY = "Hello, this is a mocked chatbot. How can I help you?"
HI = [{"role": "user", "content": "Hi there"}]
RULES: list[dict[str, Any]] = [
    {"match": {"has_tool_result": True}, "reply": "It is sunny in Paris."},
    {"match": {"contains": "weather"},
     "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
]
TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve(create_app(delay=0, rules=RULES), "waitress") as base:
        yield base


@pytest.fixture
def client(url: str) -> Iterator[Any]:
    with ollama.Client(host=url + "/mock", timeout=10) as c:
        yield c


def faulty(url: str, fault: str) -> Any:
    return ollama.Client(host=url + "/mock", timeout=10, headers={"X-Mock-Fault": fault})


def test_chat(client: Any) -> None:
    r = client.chat(model=MODEL, messages=HI, stream=False)
    assert r.message.role == "assistant" and r.message.content == REPLY
    assert r.done and r.done_reason == "stop"
    assert (r.prompt_eval_count, r.eval_count) == (2, 11) and r.total_duration > 0


def test_chat_stream(client: Any) -> None:
    parts = list(client.chat(model=MODEL, messages=HI, stream=True))
    assert "".join(p.message.content for p in parts) == REPLY
    assert [p.done for p in parts] == [False] * 11 + [True]
    assert parts[-1].eval_count == 11 and parts[-1].eval_duration > 0


def test_generate_both_ways(client: Any) -> None:
    assert client.generate(model=MODEL, prompt="Hi").response == REPLY
    parts = list(client.generate(model=MODEL, prompt="Hi", stream=True))
    assert "".join(p.response for p in parts) == REPLY and parts[-1].done


def test_tool_call_round_trip(client: Any) -> None:
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.chat(model=MODEL, messages=messages, tools=[TOOL])
    calls = first.message.tool_calls
    assert [(c.function.name, dict(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"})]
    messages += [first.message, {"role": "tool", "content": '{"t": 21}',
                                 "tool_name": "get_weather"}]
    second = client.chat(model=MODEL, messages=messages, tools=[TOOL])
    assert second.message.content == "It is sunny in Paris."


def test_tool_call_streamed(client: Any) -> None:
    parts = list(client.chat(model=MODEL, stream=True, tools=[TOOL],
                             messages=[{"role": "user", "content": "weather?"}]))
    calls = [c for p in parts for c in (p.message.tool_calls or [])]
    assert [c.function.name for c in calls] == ["get_weather"] and parts[-1].done


def test_list_and_embed(client: Any) -> None:
    assert [m.model for m in client.list().models] == [
        "llama3.2:latest", "qwen3:8b", "nomic-embed-text:latest"]
    out = client.embed(model="nomic-embed-text", input=["a cat", "a dog", "a cat"])
    assert [len(v) for v in out.embeddings] == [768] * 3
    assert out.embeddings[0] == out.embeddings[2] != out.embeddings[1]
    assert math.isclose(math.fsum(x * x for x in out.embeddings[1]), 1.0)
    short = client.embed(model="nomic-embed-text", input="a cat", dimensions=32)
    assert len(short.embeddings[0]) == 32
    assert len(client.embeddings(model="nomic-embed-text", prompt="a cat").embedding) == 768


@pytest.mark.parametrize(("fault", "status"), [("rate_limit", 429), ("server_error", 500),
                                               ("overloaded", 503)])
def test_http_faults_are_response_errors(url: str, fault: str, status: int) -> None:
    with pytest.raises(ollama.ResponseError) as info, faulty(url, fault) as client:
        client.chat(model=MODEL, messages=HI)
    assert info.value.status_code == status and "mocked by sse_mock" in info.value.error


def test_in_band_error_mid_stream(url: str) -> None:
    seen: list[str] = []
    with pytest.raises(ollama.ResponseError) as info, faulty(url, "error_after:2") as client:
        for part in client.chat(model=MODEL, messages=HI, stream=True):
            seen.append(part.message.content)
    assert seen == ["Hello,", " this"]
    assert info.value.error.startswith("The server had an error")


def test_bad_request(client: Any) -> None:
    with pytest.raises(ollama.ResponseError) as info:
        client.chat(model=MODEL, messages=[{"role": "robot", "content": "x"}])
    assert info.value.status_code == 400 and "invalid role" in info.value.error
