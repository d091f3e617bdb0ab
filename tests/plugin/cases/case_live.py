"""The live server as a user's application meets it: environment, concurrency, per-test
configuration."""

import os
import threading

import httpx
import pytest
from anthropic import Anthropic
from openai import OpenAI

HI = [{"role": "user", "content": "Hi"}]


def my_app_code() -> str:
    """Application code that builds its own client from the environment."""
    client = OpenAI()
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=HI, stream=True)
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


@pytest.mark.sse_mock(reply="Live and well.")
def test_environment_points_the_sdks_at_the_mock(sse_mock_server):
    assert os.environ["OPENAI_BASE_URL"] == sse_mock_server.openai_base_url
    assert os.environ["ANTHROPIC_BASE_URL"] == sse_mock_server.anthropic_base_url
    assert sse_mock_server.url.startswith("http://127.0.0.1:")
    assert my_app_code() == "Live and well."
    message = Anthropic().messages.create(model="claude-sonnet-4-6", max_tokens=20,
                                          messages=HI)
    assert message.content[0].text == "Live and well."
    sse_mock_server.assert_called(1, route="openai-chat")
    sse_mock_server.assert_called(1, route="anthropic-messages")
    assert sse_mock_server.app.config.reply == "Live and well."


def test_reset_and_reconfigured_per_test(sse_mock_server):
    assert sse_mock_server.calls() == []  # nothing from the previous test
    assert my_app_code() == "Hello, this is a mocked chatbot. How can I help you?"


@pytest.mark.sse_mock(delay=0.2, reply="one two three four five")
def test_streams_concurrently(sse_mock_server):
    """Two streams open at once: the second starts while the first is still going."""
    url = sse_mock_server.base + "/stream"
    first_events = threading.Event()
    second_done = threading.Event()
    seen = []

    def first():
        with httpx.stream("GET", url, timeout=10) as r:
            for line in r.iter_lines():
                if line.startswith("data:"):
                    first_events.set()
                    seen.append(("first", line, second_done.is_set()))

    t = threading.Thread(target=first)
    t.start()
    assert first_events.wait(10)
    with httpx.stream("GET", url + "?reply=x", timeout=10) as r:
        assert [line for line in r.iter_lines() if line.startswith("data:")] == [
            "data: x", "data: [DONE]"]
    second_done.set()
    t.join(10)
    # The second stream ended while the first was still sending.
    assert any(flag for _, _, flag in seen)
    assert seen[-1][1] == "data: [DONE]"


def test_environment_is_restored_after_a_test():
    assert os.environ.get("OPENAI_BASE_URL") is None
    assert os.environ.get("OPENAI_API_KEY") is None


def test_control_api_of_the_live_server(sse_mock_server):
    sse_mock_server.next(reply="Scripted.")
    sse_mock_server.next({"fault": "rate_limit:0.01"}, match={"contains": "again"})
    client = OpenAI(max_retries=2)
    assert client.chat.completions.create(model="m", messages=HI).choices[0].message.content == (
        "Scripted.")
    again = [{"role": "user", "content": "again"}]
    assert client.chat.completions.create(model="m", messages=again).choices[0].message.content
    sse_mock_server.assert_called(1, status=429)
    sse_mock_server.assert_resilient()
