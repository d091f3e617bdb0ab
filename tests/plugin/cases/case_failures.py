"""Tests that fail on purpose: their messages must say what the mock received."""

import httpx
import pytest

from sse_mock.testing import openai_client

HI = [{"role": "user", "content": "What's the weather in Paris?"}]


def test_wrong_model(sse_mock):
    openai_client(sse_mock).chat.completions.create(model="gpt-4o-mini", messages=HI)
    sse_mock.assert_called(2, model="gpt-5*")


def test_nothing_received(sse_mock):
    sse_mock.assert_called_once(route="anthropic-messages")


@pytest.mark.sse_mock(rules=[{"match": {}, "fault": "rate_limit:1"}])
def test_naive_retry_loop(sse_mock_server):
    for _ in range(3):
        r = httpx.post(sse_mock_server.openai_base_url + "/chat/completions",
                       json={"model": "gpt-4o-mini", "messages": HI})
        if r.status_code == 200:
            break
    sse_mock_server.assert_resilient()


@pytest.mark.sse_mock(delayy=1)
def test_bad_marker(sse_mock):
    pass
