"""Sessions and the control API (``_next``, ``_reset``, ``_journal``, ``_verdict``), in process
and over a socket, with the in-memory state and with a real Redis shared by two "workers"."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from conftest import serve

from sse_mock import create_app
from sse_mock.state.base import MAX_QUEUE
from sse_mock.testing import ControlError, MockControl, WSGITransport

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
CHAT = "/mock/v1/chat/completions"
RULES = [
    {"match": {"contains": "count"}, "fault": "rate_limit:0.01*1"},
    {"match": {"contains": "steps"}, "replies": ["one", "two"]},
    {"match": {"contains": "weather"}, "reply": "The rule's answer."},
]


def client(app: Any, session: str | None = None, **headers: str) -> httpx.Client:
    if session is not None:
        headers["X-Mock-Session"] = session
    # A loopback Host: the control endpoints answer no other (issue 9's guard).
    return httpx.Client(transport=WSGITransport(app), base_url="http://127.0.0.1",
                        headers=headers)


def text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


def ask(c: httpx.Client, said: str = "Hi", **kw: Any) -> httpx.Response:
    return c.post(CHAT, json={**BODY, "messages": [{"role": "user", "content": said}]}, **kw)


@pytest.fixture
def app() -> Any:
    return create_app(delay=0, rules=RULES)


# -- sessions ---------------------------------------------------------------------------------


def test_session_from_header_query_or_cookie(app: Any) -> None:
    with client(app) as c:
        ask(c, headers={"X-Mock-Session": "h"})
        c.get("/mock/stream?reply=x&session=q")
        ask(c, headers={"Cookie": "theme=dark; sse_mock_session=k"})
        # The header wins over the query and the cookie.
        c.get("/mock/stream?reply=x&session=q", headers={"X-Mock-Session": "h",
                                                         "Cookie": "sse_mock_session=k"})
    assert [e.route for e in app.journal.entries("h")] == ["openai-chat", "plain"]
    assert [e.route for e in app.journal.entries("q")] == ["plain"]
    assert [e.route for e in app.journal.entries("k")] == ["openai-chat"]
    assert app.journal.entries() == []
    assert {e.session for e in app.journal.entries("h")} == {"h"}


@pytest.mark.parametrize("how", ["header", "query", "cookie"])
def test_bad_session_name_is_a_400_in_the_route_shape(app: Any, how: str) -> None:
    bad = "a b" if how != "header" else "x" * 200
    kw: dict[str, Any] = {"header": {"headers": {"X-Mock-Session": bad}},
                          "query": {"params": {"session": bad}},
                          "cookie": {"headers": {"Cookie": f"sse_mock_session={bad}"}}}[how]
    with client(app) as c:
        r = ask(c, **kw)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "session"
    assert "Invalid session name" in r.json()["error"]["message"]


def test_count_cycles_and_sequences_are_per_session(app: Any) -> None:
    with client(app, "a") as a, client(app, "b") as b:
        assert ask(a, "count").status_code == 429
        assert ask(b, "count").status_code == 429  # b's cycle is its own
        assert ask(a, "count").status_code == 200
        assert [text(ask(a, "steps")), text(ask(b, "steps")), text(ask(a, "steps"))] == [
            "one", "one", "two"]


# -- _next -----------------------------------------------------------------------------------


def test_next_is_served_first_in_first_out_before_any_rule(app: Any) -> None:
    with client(app, "s") as c:
        r = c.post("/mock/_next", json={"reply": "First."})
        assert r.status_code == 200 and r.json()["queued"] == 1
        c.post("/mock/_next", json={"actions": [{"reply": "Second."}, {"fault": "server_error"}]})
        assert [item["action"] for item in c.get("/mock/_next").json()["data"]] == [
            {"reply": "First."}, {"reply": "Second."}, {"fault": "server_error"}]
        assert text(ask(c, "weather")) == "First."  # before the weather rule
        assert text(ask(c)) == "Second."
        assert ask(c).status_code == 500
        assert text(ask(c, "weather")) == "The rule's answer."  # the queue is empty
        assert c.get("/mock/_next").json()["data"] == []
    assert [e.rule for e in app.journal.entries("s")] == ["_next", "_next", "_next", "rules[2]"]


def test_next_with_match_waits_for_a_matching_request(app: Any) -> None:
    with client(app, "m") as c, client(app, "other") as other:
        c.post("/mock/_next", json={"match": {"contains": "weather"},
                                    "actions": [{"reply": "Queued weather."}]})
        c.post("/mock/_next", json={"reply": "Anything."})
        assert text(other.post(CHAT, json=BODY)) != "Anything."  # another session's queue
        assert text(ask(c)) == "Anything."  # the first item does not match: skipped, kept
        assert text(ask(c, "weather?")) == "Queued weather."
        assert text(ask(c, "weather?")) == "The rule's answer."


def test_next_drives_an_sdk_agent_step(app: Any) -> None:
    """The next answer is a tool call, then a 429 the SDK retries through."""
    oai = openai.OpenAI(base_url="http://127.0.0.1/mock/v1", api_key="x",
                        default_headers={"X-Mock-Session": "agent"},
                        http_client=httpx.Client(transport=WSGITransport(app)))
    control = client(app, "agent")
    control.post("/mock/_next", json={"actions": [
        {"tool_calls": [{"name": "lookup", "arguments": {"q": "x"}}]},
        {"fault": "rate_limit:0.01"}]})
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    first = oai.chat.completions.create(model="gpt-4o-mini", messages=BODY["messages"],  # type: ignore
                                        tools=tools)  # type: ignore[arg-type]
    assert first.choices[0].message.tool_calls[0].function.name == "lookup"  # type: ignore
    second = oai.chat.completions.create(model="gpt-4o-mini",  # type: ignore[call-overload]
                                         messages=BODY["messages"])
    assert second.choices[0].message.content
    assert [e.status for e in app.journal.entries("agent")] == [200, 429, 200]
    assert app.verdict("agent").ok


@pytest.mark.parametrize("payload,where", [
    ({"replyy": "x"}, "_next: unknown key 'replyy' (did you mean 'reply'?)"),
    ({"actions": [{"reply": "x"}, {"fault": "nope"}]}, "_next.actions[1].fault: unknown fault"),
    ({"match": {"contanis": "x"}, "actions": [{"reply": "x"}]}, "_next.match: unknown key"),
    ({"match": {"contains": "x"}, "reply": "x"}, "_next: unknown key 'reply' (put action keys"),
    ({"match": {"contains": "x"}}, '_next: "actions" is missing'),
    ({"actions": []}, "_next.actions: expected a non-empty list"),
    ({"reply_file": "/etc/passwd"}, "_next.reply_file: not allowed in a queued action"),
    ({"delay": -1}, "_next.delay: expected a number from 0 to 3600"),
    ([{"reply": "x"}], "The request body must be a JSON object"),
])
def test_next_is_validated_like_a_rule(app: Any, payload: Any, where: str) -> None:
    with client(app, "v") as c:
        r = c.post("/mock/_next", json=payload)
        assert r.status_code == 400
        assert r.json()["error"]["message"].startswith(where), r.json()
        assert c.get("/mock/_next").json()["data"] == []  # nothing queued


def test_queue_is_bounded(app: Any) -> None:
    with client(app, "full") as c:
        assert c.post("/mock/_next", json={"actions": [{"reply": "x"}] * MAX_QUEUE}).json()[
            "queued"] == MAX_QUEUE
        r = c.post("/mock/_next", json={"reply": "one more"})
        assert r.status_code == 409 and "more than 1000" in r.json()["error"]["message"]


# -- _reset, journal, guard --------------------------------------------------------------------


def test_reset_one_session_or_everything(app: Any) -> None:
    with client(app, "a") as a, client(app, "b") as b, client(app) as default:
        for c in (a, b):
            c.post("/mock/_next", json={"match": {"contains": "later"},
                                        "actions": [{"reply": "queued"}]})
            assert ask(c, "count").status_code == 429
        ask(default)
        assert a.post("/mock/_reset").json() == {"object": "reset", "session": "a"}
        assert a.get("/mock/_journal").json()["data"] == []
        assert a.get("/mock/_next").json()["data"] == []
        assert ask(a, "count").status_code == 429  # the cycle restarted
        assert len(b.get("/mock/_journal").json()["data"]) == 1  # b untouched
        assert b.get("/mock/_next").json()["data"]
        assert len(app.journal.entries()) == 1
        assert default.post("/mock/_reset").json() == {"object": "reset", "session": "*"}
        assert b.get("/mock/_journal").json()["data"] == [] and app.journal.entries() == []


def test_control_routes_are_guarded_and_not_journaled(app: Any) -> None:
    with client(app, "g") as c:
        for method, path in (("POST", "/mock/_next"), ("POST", "/mock/_reset"),
                             ("GET", "/mock/_verdict"), ("GET", "/mock/_next")):
            kw: dict[str, Any] = {"json": {"reply": "x"}} if method == "POST" else {}
            r = c.request(method, path, headers={"Origin": "https://evil.example"}, **kw)
            assert r.status_code == 403, (path, r.text)
            assert "access-control-allow-origin" not in r.headers
            r = c.request(method, path, headers={"Host": "evil.example"}, **kw)
            assert r.status_code == 403, (path, r.text)
        c.post("/mock/_next", json={"reply": "x"})
        c.get("/mock/_verdict")
        c.post("/mock/_reset")
    assert app.journal.entries("g") == []


# -- over a socket, through MockControl --------------------------------------------------------


@pytest.fixture
def live(app: Any) -> Iterator[str]:
    with serve(app) as url:
        yield url


def test_mock_control_helper(app: Any, live: str) -> None:
    control = MockControl(live, session="t")
    oai = openai.OpenAI(base_url=control.base + "/v1", api_key="x", max_retries=0,
                        default_headers=control.headers)
    control.next(reply="Scripted.")
    assert control.queued() == [{"match": {}, "action": {"reply": "Scripted."}}]
    assert oai.chat.completions.create(model="m", messages=BODY["messages"]).choices[  # type: ignore
        0].message.content == "Scripted."
    control.assert_called_once(rule="_next")
    with pytest.raises(ControlError, match="unknown fault"):
        control.next(fault="nope")
    control.next({"reply": "a"}, {"reply": "b"}, match={"contains": "hi"})
    assert len(control.queued()) == 2
    control.reset()
    assert control.queued() == [] and control.calls() == []
    assert control.remote_verdict()["ok"] is True
    assert MockControl(live + "/mock/", session="t").base == live + "/mock"


# -- with Redis: two workers, one mock ---------------------------------------------------------


def test_queue_and_sessions_across_workers_with_redis(redis_url: str, prefix: str) -> None:
    """Two middlewares on one Redis (two worker processes, as far as state goes): a queued
    action is served once, by whichever worker gets the request; journals are per session
    across both."""
    workers = [create_app(delay=0, rules=RULES, state=redis_url, state_prefix=prefix)
               for _ in range(2)]
    try:
        with client(workers[0], "r1") as w0, client(workers[1], "r1") as w1, \
                client(workers[1], "r2") as other:
            w0.post("/mock/_next", json={"actions": [{"reply": "once"}, {"reply": "twice"}]})
            assert [i["action"]["reply"] for i in w1.get("/mock/_next").json()["data"]] == [
                "once", "twice"]
            answers = [text(ask(w1)), text(ask(w0)), text(ask(w1))]
            assert answers[:2] == ["once", "twice"] and answers[2] != "once"
            assert text(ask(other)) not in ("once", "twice")
            assert ask(w0, "count").status_code == 429
            assert ask(w1, "count").status_code == 200  # one cycle for both workers
            journal = w0.get("/mock/_journal").json()["data"]
            assert [r["session"] for r in journal] == ["r1"] * 5
            assert json.loads(w1.get("/mock/_verdict").content)["requests"] == 5
            w1.post("/mock/_reset")
            assert w0.get("/mock/_journal").json()["data"] == []
            assert len(other.get("/mock/_journal").json()["data"]) == 1
    finally:
        for w in workers:
            w.state.close()
