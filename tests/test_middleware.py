"""In-process WSGI tests of the middleware: every app under wsgiref.validate + a hop-by-hop
check (PEP 3333; PROTOCOLS.md §5.4)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
import webtest
from conftest import validated
from werkzeug.test import Client

from sse_mock import SSEMockMiddleware, create_app, wrap
from sse_mock._parser import parse
from sse_mock.config import DEFAULT_REPLY, ConfigError
from sse_mock.dialects.plain import reply_tag
from sse_mock.faults import StreamAbort

WORDS = "Hello, this is a mocked chatbot. How can I help you?".split()


class App:
    """A wrapped app that records calls and whether its iterable was closed."""

    def __init__(self) -> None:
        self.calls = 0
        self.closed = 0
        self.last_iterable: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.calls += 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        app = self

        class Body:
            def __iter__(self) -> Iterator[bytes]:
                yield b"app:" + environ["PATH_INFO"].encode()

            def close(self) -> None:
                app.closed += 1

        self.last_iterable = Body()
        return self.last_iterable


def make(**options: Any) -> tuple[SSEMockMiddleware, App]:
    inner = App()
    options.setdefault("delay", 0)
    return SSEMockMiddleware(inner, **options), inner


def client(app: Any) -> Client:
    return Client(validated(app))


def get(app: Any, path: str, **kw: Any) -> Any:
    return client(app).get(path, buffered=True, **kw)


# -- the seed's stream -------------------------------------------------------------------------


def test_stream_headers_are_the_sse_set_and_nothing_hop_by_hop() -> None:
    mw, _ = make()
    r = get(mw, "/mock/stream")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert r.headers["Cache-Control"] == "no-cache, no-transform"
    assert r.headers["X-Accel-Buffering"] == "no"
    for name in ("Content-Length", "Content-Encoding", "Connection", "Transfer-Encoding"):
        assert name not in r.headers


def test_stream_is_the_seeds_words_then_done_with_ids() -> None:
    mw, _ = make()
    body = get(mw, "/mock/stream").get_data()
    assert body.startswith(b": ok\n")  # the first chunk: a bare comment (§5.4)
    events = parse(body)
    assert [e.data for e in events] == [*WORDS, "[DONE]"]
    # ids: "<index>.<fingerprint of the reply>" (dialects/plain.py, issue 9)
    tag = reply_tag(DEFAULT_REPLY)
    assert [e.id for e in events] == [f"{i}.{tag}" for i in range(len(WORDS) + 1)]
    assert all(e.type == "message" for e in events)


def test_first_chunk_is_non_empty_and_each_chunk_holds_whole_events() -> None:
    mw, _ = make(delay=0.001)
    r = client(mw).get("/mock/stream", buffered=False)
    chunks = list(r.response)
    r.close()
    assert chunks[0] and chunks[0].startswith(b": ok\n")
    for chunk in chunks[1:]:
        assert chunk.endswith(b"\n\n") or chunk == b": ping\n"
        assert parse(chunk)  # whole events only


def test_reply_and_delay_controls_by_query_and_header() -> None:
    mw, _ = make(delay=5)
    text = "héllo  wörld ✓"
    r = get(mw, "/mock/stream?delay=0&reply=" + quote(text))
    assert [e.data for e in parse(r.get_data())] == ["héllo", "wörld", "✓", "[DONE]"]
    r = get(mw, "/mock/stream", headers={"X-Mock-Reply": quote(text), "X-Mock-Delay": "0"})
    assert [e.data for e in parse(r.get_data())] == ["héllo", "wörld", "✓", "[DONE]"]


@pytest.mark.parametrize(
    ("query", "headers", "control"),
    [
        ("delay=-1", {}, "delay"),
        ("delay=abc", {}, "delay"),
        ("delay=nan", {}, "delay"),
        ("delay=1e9", {}, "delay"),
        ("", {"X-Mock-Delay": "-0.5"}, "delay"),
        ("reply=%FF%FE", {}, "query"),
        ("", {"X-Mock-Reply": "%FF"}, "reply"),
        ("reply=a%00b", {}, "reply"),
        ("fault=explode", {}, "fault"),
        ("fault=error_after:x", {}, "fault"),
        ("seed=1.5", {}, "seed"),
        ("jitter=2", {}, "jitter"),
    ],
)
def test_bad_controls_are_400_naming_the_control(query: str, headers: dict[str, str],
                                                 control: str) -> None:
    mw, _ = make()
    r = get(mw, "/mock/stream?" + query, headers=headers)
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "application/json"
    err = json.loads(r.get_data())["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["param"] == control
    assert err["type"] == "invalid_request_error"


def test_control_with_crlf_in_header_is_rejected() -> None:
    mw, _ = make()
    r = Client(mw).get("/mock/stream", environ_overrides={"HTTP_X_MOCK_DELAY": "1\r\nX: y"})
    assert r.status_code == 400
    assert json.loads(r.get_data())["error"]["param"] == "delay"


def test_resume_after_last_event_id_and_204_when_complete() -> None:
    mw, _ = make()
    tag = reply_tag(DEFAULT_REPLY)
    for last in (f"8.{tag}", "8"):  # a bare index: ids of older versions, no sequence here
        r = get(mw, "/mock/stream", headers={"Last-Event-ID": last})
        events = parse(r.get_data())
        assert [e.data for e in events] == [*WORDS[9:], "[DONE]"]
        assert events[0].id == f"9.{tag}"
    r = get(mw, "/mock/stream", headers={"Last-Event-ID": f"{len(WORDS)}.{tag}"})
    assert r.status_code == 204
    assert r.get_data() == b""
    r = get(mw, "/mock/stream", headers={"Last-Event-ID": "x<y"})
    assert r.status_code == 400


def test_retry_hint_on_the_first_event_when_configured() -> None:
    mw, _ = make(retry=2500)
    events = parse(get(mw, "/mock/stream").get_data())
    assert events[0].retry == 2500


def test_head_gets_headers_only_and_wrong_method_gets_405_with_allow() -> None:
    mw, _ = make()
    r = client(mw).head("/mock/stream", buffered=True)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/event-stream")
    assert r.get_data() == b""
    r = client(mw).post("/mock/stream", buffered=True)
    assert r.status_code == 405
    assert set(r.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert json.loads(r.get_data())["error"]["code"] == "method_not_allowed"
    r = client(mw).post("/mock/v1/models", buffered=True)
    assert r.status_code == 405
    assert "GET" in r.headers["Allow"]


def test_plain_options_without_cors_gets_allow() -> None:
    mw, _ = make()
    r = client(mw).options("/mock/stream", buffered=True)
    assert r.status_code == 204
    assert "GET" in r.headers["Allow"]


# -- pass-through --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/mockingbird", "/mock", "/mock/", "/mock/v2/x",
                                  "/api/stream", "/MOCK/stream"])
def test_non_matching_requests_reach_the_app_untouched(path: str) -> None:
    mw, inner = make()
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
    seen = []
    result = mw(environ, lambda status, headers, exc_info=None: seen.append(status))
    assert result is inner.last_iterable  # no wrapper around the app's iterable
    assert seen == ["200 OK"]
    r = get(mw, path)
    assert r.get_data() == b"app:" + path.encode()
    assert inner.closed == 1  # the server closed the app's own iterable


def test_script_name_mounting_matches_on_path_info() -> None:
    mw, inner = make()
    r = client(mw).get("/mock/stream", environ_overrides={"SCRIPT_NAME": "/site"},
                       buffered=True)
    assert r.status_code == 200
    assert inner.calls == 0


def test_disabled_passes_everything_and_wrap_returns_the_app() -> None:
    mw, inner = make(enabled=False)
    assert get(mw, "/mock/stream").get_data() == b"app:/mock/stream"
    assert inner.calls == 1
    assert wrap(inner, enabled=False) is inner
    assert isinstance(wrap(inner), SSEMockMiddleware)


def test_custom_prefix_and_root_prefix() -> None:
    mw, inner = make(prefix="/api/fake")
    assert get(mw, "/api/fake/stream").status_code == 200
    assert get(mw, "/mock/stream").get_data() == b"app:/mock/stream"
    mw, inner = make(prefix="")
    assert get(mw, "/stream").status_code == 200
    assert get(mw, "/other").get_data() == b"app:/other"


# -- CORS (PROTOCOLS.md §6) ---------------------------------------------------------------------


def test_cors_simple_request_reflects_origin_and_exposes_headers() -> None:
    mw, _ = make()
    r = get(mw, "/mock/stream", headers={"Origin": "http://localhost:5173"})
    assert r.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert "Origin" in r.headers["Vary"]
    exposed = r.headers["Access-Control-Expose-Headers"]
    for name in ("x-request-id", "retry-after", "retry-after-ms", "request-id"):
        assert name in exposed
    assert "Access-Control-Allow-Credentials" not in r.headers


def test_no_origin_no_cors_headers() -> None:
    mw, _ = make()
    r = get(mw, "/mock/stream")
    assert "Access-Control-Allow-Origin" not in r.headers


def test_cors_on_errors_too() -> None:
    mw, _ = make()
    r = get(mw, "/mock/stream?delay=-1", headers={"Origin": "http://a.test"})
    assert r.status_code == 400
    assert r.headers["Access-Control-Allow-Origin"] == "http://a.test"


@pytest.mark.parametrize("origin", ["null", "http://evil.test/path", "javascript:alert(1)",
                                    "http://a.test\tb"])
def test_malformed_or_null_origins_are_not_reflected(origin: str) -> None:
    mw, _ = make()
    r = get(mw, "/mock/stream", headers={"Origin": origin})
    assert "Access-Control-Allow-Origin" not in r.headers


def test_null_origin_by_opt_in() -> None:
    mw, _ = make(cors={"allow_null_origin": True})
    r = get(mw, "/mock/stream", headers={"Origin": "null"})
    assert r.headers["Access-Control-Allow-Origin"] == "null"


def test_exact_origin_list_and_credentials() -> None:
    mw, _ = make(cors={"origins": ["http://app.test:3000"], "credentials": True})
    r = get(mw, "/mock/stream", headers={"Origin": "http://app.test:3000"})
    assert r.headers["Access-Control-Allow-Origin"] == "http://app.test:3000"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    r = get(mw, "/mock/stream", headers={"Origin": "http://other.test"})
    assert "Access-Control-Allow-Origin" not in r.headers


def test_preflight_is_204_and_reflects_requested_headers() -> None:
    mw, inner = make(require_api_key=True)
    requested = "authorization,content-type,x-stainless-arch,x-stainless-lang,last-event-id"
    r = client(mw).options(
        "/mock/v1/models",
        headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": requested},
        buffered=True,
    )
    assert r.status_code == 204  # no auth asked of a preflight (§6.2)
    assert r.get_data() == b""
    assert r.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert r.headers["Access-Control-Allow-Headers"] == requested
    assert "GET" in r.headers["Access-Control-Allow-Methods"]
    assert r.headers["Access-Control-Max-Age"] == "600"
    assert "Access-Control-Request-Headers" in r.headers["Vary"]
    assert inner.calls == 0


def test_preflight_with_fault_control_is_still_204() -> None:
    mw, _ = make()
    r = client(mw).options(
        "/mock/stream?fault=rate_limit",
        headers={"Origin": "http://x.test", "Access-Control-Request-Method": "GET"},
        buffered=True)
    assert r.status_code == 204


def test_preflight_with_bogus_requested_headers_falls_back_to_the_default_list() -> None:
    mw, _ = make()
    r = client(mw).options(
        "/mock/stream",
        headers={"Origin": "http://x.test", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "a b, (c)"}, buffered=True)
    assert "authorization" in r.headers["Access-Control-Allow-Headers"]


PREFLIGHT_GRANTS = ("Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
                    "Access-Control-Allow-Methods", "Access-Control-Allow-Headers",
                    "Access-Control-Max-Age", "Access-Control-Allow-Private-Network")


def preflight(mw: Any, origin: str, private_network: str | None = None) -> Any:
    environ = {"HTTP_ORIGIN": origin, "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST",
               "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "authorization,content-type"}
    if private_network is not None:
        environ["HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK"] = private_network
    # environ, not headers: the test client refuses a header value with a newline
    return client(mw).options("/mock/v1/chat/completions", environ_overrides=environ,
                              buffered=True)


@pytest.mark.parametrize("origin", ["http://evil.test", "http://app.test:3001",
                                    "https://app.test:3000", "null", "http://app.test:3000\n"])
def test_preflight_from_a_disallowed_origin_grants_nothing(origin: str) -> None:
    # §6.2/§6.5: a preflight the policy refuses gets none of the Allow-* headers (nor Max-Age,
    # which would cache the refusal's non-answer), whatever it asks for, private network included.
    mw, inner = make(cors={"origins": ["http://app.test:3000"], "credentials": True,
                           "private_network": True})
    r = preflight(mw, origin, private_network="true")
    assert r.status_code == 204
    for name in PREFLIGHT_GRANTS:
        assert name not in r.headers, (name, r.headers[name])
    assert "Origin" in r.headers["Vary"]
    assert inner.calls == 0
    # the allowed origin, same request: every grant (the assertions above can fail)
    r = preflight(mw, "http://app.test:3000", private_network="true")
    assert all(name in r.headers for name in PREFLIGHT_GRANTS), r.headers


@pytest.mark.parametrize("enabled", [True, False], ids=["private_network", "default"])
@pytest.mark.parametrize("asked", [None, "true", "false", "TRUE"])
def test_private_network_is_allowed_only_when_asked_and_configured(
    enabled: bool, asked: str | None
) -> None:
    # Chrome's Private Network Access preflight sends Access-Control-Request-Private-Network:
    # true; the answer allows it only then, and only with cors.private_network on.
    mw, _ = make(cors={"private_network": enabled})
    r = preflight(mw, "http://localhost:5173", private_network=asked)
    assert r.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    got = r.headers.get("Access-Control-Allow-Private-Network")
    assert got == ("true" if enabled and asked == "true" else None)
    # never on an actual (non-preflight) request
    r = get(mw, "/mock/stream", headers={"Origin": "http://localhost:5173",
                                        "Access-Control-Request-Private-Network": "true"})
    assert "Access-Control-Allow-Private-Network" not in r.headers


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"delay": -1}, ["'delay'", "from 0 to 3600"]),
        ({"dealy": 1}, ["'dealy'", "did you mean 'delay'"]),
        ({"prefix": "mock"}, ["'prefix'", "leading slash"]),
        ({"cors": {"origins": ["localhost:3000"]}}, ["cors", "origin"]),
        ({"cors": {"origin": "*"}}, ["cors", "'origin'"]),
        ({"echo": "yes"}, ["'echo'", "true or false"]),
        ({"models": []}, ["'models'", "empty"]),
        ({"chaos": {"explode": 0.5}}, ["chaos", "unknown fault"]),
        ({"chaos": {"rate_limit": 1.5}}, ["chaos", "from 0 to 1"]),
        ({"rules": [{"match": {"regex": "("}}]}, ["rules[0]", "does not compile"]),
        ({"rules": [{"text": "hi"}]}, ["rules[0]", "'text'", "did you mean 'reply'"]),
    ],
)
def test_bad_configuration_fails_at_construction_naming_the_key(options: dict[str, Any],
                                                                words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        SSEMockMiddleware(App(), **options)
    for word in words:
        assert word in str(info.value)


def test_config_files_toml_and_json_and_errors_name_the_file(tmp_path: Any) -> None:
    toml = tmp_path / "mock.toml"
    toml.write_text('reply = "from toml"\ndelay = 0\n[cors]\norigins = ["http://a.test"]\n')
    mw = SSEMockMiddleware(App(), str(toml))
    assert [e.data for e in parse(get(mw, "/mock/stream").get_data())] == ["from", "toml",
                                                                          "[DONE]"]
    js = tmp_path / "mock.json"
    js.write_text('{"reply": "from json", "delay": 0}')
    mw = SSEMockMiddleware(App(), js, reply="override")
    assert [e.data for e in parse(get(mw, "/mock/stream").get_data())] == ["override", "[DONE]"]
    bad = tmp_path / "bad.toml"
    bad.write_text("delay = -3\n")
    with pytest.raises(ConfigError, match=r"bad\.toml.*'delay'"):
        SSEMockMiddleware(App(), bad)
    with pytest.raises(ConfigError, match="cannot read"):
        SSEMockMiddleware(App(), tmp_path / "missing.toml")
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    with pytest.raises(ConfigError, match="broken.json: cannot parse"):
        SSEMockMiddleware(App(), broken)


def test_start_up_log_line_says_where(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="sse_mock")
    make(prefix="/fake")
    assert any("mock active at /fake/" in r.getMessage() for r in caplog.records)


# -- the standalone app and the journal ------------------------------------------------------


def test_create_app_serves_demo_page_and_json_404() -> None:
    app = create_app(delay=0)
    r = get(app, "/")
    assert r.status_code == 200
    assert b"sse_mock demo chat" in r.get_data()
    assert b'"/mock"' in r.get_data()
    r = get(app, "/nope")
    assert r.status_code == 404
    assert json.loads(r.get_data())["error"]["code"] == "not_found"


def test_webtest_finite_stream() -> None:
    app = webtest.TestApp(create_app(delay=0), lint=True)
    r = app.get("/mock/stream", headers={"Origin": "http://a.test"})
    assert r.content_type == "text/event-stream"
    assert [e.data for e in parse(r.body)][-1] == "[DONE]"


def test_client_going_away_runs_finally_and_is_journaled() -> None:
    mw, _ = make(delay=0.01)
    r = client(mw).get("/mock/stream", buffered=False)
    it = iter(r.response)
    next(it)
    next(it)
    r.close()  # the server's close() on a client disconnect
    entry = mw.journal.entries()[-1]
    assert entry.outcome == "client went away"
    r = get(mw, "/mock/stream")
    assert mw.journal.entries()[-1].outcome == "completed"
    assert mw.journal.entries()[-1].events == len(WORDS)


def test_closing_the_stream_closes_the_inner_generator_explicitly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # PEP 3333 / PROTOCOLS.md §5.4: the server calls close() on what the middleware returned;
    # that close() must reach the generator inside (the pacer's), whose `finally` releases the
    # stream's resources. The test keeps a reference to the inner generator, so garbage
    # collection cannot close it in the wrapper's place.
    mw, _ = make(delay=0.01)
    real_pace = mw.pacer.pace
    inner: list[Iterator[bytes]] = []
    ended: list[str] = []

    def recording_pace(*args: Any, **kw: Any) -> Iterator[bytes]:
        def generator() -> Iterator[bytes]:
            try:
                yield from real_pace(*args, **kw)
                ended.append("finished")
            except GeneratorExit:
                ended.append("closed")
                raise

        inner.append(generator())
        return inner[-1]

    monkeypatch.setattr(mw.pacer, "pace", recording_pace)
    r = client(mw).get("/mock/stream", buffered=False)
    it = iter(r.response)
    next(it)
    next(it)
    assert len(inner) == 1 and ended == []
    r.close()  # the server's close() on a client disconnect
    assert ended == ["closed"]
    assert mw.journal.entries()[-1].outcome == "client went away"
    # and a stream read to its end finishes the same generator normally, closed once
    get(mw, "/mock/stream")
    assert ended == ["closed", "finished"]


def test_the_journal_counts_a_stream_live_and_at_its_end() -> None:
    # pacing.py Divergence #2: the pacer counts in its own frame and tells the journal entry
    # after every write while the journal lists the stream in progress, and at the end.
    mw, _ = make(delay=0.01)
    r = client(mw).get("/mock/stream", buffered=False)
    it = iter(r.response)
    received = [next(it) for _ in range(4)]  # ": ok" with the first event, then three more
    live = mw.journal.entries()[-1]
    assert live.outcome == "in progress"
    assert (live.events, live.bytes) == (4, sum(map(len, received)))
    r.close()
    gone = mw.journal.entries()[-1]
    assert (gone.outcome, gone.events, gone.bytes) == ("client went away", 4,
                                                        sum(map(len, received)))
    body = get(mw, "/mock/stream").get_data()
    done = mw.journal.entries()[-1]
    assert (done.outcome, done.events, done.bytes) == ("completed", len(WORDS), len(body))


def test_an_injected_disconnect_is_journaled_as_a_fault_with_what_was_sent() -> None:
    mw, _ = make(delay=0)
    r = client(mw).get("/mock/stream?fault=disconnect_after:3", buffered=False)
    received = []
    try:
        with pytest.raises(StreamAbort):
            for chunk in r.response:
                received.append(chunk)
    finally:
        r.close()
    entry = mw.journal.entries()[-1]
    assert (entry.outcome, entry.events, entry.bytes) == ("fault", 3, sum(map(len, received)))


def test_journal_route_lists_entries_and_delete_clears() -> None:
    mw, _ = make()
    get(mw, "/mock/stream")
    data = json.loads(get(mw, "/mock/_journal").get_data())["data"]
    assert data[0]["route"] == "plain"
    assert data[0]["outcome"] == "completed"
    assert client(mw).delete("/mock/_journal", buffered=True).status_code == 204
    assert json.loads(get(mw, "/mock/_journal").get_data())["data"] == []


def test_plain_stream_bytes_are_exactly_the_formatters() -> None:
    from sse_mock import SSEFormatter

    fmt = SSEFormatter()
    mw, _ = make(retry=1500)
    body = get(mw, "/mock/stream?reply=" + quote("a  b\x0bc ✓ :d")).get_data()
    words = "a  b\x0bc ✓ :d".split()
    tag = reply_tag("a  b\x0bc ✓ :d")
    expected = b": ok\n" + fmt.format(words[0], id=f"0.{tag}", retry=1500) + b"".join(
        fmt.format(w, id=f"{i}.{tag}") for i, w in enumerate(words) if i) + fmt.format(
        "[DONE]", id=f"{len(words)}.{tag}")
    assert body == expected
