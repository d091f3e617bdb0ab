"""Issue 9 "Safe when mounted", in process (werkzeug's test client under wsgiref.validate):
request-chosen durations bounded by ``max_request_seconds`` (point 1), the control guard's
Host/Origin rules (point 3), journal body summaries (point 2), resumable ids (point 5), clean
outcomes (point 6) and the nearest-rule CPU bound (point 7). Real servers:
``test_safety_servers.py``; real Chromium: ``test_safety_browser.py``.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from conftest import validated
from werkzeug.test import Client

from sse_mock import SSEMockMiddleware, create_app

CHAT = "/mock/v1/chat/completions"


def app_page(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
    return [b"page"]


def client(app: Any) -> Client:
    return Client(validated(app))


def chat(app: Any, text: str = "hi", stream: bool = False, headers: Any = None,
         **extra: Any) -> Any:
    body = {"model": "gpt-4o-mini", "stream": stream,
            "messages": [{"role": "user", "content": text}], **extra}
    return client(app).post(CHAT, json=body, headers=headers or {}, buffered=True)


# -- point 1: request-supplied durations are bounded -----------------------------------------


@pytest.mark.parametrize(("control", "query", "header"), [
    ("delay", "delay=61", ("X-Mock-Delay", "61")),
    ("first_token_delay", "first_token_delay=3600", ("X-Mock-First-Token-Delay", "3600")),
    ("fault", "fault=timeout:61", ("X-Mock-Fault", "timeout:61")),
    ("fault", "fault=stall_after:1:120", ("X-Mock-Fault", "stall_after:1:120")),
])
def test_a_duration_above_max_request_seconds_is_a_400_naming_the_control(
    control: str, query: str, header: tuple[str, str]
) -> None:
    app = create_app(delay=0)
    for r in (client(app).get("/mock/stream?" + query, buffered=True),
              chat(app, headers=dict([header]))):
        assert r.status_code == 400, r.get_data()
        error = r.get_json()["error"]
        assert error["param"] == control
        assert "max_request_seconds" in error["message"]


def test_the_cap_is_a_configuration_key_and_configured_values_keep_their_limits() -> None:
    app = create_app(delay=0, max_request_seconds=2)
    assert client(app).get("/mock/stream?delay=2.5", buffered=True).status_code == 400
    assert client(app).get("/mock/stream?delay=0&fault=stall_after:1:2",
                           buffered=True).status_code == 200
    # rate_limit's seconds are the client's wait, not the server's: not capped.
    assert chat(app, headers={"X-Mock-Fault": "rate_limit:30"}).status_code == 429
    # The configuration may still say 3600 s (its own limit): no ConfigError.
    create_app(delay=3600, first_token_delay=3600, max_request_seconds=2,
               rules=[{"fault": "timeout:3600"}])


def test_a_non_streamed_wait_never_outlives_the_cap_whatever_its_source() -> None:
    # A blind wait (nothing written, no server can notice the client left) is held to the cap,
    # also when the configuration asks for longer.
    app = create_app(delay=0, first_token_delay=3600, max_request_seconds=0.3,
                     rules=[{"match": {"contains": "slow"}, "fault": "timeout:3600"}])
    t0 = time.monotonic()
    assert chat(app, "hi").status_code == 200
    assert chat(app, "slow please").status_code == 504
    assert time.monotonic() - t0 < 3


# -- point 3: control endpoints are not for pages ---------------------------------------------


@pytest.mark.parametrize("host", ["localhost", "localhost:8000", "127.0.0.1:5000", "[::1]:80",
                                  "app.localhost:3000", "127.3.4.5", "testserver"])
def test_loopback_hosts_read_the_journal(host: str) -> None:
    r = client(create_app()).get("/mock/_journal", headers={"Host": host}, buffered=True)
    assert r.status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "localhost.evil.example",
                                  "127.0.0.1.nip.io", "10.0.0.1", "[::2]"])
def test_other_hosts_are_refused_with_a_json_403_naming_the_key(host: str) -> None:
    app = create_app()
    chat(app, "secret words")
    r = client(app).get("/mock/_journal", headers={"Host": host}, buffered=True)
    assert r.status_code == 403
    assert "secret" not in r.get_data(as_text=True)
    assert "allowed_hosts" in r.get_json()["error"]["message"]
    # Streams and provider routes keep answering any host.
    assert chat(app, headers={"Host": host}).status_code == 200


def test_allowed_hosts_adds_names_and_domains() -> None:
    app = create_app(allowed_hosts=["dev.internal", ".corp.example"])
    for host, status in [("dev.internal:8000", 200), ("a.corp.example", 200),
                         ("corp.example", 200), ("evilcorp.example", 403)]:
        r = client(app).get("/mock/_journal", headers={"Host": host}, buffered=True)
        assert r.status_code == status, host
    any_host = create_app(allowed_hosts=["*"])
    assert client(any_host).get("/mock/_journal", headers={"Host": "x.y"},
                                buffered=True).status_code == 200


def test_no_cors_to_a_foreign_origin_whatever_cors_origins_says() -> None:
    for cors in ({"origins": "*"}, {"origins": ["http://page.example"]},
                 {"origins": "*", "credentials": True}):
        app = create_app(cors=cors)
        headers = {"Origin": "http://page.example"}
        r = client(app).get("/mock/_journal", headers=headers, buffered=True)
        assert r.status_code == 403
        assert not any(k.lower().startswith("access-control-") for k in r.headers.keys())
        pre = client(app).options("/mock/_journal", headers={
            **headers, "Access-Control-Request-Method": "DELETE"}, buffered=True)
        assert "Access-Control-Allow-Origin" not in pre.headers
        # The stream keeps today's CORS.
        s = client(app).get("/mock/stream?delay=0", headers=headers, buffered=True)
        assert s.headers["Access-Control-Allow-Origin"] == "http://page.example"


def test_cross_site_requests_without_origin_are_refused() -> None:
    app = create_app()
    for site in ("cross-site", "same-site"):
        r = client(app).delete("/mock/_journal", headers={"Sec-Fetch-Site": site},
                               buffered=True)
        assert r.status_code == 403
    for site in ("same-origin", "none"):
        assert client(app).get("/mock/_journal", headers={"Sec-Fetch-Site": site},
                               buffered=True).status_code == 200


def test_same_origin_pages_and_listed_control_origins_are_answered() -> None:
    app = create_app(control_origins=["http://localhost:5173"])
    same = client(app).get("/mock/_journal", headers={
        "Host": "localhost:8001", "Origin": "http://localhost:8001"}, buffered=True)
    assert same.status_code == 200 and "Access-Control-Allow-Origin" not in same.headers
    listed = client(app).get("/mock/_journal", headers={"Origin": "http://localhost:5173"},
                             buffered=True)
    assert listed.status_code == 200
    assert listed.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    pre = client(app).options("/mock/_journal", headers={
        "Origin": "http://localhost:5173", "Access-Control-Request-Method": "DELETE"},
        buffered=True)
    assert "DELETE" in pre.headers["Access-Control-Allow-Methods"]


@pytest.mark.parametrize("bad", ["*", ["null"], ["http://a.example/path"]])
def test_control_origins_must_be_exact_origins(bad: Any) -> None:
    from sse_mock.config import ConfigError

    with pytest.raises(ConfigError, match="control_origins"):
        create_app(control_origins=bad)


def test_every_control_route_goes_through_the_guard() -> None:
    mw = SSEMockMiddleware(app_page)
    controls = [r for r in [*mw._exact.values(), *mw._prefixed] if r.path.startswith("/_")]
    assert controls and all(r.control for r in controls), [r.name for r in controls]


# -- point 4: loud when on ---------------------------------------------------------------------


def test_construction_logs_one_warning_naming_the_prefix(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING", logger="sse_mock")
    SSEMockMiddleware(app_page, prefix="/llm-mock")
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "/llm-mock/" in warnings[0].getMessage() and "MOCK" in warnings[0].getMessage()
    caplog.clear()
    SSEMockMiddleware(app_page, enabled=False)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_multiprocess_with_per_process_state_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    mw = SSEMockMiddleware(app_page, delay=0)
    caplog.clear()
    caplog.set_level("WARNING", logger="sse_mock")
    for _ in range(3):
        r = Client(mw).get("/mock/stream", environ_overrides={"wsgi.multiprocess": True},
                           buffered=True)
        assert r.status_code == 200
    per_worker = [r for r in caplog.records if "per worker" in r.getMessage()]
    assert len(per_worker) == 1
    assert all(w in per_worker[0].getMessage()
               for w in ("*count", "sequences", "chaos", "journal"))


# -- point 2: memory bounded in bytes ----------------------------------------------------------


def test_a_large_body_is_journaled_as_a_summary() -> None:
    from sse_mock.journal import measure

    app = create_app(delay=0)
    big = "lorem ipsum " * 80_000  # ~1 MB
    body = {"model": "gpt-4o", "messages": [{"role": "system", "content": "be brief"},
                                            {"role": "user", "content": big}]}
    assert client(app).post(CHAT, json=body, buffered=True).status_code == 200
    entry = app.journal.entries()[-1]
    assert entry.body["summary"] is True
    assert entry.body["size"] == len(json.dumps(body))
    assert entry.body["model"] == "gpt-4o"
    assert entry.body["last_user"].startswith("lorem ipsum lorem") and len(
        entry.body["last_user"]) <= 201
    assert measure(entry.to_dict()) < 2000
    # Streamed, Anthropic-shaped, Responses-shaped: the same.
    r = client(app).post("/mock/v1/responses", json={"model": "gpt-4o", "input": big},
                         buffered=True)
    assert r.status_code == 200
    assert app.journal.entries()[-1].body["last_user"].startswith("lorem")
    # A small body stays whole.
    chat(app, "hello")
    assert app.journal.entries()[-1].body["messages"][0]["content"] == "hello"


@pytest.mark.parametrize(("data", "why"), [
    (b"{nope", "could not parse"),
    (b"x" * 2_000_000, "too large"),
    (json.dumps({"model": "gpt-4o", "messages": []}).encode(), "messages"),
])
def test_a_rejected_body_is_journaled_as_a_summary(data: bytes, why: str) -> None:
    app = create_app(delay=0)
    r = client(app).post(CHAT, data=data, headers={"Content-Type": "application/json"},
                         buffered=True)
    assert r.status_code in (400, 413)
    entry = app.journal.entries()[-1]
    assert entry.outcome == "error"
    assert entry.body["summary"] is True and entry.body["size"] == len(data)
    assert why in entry.body["rejected"]


def test_the_journal_keeps_at_most_journal_bytes() -> None:
    from sse_mock.journal import measure

    budget = 30_000
    app = create_app(delay=0, journal_bytes=budget)
    for i in range(200):
        chat(app, f"message {i} " + "x" * 2000)  # ~2 KB bodies, kept whole
    entries = app.journal.entries()
    assert 5 < len(entries) < 200
    assert sum(measure(e.to_dict()) for e in entries) <= budget
    assert entries[-1].body["messages"][0]["content"].startswith("message 199 ")


def test_counters_keyed_by_request_chosen_faults_are_bounded(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    # `?fault=rate_limit:<s>*N` with ever-new specs: one cycle each, the oldest forgotten
    # (MAX_KEYS is 10,000; lowered here so that the test stays quick).
    import sse_mock.state.memory as memory

    monkeypatch.setattr(memory, "MAX_KEYS", 100)
    app = create_app(delay=0)
    for i in range(400):
        r = chat(app, headers={"X-Mock-Fault": f"rate_limit:{i + 1}*2"})
        assert r.status_code == 429
    tables = [t for s in app.state._sessions.values() for t in (s.cycles, s.counters)]
    assert 0 < max(len(t) for t in tables) <= 100


# -- point 5: a resumed stream never splices two replies ---------------------------------------


def _events(app: Any, last_id: str | None = None) -> Any:
    from sse_mock._parser import parse

    headers = {"Last-Event-ID": last_id} if last_id is not None else {}
    r = client(app).get("/mock/stream", headers=headers, buffered=True)
    return r.status_code, parse(r.get_data())


SEQUENCE = {"delay": 0, "rules": [{"match": {"route": "plain"},
                                   "replies": ["alpha beta gamma delta", "one two three four"]}]}


def test_a_reconnect_resumes_its_own_reply_after_the_sequence_moved_on() -> None:
    app = create_app(SEQUENCE)
    _, first = _events(app)  # client A: reply 0, drops after "beta"
    _, second = _events(app)  # client B: reply 1
    assert [e.data for e in second][:2] == ["one", "two"]
    status, resumed = _events(app, first[1].id)
    assert status == 200
    assert [e.data for e in resumed] == ["gamma", "delta", "[DONE]"]
    status, resumed = _events(app, second[0].id)
    assert [e.data for e in resumed] == ["two", "three", "four", "[DONE]"]


def test_a_reconnect_to_another_worker_or_after_a_restart_recomputes_the_reply() -> None:
    worker_a, worker_b = create_app(SEQUENCE), create_app(SEQUENCE)  # state not shared
    _events(worker_a)
    _, reply1 = _events(worker_a)
    status, resumed = _events(worker_b, reply1[2].id)
    assert status == 200 and [e.data for e in resumed] == ["four", "[DONE]"]
    # Worker b's own sequence did not move: its next stream is still reply 0.
    assert [e.data for e in _events(worker_b)[1]][0] == "alpha"


def test_a_reply_that_cannot_be_known_is_a_204_never_another_replys_tail() -> None:
    _, old = _events(create_app(delay=0, reply="a b c d e"))
    # Restarted with another reply: the fingerprint differs.
    status, got = _events(create_app(delay=0, reply="v w x y z"), old[1].id)
    assert (status, got) == (204, [])
    # A bare index (an older version's id) cannot name a place in a sequence.
    app = create_app(SEQUENCE)
    _events(app)
    _events(app)
    assert _events(app, "1") == (204, [])
    # Not an id of this stream: a 400 naming the header.
    r = client(app).get("/mock/stream", headers={"Last-Event-ID": "1:x"}, buffered=True)
    assert r.status_code == 400 and r.get_json()["error"]["param"] == "Last-Event-ID"


# -- point 6: logs stay clean and outcomes stay true -------------------------------------------


@pytest.mark.parametrize(("config", "key"), [
    ({"reply": "ok \ud800"}, "key 'reply'"),
    ({"rules": [{"match": {"contains": "x"}, "replies": ["a", "b \udfff"]}]},
     "key 'rules[0].replies[1]'"),
    ({"rules": [{"tool_calls": [{"name": "f", "arguments": {"city": "\ud800"}}]}]},
     "key 'rules[0].tool_calls[0].arguments.city'"),
])
def test_a_reply_that_cannot_be_utf8_is_a_config_error_naming_the_key(
    config: dict[str, Any], key: str
) -> None:
    from sse_mock.config import ConfigError

    with pytest.raises(ConfigError, match=re.escape(key) + ".*UTF-8"):
        create_app(config)


def test_lone_surrogates_in_json_files_and_fixtures_are_config_errors(tmp_path: Any) -> None:
    from sse_mock.config import ConfigError

    (tmp_path / "c.json").write_text('{"reply": "bad \\ud800 text"}')
    with pytest.raises(ConfigError, match=r"c\.json: key 'reply'.*U\+D800"):
        create_app(str(tmp_path / "c.json"))
    (tmp_path / "f.json").write_text('{"rules": [{"reply": "\\udc80"}]}')
    with pytest.raises(ConfigError, match=r"f\.json: key 'rules\[0\]\.reply'"):
        create_app(fixtures=[str(tmp_path / "f.json")])


def test_a_mid_stream_exception_of_the_mock_is_journaled_as_error(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    from sse_mock.dialects import plain

    def broken(self: Any, text: str, **kw: Any) -> Any:
        yield plain.Frame(b"data: one\n\n", True)
        raise RuntimeError("a bug in the mock")

    monkeypatch.setattr(plain.PlainDialect, "stream", broken)
    app = create_app(delay=0)
    r = Client(app).get("/mock/stream", buffered=False)
    with pytest.raises(RuntimeError, match="a bug"):
        for _ in r.response:
            pass
    r.close()
    assert app.journal.entries()[-1].outcome == "error"


# -- point 7: bounded CPU per request ----------------------------------------------------------


def test_strict_modes_nearest_rule_compares_bounded_words_and_lengths(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    import difflib

    from sse_mock import rules as rules_module

    compared: list[tuple[int, int]] = []
    ratio = difflib.SequenceMatcher.ratio

    def counting(self: difflib.SequenceMatcher[str]) -> float:
        compared.append((len(self.a), len(self.b)))
        return ratio(self)

    monkeypatch.setattr(difflib.SequenceMatcher, "ratio", counting)
    rules = [{"match": {"contains": f"topic{i} alpha"}, "reply": "x"} for i in range(20)]
    app = create_app(delay=0, strict=True, rules=[
        *rules, {"match": {"regex": "(?i)weath(er)?"}, "reply": "w"}])
    words = " ".join(f"w{i % 997}x{i}" for i in range(95_000))  # ~1 MB, all distinct words
    r = chat(app, words)
    assert r.status_code == 404 and "nearest rule" in r.get_json()["error"]["message"]
    assert compared
    assert max(max(a, b) for a, b in compared) <= rules_module.NEAREST_CHARS
    assert len(compared) <= 21 * (rules_module.NEAREST_WORDS + 1)
    # Still a useful hint for a typo.
    r = chat(app, "what is the wether like")
    assert "rules[20]" in r.get_json()["error"]["message"]
