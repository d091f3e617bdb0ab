"""End-to-end tests of a chat page (agent.html) in a real browser against ``sse_mock_server``.

Run them with::

    pip install sse-mock playwright pytest
    pytest examples/e2e                                # a mock server of its own
    sse-mock serve --port 8001 --delay 0 &
    pytest -n 4 examples/e2e --sse-mock-url http://127.0.0.1:8001   # one shared server

Each test scripts the mock's next answers through the control API, drives the page, then
checks what the page sent (the journal) and how it coped with the faults (the verdict).
"""

from __future__ import annotations

from typing import Any

import pytest

WEATHER = {"name": "get_weather", "arguments": {"city": "Paris"}}


def test_tool_call_then_rate_limit(sse_mock_server: Any, page: Any) -> None:
    """The next answer is a tool call, then a 429, then the final text."""
    sse_mock_server.next({"tool_calls": [WEATHER]},
                         {"fault": "rate_limit:0.3"},
                         {"reply": "It is sunny in Paris, 21 °C."})
    page.goto(sse_mock_server.url + "/agent.html")
    page.click("#send")
    page.wait_for_selector("#status[data-state=done]")
    assert page.text_content("#answer") == "It is sunny in Paris, 21 °C."
    assert page.locator("#log li").all_text_contents() == [
        'get_weather({"city":"Paris"}) → {"city":"Paris","forecast":"sunny","celsius":21}',
        "HTTP 429: retrying in 300 ms",
    ]
    calls = sse_mock_server.assert_called(3, route="openai-chat")
    assert [r["status"] for r in calls] == [200, 429, 200]
    assert calls.last_messages[-1]["role"] == "tool"  # the tool's result went back
    sse_mock_server.assert_resilient()  # waited the 300 ms the 429 asked for


def test_truncated_answer_is_retried(sse_mock_server: Any, page: Any) -> None:
    sse_mock_server.next(reply="This answer will be cut short.", fault="truncate_after:3")
    page.goto(sse_mock_server.url + "/agent.html")
    page.fill("#prompt", "Tell me something.")
    page.click("#send")
    page.wait_for_selector("#status[data-state=done]")
    assert page.text_content("#answer") == "Hello, this is a mocked chatbot. How can I help you?"
    assert [r["outcome"] for r in sse_mock_server.calls()] == ["fault", "completed"]
    sse_mock_server.assert_resilient()


@pytest.mark.sse_mock(retry=200)  # the plain stream says `retry: 200` (ms)
def test_eventsource_resumes_a_dropped_stream(sse_mock_server: Any, page: Any) -> None:
    page.goto(sse_mock_server.url + "/agent.html?reply=one+two+three+four+five+six+seven"
              "&fault=disconnect_after:3")
    page.click("#words")
    page.wait_for_selector("#status[data-state=done]")
    assert page.text_content("#answer") == "one two three four five six seven"
    attempts = sse_mock_server.calls(route="plain")
    assert [r["last_event_id"] is not None for r in attempts] == [False, True, True]
    sse_mock_server.assert_resilient()  # resumed with Last-Event-ID, after the retry: delay
