"""Parallel tests against ONE mock server (pytest -n 2 --sse-mock-url URL): each test has its
own session, so queued answers, journals and `*count` cycles never cross."""

import os
from pathlib import Path

import pytest
from openai import OpenAI


@pytest.mark.parametrize("n", range(8))
def test_isolated(sse_mock_server, n):
    assert sse_mock_server.app is None  # the server runs elsewhere
    assert sse_mock_server.session
    word = f"answer-{n}-{sse_mock_server.session}"
    sse_mock_server.next(reply=word)
    sse_mock_server.next({"fault": "rate_limit:0.01"}, {"reply": "after the 429"})
    client = OpenAI(default_headers=sse_mock_server.headers, max_retries=2)
    hi = [{"role": "user", "content": f"test {n}"}]
    got = client.chat.completions.create(model="gpt-4o-mini", messages=hi)
    assert got.choices[0].message.content == word
    got = client.chat.completions.create(model="gpt-4o-mini", messages=hi)
    assert got.choices[0].message.content == "after the 429"
    calls = sse_mock_server.assert_called(3)
    assert {r["session"] for r in calls} == {sse_mock_server.session}
    assert all(said == f"test {n}" for said in (r["body"]["messages"][0]["content"]
                                                  for r in calls))
    sse_mock_server.assert_resilient()
    assert os.environ["OPENAI_BASE_URL"] == sse_mock_server.openai_base_url
    # Tell the outer test which sessions ran.
    (Path(os.environ["SESSIONS_DIR"]) / sse_mock_server.session).touch()


@pytest.mark.sse_mock(reply="x")
def test_marker_with_a_shared_server_is_skipped(sse_mock_server):
    raise AssertionError("not run: the server's configuration is not this test's")
