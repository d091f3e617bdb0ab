"""Quotas (issue 10, point 4): ``[ratelimit] requests_per_minute`` / ``tokens_per_minute`` per API
key as token buckets in the state backend — a 429 with truthful ``retry-after`` /
``retry-after-ms`` (PROTOCOLS.md §2.6) and rate-limit headers counting down (§2.2, §4.1); shared
by every worker through Redis."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from conftest import serve

from sse_mock import create_app
from sse_mock.quota import go_duration
from sse_mock.testing import WSGITransport

HI = [{"role": "user", "content": "hi"}]


def client(app: Any) -> httpx.Client:
    return httpx.Client(transport=WSGITransport(app), base_url="http://mock")


def chat(c: httpx.Client, key: str = "k1", **body: Any) -> httpx.Response:
    return c.post("/mock/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                  json={"model": "gpt-4o-mini", "messages": HI, **body})


def test_requests_per_minute_per_api_key_with_headers_counting_down() -> None:
    app = create_app(delay=0, ratelimit={"requests_per_minute": 2})
    with client(app) as c:
        first, second, third = chat(c), chat(c), chat(c)
        other = chat(c, key="k2")
    assert [r.status_code for r in (first, second, third, other)] == [200, 200, 429, 200]
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert [r.headers["x-ratelimit-remaining-requests"] for r in (first, second, third)] == [
        "1", "0", "0"]
    # One request back every 30 s: the 429 says so, in seconds and milliseconds.
    assert third.headers["retry-after"] == "30"
    assert 29_000 <= int(third.headers["retry-after-ms"]) <= 30_000
    assert third.headers["x-ratelimit-reset-requests"].startswith(("59", "1m0s", "60"))
    error = third.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and "requests per min" in error["message"]
    assert other.headers["x-ratelimit-remaining-requests"] == "1"  # its own bucket


def test_anthropic_headers_and_per_session_bucket_without_a_key() -> None:
    app = create_app(delay=0, ratelimit={"requests_per_minute": 1})
    with client(app) as c:
        def claude() -> httpx.Response:  # no API key: the session's bucket
            return c.post("/mock/v1/messages", json={
                "model": "claude-haiku-4-5", "max_tokens": 5, "messages": HI})

        ok, refused = claude(), claude()
    assert (ok.status_code, refused.status_code) == (200, 429)
    assert ok.headers["anthropic-ratelimit-requests-limit"] == "1"
    assert ok.headers["anthropic-ratelimit-requests-remaining"] == "0"
    reset = datetime.fromisoformat(ok.headers["anthropic-ratelimit-requests-reset"])
    assert 50 <= (reset - datetime.now(UTC)).total_seconds() <= 61
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert refused.headers["retry-after"] == "60"


def test_tokens_per_minute_retry_after_is_truthful() -> None:
    # 600 tokens a minute = 10 a second. The first request takes almost all of them.
    app = create_app(delay=0, ratelimit={"tokens_per_minute": 600})
    with client(app) as c:
        assert chat(c, max_tokens=590).status_code == 200
        refused = chat(c, max_tokens=20)
        assert refused.status_code == 429
        assert "tokens per min" in refused.json()["error"]["message"]
        wait = int(refused.headers["retry-after-ms"])
        assert 500 < wait < 1300  # 12 tokens short at 10 a second
        again = chat(c, max_tokens=20)  # the refusal took nothing; the wait counts down
        assert again.status_code == 429
        left = int(again.headers["retry-after-ms"])
        assert left <= wait
        time.sleep(left / 1000 + 0.02)
        ok = chat(c, max_tokens=20)  # as promised
        assert ok.status_code == 200, ok.text
        assert int(ok.headers["x-ratelimit-remaining-tokens"]) < 10
        too_big = chat(c, max_tokens=700)  # more than the bucket holds: never
        assert too_big.status_code == 429 and too_big.headers["x-should-retry"] == "false"


def test_the_sdk_waits_as_told_and_then_succeeds() -> None:
    openai = pytest.importorskip("openai")
    app = create_app(delay=0, ratelimit={"tokens_per_minute": 6000})
    with serve(app) as url, openai.OpenAI(base_url=url + "/mock/v1", api_key="k",
                                          max_retries=2) as sdk:
        sdk.chat.completions.create(model="gpt-4o-mini", messages=HI, max_tokens=5950)
        start = time.monotonic()
        answer = sdk.chat.completions.create(model="gpt-4o-mini", messages=HI, max_tokens=100)
        waited = time.monotonic() - start
    assert answer.choices[0].message.content
    assert 0.4 < waited < 5
    assert [e.status for e in app.journal.entries()] == [200, 429, 200]


def test_quotas_are_shared_through_redis(redis_url: str, prefix: str) -> None:
    config = {"delay": 0, "state": redis_url, "state_prefix": prefix,
              "ratelimit": {"requests_per_minute": 3}}
    a, b = create_app(**config), create_app(**config)  # two workers
    try:
        with client(a) as ca, client(b) as cb:
            got = [chat(c).status_code for c in (ca, cb, ca, cb)]
            remaining = chat(cb, key="k9").headers["x-ratelimit-remaining-requests"]
    finally:
        a.state.close()
        b.state.close()
    assert got == [200, 200, 200, 429]
    assert remaining == "2"


def test_go_durations() -> None:
    assert [go_duration(s) for s in (0.0001, 0.5, 1, 17.43, 59.99, 60, 61.2)] == [
        "1ms", "500ms", "1s", "17.5s", "1m0s", "1m0s", "1m2s"]
