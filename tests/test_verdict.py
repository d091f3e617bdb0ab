"""The resilience verdict (sse_mock.verdict): a pure table of journal records first, then real
clients over a real socket — the official SDKs with their default retries (resilient) and a
naive httpx loop (every finding), PROTOCOLS.md §1.7, §2.6, §4.5."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from conftest import serve

from sse_mock import create_app
from sse_mock.calls import MockControl
from sse_mock.verdict import KINDS, judge

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
HI = BODY["messages"]


def rec(id: int, t: float, status: int = 200, *, dur: float = 0.0, **kw: Any) -> dict[str, Any]:
    """A journal record as GET /mock/_journal gives it."""
    record = {"id": id, "time": 1000.0 + t, "duration": dur, "method": "POST",
              "path": "/mock/v1/chat/completions", "route": "openai-chat", "status": status,
              "body": BODY, "fault": None, "events": 0, "session": "", "query": "",
              "outcome": "completed" if status < 400 else "fault", "retry_count": None,
              "idempotency_key": None, "last_event_id": None, "retry_after": None,
              "should_retry": None, "sse_retry": None}
    record.update(kw)
    return record


def plain(id: int, t: float, **kw: Any) -> dict[str, Any]:
    kw.setdefault("route", "plain")
    return rec(id, t, method="GET", path="/mock/stream", body=None, query="prompt=hi", **kw)


# -- the pure table -------------------------------------------------------------------------

TABLE = {
    "sdk waits retry-after": ([rec(1, 0, 429, retry_after=0.5), rec(2, 0.52, 429, retry_after=0.5),
                               rec(3, 1.03)], []),
    "too early for retry-after": ([rec(1, 0, 429, retry_after=1.0), rec(2, 0.2)],
                                  ["retried_before_retry_after"]),
    "sdk backoff after a 500": ([rec(1, 0, 500), rec(2, 0.45), ], []),
    "no backoff after a 500": ([rec(1, 0, 500), rec(2, 0.01)], ["no_backoff"]),
    "400 retried": ([rec(1, 0, 400, outcome="error"), rec(2, 1.0, 400, outcome="error")],
                    ["retried_non_retryable"]),
    "x-should-retry false retried": ([rec(1, 0, 429, should_retry=False, retry_after=0.1),
                                      rec(2, 1.0)], ["retried_non_retryable"]),
    "x-should-retry true makes a 400 retryable": ([rec(1, 0, 400, should_retry=True),
                                                   rec(2, 1.0)], []),
    "a 400 not retried": ([rec(1, 0, 400, outcome="error")], []),
    "storm": ([rec(i, i * 0.6, 503) for i in range(1, 8)], ["retry_storm"]),
    "gave up at once": ([rec(1, 0, 429, retry_after=0.1)], ["gave_up"]),
    "gave up after one retry": ([rec(1, 0, 503), rec(2, 0.6, 503)], ["gave_up"]),
    "three attempts is the SDKs' limit": ([rec(1, 0, 503), rec(2, 0.6, 503), rec(3, 1.7, 503)],
                                          []),
    "x-should-retry false: stopping is right": ([rec(1, 0, 529, should_retry=False)], []),
    "retry-after beyond the SDK cap: stopping is right": ([rec(1, 0, 429, retry_after=3600)],
                                                          []),
    "truncated accepted": ([rec(1, 0, fault="truncate_after:2", outcome="fault", events=2)],
                           ["accepted_truncated_stream"]),
    "truncated then retried": ([rec(1, 0, fault="truncate_after:2", outcome="fault", events=2),
                                rec(2, 0.6)], []),
    "in-band error is the client's call": ([rec(1, 0, fault="error_after:1", outcome="fault",
                                                events=1)], []),
    "success then the same request: two calls": ([rec(1, 0), rec(2, 0.01)], []),
    "different bodies: two calls": ([rec(1, 0, 500), rec(2, 0.01, 500,
                                                         body={**BODY, "model": "x"})],
                                    ["gave_up", "gave_up"]),
    "other sessions: two calls": ([rec(1, 0, 500, session="a"), rec(2, 0.01, 500, session="b")],
                                  ["gave_up", "gave_up"]),
    "same idempotency key, edited body": ([rec(1, 0, 429, retry_after=1.0, idempotency_key="k"),
                                           rec(2, 0.1, body={}, idempotency_key="k")],
                                          ["retried_before_retry_after"]),
    "EventSource resumes with Last-Event-ID after retry:": (
        [plain(1, 0, dur=0.2, fault="disconnect_after:3", outcome="fault", events=3,
               sse_retry=500),
         plain(2, 0.75, last_event_id="2", sse_retry=500)], []),
    "reconnect sooner than retry:": (
        [plain(1, 0, dur=0.2, fault="disconnect_after:3", outcome="fault", events=3,
               sse_retry=2000),
         plain(2, 0.3, last_event_id="2", sse_retry=2000)], ["ignored_sse_retry"]),
    "restart without Last-Event-ID": (
        [plain(1, 0, dur=0.2, fault="disconnect_after:3", outcome="fault", events=3),
         plain(2, 1.0)], ["reconnected_without_last_event_id"]),
    "control calls and model lists are not calls": (
        [rec(1, 0, route="verdict", method="GET"), rec(2, 0, 500, method="GET",
                                                       route="openai-models")], []),
}


@pytest.mark.parametrize("records,kinds", TABLE.values(), ids=TABLE.keys())
def test_table(records: list[dict[str, Any]], kinds: list[str]) -> None:
    verdict = judge(records)
    assert verdict.kinds() == kinds, verdict.explain()
    assert verdict.ok is (not kinds)
    for finding in verdict.findings:
        assert finding.kind in KINDS
        assert finding.requests and set(finding.requests) <= {r["id"] for r in records}
        assert finding.title in verdict.explain()


def test_order_of_records_does_not_matter() -> None:
    records = [rec(1, 0, 429, retry_after=1.0), rec(2, 0.2), rec(3, 5, 503)]
    assert judge(records).kinds() == judge(records[::-1]).kinds() == [
        "retried_before_retry_after", "gave_up"]


def test_explain_quotes_the_requests() -> None:
    text = judge([rec(1, 0, 429, retry_after=1.0, fault="rate_limit:1"), rec(2, 0.25)]).explain()
    assert text.splitlines() == [
        "sse_mock verdict: 1 finding(s) in 1 calls (2 requests)",
        "1. retried before retry-after: #2 came 0.250 s after #1's 429 (rate_limit:1), which "
        "asked to wait 1 s (retry-after-ms / retry-after, §2.6)",
        "     #1 POST /mock/v1/chat/completions 429 fault fault=rate_limit:1 retry-after=1.0",
        "     #2 POST /mock/v1/chat/completions 200 completed",
    ]
    assert judge([]).explain() == ("sse_mock verdict: resilient (0 calls, 0 requests, "
                                   "no findings)")


# -- real clients ---------------------------------------------------------------------------

RULES = [
    {"match": {"contains": "flaky"}, "fault": "rate_limit:0.05*2"},
    {"match": {"contains": "wobbly"}, "fault": "server_error*1"},
    {"match": {"contains": "limited"}, "fault": "rate_limit:1"},
    {"match": {"contains": "broken"}, "fault": "server_error"},
    {"match": {"contains": "forbidden"}, "fault": "unauthorized"},
    {"match": {"contains": "cut"}, "fault": "truncate_after:2"},
]


@pytest.fixture(scope="module")
def app() -> Any:
    return create_app(delay=0, rules=RULES, retry=400)


@pytest.fixture(scope="module")
def url(app: Any) -> Iterator[str]:
    with serve(app) as base:
        yield base


@pytest.fixture
def session(request: pytest.FixtureRequest) -> str:
    """Each test in its own session of the one module server."""
    return request.node.name.replace("[", "_").replace("]", "")[:100]


def said(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_official_sdks_with_default_retries_are_resilient(app: Any, url: str,
                                                          session: str) -> None:
    headers = {"X-Mock-Session": session}
    oai = openai.OpenAI(base_url=url + "/mock/v1", api_key="x", default_headers=headers)
    claude = anthropic.Anthropic(base_url=url + "/mock", api_key="x", default_headers=headers)
    oai.chat.completions.create(model="gpt-4o-mini", messages=said("flaky"))  # type: ignore
    with oai.chat.completions.create(model="gpt-4o-mini", messages=said("wobbly"),  # type: ignore
                                     stream=True) as stream:
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    claude.messages.create(model="claude-sonnet-4-6", max_tokens=20,
                           messages=said("flaky"))  # type: ignore[arg-type]
    statuses = [e.status for e in app.journal.entries(session)]
    assert statuses == [429, 429, 200, 500, 200, 429, 429, 200]
    verdict = app.verdict(session)
    assert verdict.ok, verdict.explain()
    assert (verdict.calls, verdict.requests) == (3, 8)


def test_naive_httpx_loop_gets_every_retry_finding(app: Any, url: str, session: str) -> None:
    headers = {"X-Mock-Session": session}
    chat = url + "/mock/v1/chat/completions"
    with httpx.Client(headers=headers, timeout=10) as client:
        for text, attempts in (("limited", 7), ("broken", 3), ("forbidden", 2)):
            for _ in range(attempts):  # no wait, no look at the status or the headers
                if client.post(chat, json={**BODY, "messages": said(text)}).status_code == 200:
                    break
    verdict = app.verdict(session)
    assert verdict.kinds() == (["retried_before_retry_after"] * 6 + ["retry_storm"]
                               + ["no_backoff"] * 2 + ["retried_non_retryable"])
    assert "7 attempts at one call" in verdict.explain()


def test_sdk_without_retries_gave_up(app: Any, url: str, session: str) -> None:
    oai = openai.OpenAI(base_url=url + "/mock/v1", api_key="x", max_retries=0,
                        default_headers={"X-Mock-Session": session})
    with pytest.raises(openai.RateLimitError):
        oai.chat.completions.create(model="gpt-4o-mini", messages=said("limited"))  # type: ignore
    assert app.verdict(session).kinds() == ["gave_up"]


def test_sdk_stream_that_accepts_a_truncated_answer(app: Any, url: str, session: str) -> None:
    oai = openai.OpenAI(base_url=url + "/mock/v1", api_key="x",
                        default_headers={"X-Mock-Session": session})
    chunks = list(oai.chat.completions.create(model="gpt-4o-mini", messages=said("cut it"),  # type: ignore
                                              stream=True))
    assert all(c.choices[0].finish_reason is None for c in chunks if c.choices)  # no finish
    assert app.verdict(session).kinds() == ["accepted_truncated_stream"]


def _read_plain(client: httpx.Client, url: str, **headers: str) -> list[str]:
    """The ids of a plain stream until it ends or drops."""
    ids: list[str] = []
    try:
        with client.stream("GET", url, headers=headers) as r:
            for line in r.iter_lines():
                if line.startswith("id: "):
                    ids.append(line[4:])
    except httpx.RemoteProtocolError:
        pass
    return ids


def test_stream_reconnects(app: Any, url: str, session: str) -> None:
    """A resume that waits for retry: (400 ms here) and sends Last-Event-ID is right; one that
    comes at once, or restarts without the id, is not (§1.7)."""
    stream = url + f"/mock/stream?prompt=hi&fault=disconnect_after:2&session={session}"
    with httpx.Client(timeout=10) as client:
        ids = _read_plain(client, stream)
        assert len(ids) == 2  # disconnect_after:2
        time.sleep(0.45)  # the stream's retry: — what an EventSource waits, not a sync
        ids = _read_plain(client, stream, **{"Last-Event-ID": ids[-1]})
        assert len(ids) == 2  # the next two words, then the fault again
        assert app.verdict(session).ok, app.verdict(session).explain()
        _read_plain(client, stream, **{"Last-Event-ID": ids[-1]})  # at once
        assert app.verdict(session).kinds() == ["ignored_sse_retry"]
        time.sleep(0.45)
        _read_plain(client, stream)  # from the start
    assert app.verdict(session).kinds() == ["ignored_sse_retry",
                                            "reconnected_without_last_event_id"]


def test_verdict_endpoint_and_helper(app: Any, url: str, session: str) -> None:
    with httpx.Client(headers={"X-Mock-Session": session}) as client:
        for _ in range(2):
            client.post(url + "/mock/v1/chat/completions",
                        json={**BODY, "messages": said("limited")})
        answer = client.get(url + "/mock/_verdict")
    assert answer.status_code == 200
    data = answer.json()
    assert data == json.loads(json.dumps(app.verdict(session).to_dict()))
    assert [f["kind"] for f in data["findings"]] == ["retried_before_retry_after", "gave_up"]
    assert data["findings"][0]["requests"] == [e.id for e in app.journal.entries(session)]
    control = MockControl(url, session=session)
    with pytest.raises(AssertionError, match=r"(?s)retried before retry-after.*gave up"):
        control.assert_resilient()
    control.assert_resilient(ignore=["retried_before_retry_after", "gave_up"])
    # Other sessions are judged apart: the default one saw nothing of this.
    assert httpx.get(url + "/mock/_verdict").json()["requests"] == 0
