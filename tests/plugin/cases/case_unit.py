"""Unit tests as a user writes them: the in-process `sse_mock` fixture and the marker."""

import pytest

from sse_mock.testing import anthropic_client, openai_client

pytestmark = pytest.mark.sse_mock(reply="From the module.", seed=7)

HI = [{"role": "user", "content": "Hi"}]
TOOL = {"name": "get_weather", "description": "The weather in a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


def test_module_marker_applies(sse_mock):
    assert sse_mock.config.reply == "From the module."
    assert sse_mock.config.delay == 0  # the plugin's default: tests are fast
    reply = openai_client(sse_mock).chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert reply.choices[0].message.content == "From the module."
    sse_mock.assert_called_once(route="openai-chat", model="gpt-4o*", contains="hi")


@pytest.mark.sse_mock(reply="From the test.")
def test_nearest_marker_wins_key_by_key(sse_mock):
    assert sse_mock.config.reply == "From the test."
    assert sse_mock.config.seed == 7  # still the module's
    assert len(sse_mock.journal) == 0  # fresh per test


@pytest.mark.sse_mock({"rules": [{"match": {"contains": "weather"},
                                  "tool_calls": [{"name": "get_weather",
                                                  "arguments": {"city": "Paris"}}]}]})
def test_rules_and_journal_assertions(sse_mock):
    client = anthropic_client(sse_mock)
    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=50, tools=[TOOL],
                                messages=[{"role": "user", "content": "weather?"}]) as s:
        final = s.get_final_message()
    assert [b.name for b in final.content if b.type == "tool_use"] == ["get_weather"]
    client.messages.create(model="claude-sonnet-4-6", max_tokens=50, messages=HI)
    calls = sse_mock.assert_called(2, route="anthropic-messages")
    assert calls.models == ["claude-sonnet-4-6", "claude-sonnet-4-6"]
    assert sse_mock.calls(contains="weather").last["rule"] == "rules[0]"
    assert sse_mock.last_request["body"]["messages"] == HI
    assert sse_mock.calls().last_messages == HI
    sse_mock.assert_not_called(route="openai-chat")


@pytest.mark.sse_mock("mock.toml")
def test_config_file_relative_to_the_test(sse_mock):
    assert sse_mock.config.reply == "From the file."


class TestClassMarker:
    pytestmark = pytest.mark.sse_mock(reply="From the class.")

    def test_class_marker(self, sse_mock):
        assert sse_mock.config.reply == "From the class."
        assert sse_mock.config.seed == 7


@pytest.mark.sse_mock(rules=[{"match": {"contains": "flaky"}, "fault": "rate_limit:0.01*2"}])
def test_sdk_retries_are_resilient(sse_mock):
    client = openai_client(sse_mock, max_retries=2)
    client.chat.completions.create(model="gpt-4o-mini",
                                   messages=[{"role": "user", "content": "flaky"}])
    sse_mock.assert_called(3, contains="flaky")
    sse_mock.assert_resilient()
