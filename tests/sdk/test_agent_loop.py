"""The README's tool rule in a real agent loop, with both official SDKs over a socket (issue 12):
a rule that answers with tool calls does not answer that tool's result, and never answers a
request that declares no tools; ``has_tool_result = true`` opts back in."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anthropic import Anthropic
from conftest import serve
from openai import OpenAI

from sse_mock import create_app

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
README_TOML = re.search(r"```toml\n(.*?)```", README, re.S)[1]  # type: ignore[index]
AGENT_LOOP = next(block for block in re.findall(r"```python\n(.*?)```", README, re.S)
                  if "while True" in block)
CLAUDE = "claude-sonnet-4-6"
WEATHER_TOOL = {"name": "get_weather", "input_schema": {
    "type": "object", "properties": {"city": {"type": "string"}}}}


@pytest.fixture(scope="module")
def readme_mock() -> Any:
    return create_app({**tomllib.loads(README_TOML), "delay": 0, "first_token_delay": 0})


@pytest.fixture(scope="module")
def url(readme_mock: Any) -> Iterator[str]:
    with serve(readme_mock, "werkzeug") as base:
        yield base


@pytest.mark.timeout(30)
def test_the_readme_agent_loop_runs_as_pasted_and_ends(
    url: str, readme_mock: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    before = len(readme_mock.journal.entries())
    exec(compile(AGENT_LOOP.replace("http://localhost:5000", url), "README.md", "exec"), {})
    assert capsys.readouterr().out.strip() == "Hello from the mock."
    assert len(readme_mock.journal.entries()) - before == 2  # one tool round trip


@pytest.mark.timeout(30)
def test_openai_streamed_round_trip(url: str) -> None:
    tools: Any = [{"type": "function", "function": {"name": "get_weather"}}]
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    with OpenAI(base_url=url + "/mock/v1", api_key="x", max_retries=0) as client:
        turns = 0
        while True:
            turns += 1
            assert turns <= 3, "the agent loop does not end"
            with client.chat.completions.stream(model="gpt-4o-mini", messages=messages,
                                                tools=tools) as stream:
                message = stream.get_final_completion().choices[0].message
            messages.append(message.model_dump(exclude_none=True))
            if not message.tool_calls:
                break
            for call in message.tool_calls:
                assert json.loads(call.function.arguments) == {"city": "Paris"}
                messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny"})
    assert turns == 2 and message.content == "Hello from the mock."


@pytest.mark.timeout(30)
def test_anthropic_round_trip(url: str) -> None:
    messages: list[Any] = [{"role": "user", "content": "What's the weather in Paris?"}]
    with Anthropic(base_url=url + "/mock", api_key="x", max_retries=0) as client:
        turns = 0
        while True:
            turns += 1
            assert turns <= 3, "the agent loop does not end"
            with client.messages.stream(model=CLAUDE, max_tokens=200, messages=messages,
                                        tools=[WEATHER_TOOL]) as stream:  # type: ignore[list-item]
                message = stream.get_final_message()
            messages.append({"role": "assistant",
                             "content": [b.model_dump() for b in message.content]})
            calls = [b for b in message.content if b.type == "tool_use"]
            if not calls:
                break
            assert message.stop_reason == "tool_use"
            messages.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": c.id, "content": "sunny"} for c in calls]})
    assert turns == 2 and message.content[0].text == "Hello from the mock."  # type: ignore[union-attr]


def test_no_tool_calls_to_a_request_without_tools(url: str) -> None:
    with OpenAI(base_url=url + "/mock/v1", api_key="x", max_retries=0) as client:
        r = client.chat.completions.create(model="gpt-4o-mini", messages=[
            {"role": "user", "content": "What's the weather in Paris?"}])
    assert r.choices[0].finish_reason == "stop" and not r.choices[0].message.tool_calls
    assert r.choices[0].message.content == "Hello from the mock."


def test_has_tool_result_true_lets_a_tool_rule_answer_tool_results() -> None:
    app = create_app(delay=0, rules=[
        {"match": {"contains": "trip", "has_tool_result": True},
         "tool_calls": [{"name": "book", "arguments": {"id": 1}}]},
        {"match": {"contains": "trip"}, "tool_calls": [{"name": "search"}]},
    ])
    tools: Any = [{"type": "function", "function": {"name": n}} for n in ("search", "book")]
    first: list[Any] = [{"role": "user", "content": "plan a trip"}]
    with serve(app, "werkzeug") as base, \
            OpenAI(base_url=base + "/mock/v1", api_key="x", max_retries=0) as client:
        m1 = client.chat.completions.create(model="gpt-4o-mini", messages=first,
                                            tools=tools).choices[0].message
        assert m1.tool_calls and m1.tool_calls[0].function.name == "search"  # type: ignore[union-attr]
        second = [*first, m1.model_dump(exclude_none=True),
                  {"role": "tool", "tool_call_id": m1.tool_calls[0].id, "content": "found"}]
        m2 = client.chat.completions.create(model="gpt-4o-mini", messages=second,
                                            tools=tools).choices[0].message
        assert m2.tool_calls and m2.tool_calls[0].function.name == "book"  # type: ignore[union-attr]
