"""``examples/browser/`` in a real headless Chromium (PROTOCOLS.md §1.7, §5.2, §6; the demo
page is in test_demo_page.py): streams arrive incrementally, ``[DONE]`` closes the
``EventSource``, CORS works for ``EventSource`` (no preflight) and for ``fetch()`` with
``Authorization`` (a real preflight), a 429 is visible to page code, and an ``EventSource`` left
open reconnects with ``Last-Event-ID``, gets 204 and stops.

Skipped when ``/usr/bin/chromium`` or the ``playwright`` package is missing. Playwright drives
Debian's Chromium through ``executable_path``; it never downloads a browser.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest
from chromium import TIMEOUT_MS, launched  # skips this module without Chromium or playwright
from conftest import serve

from sse_mock import SSEMockMiddleware, create_app
from sse_mock.config import DEFAULT_REPLY

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "browser"
WORDS = DEFAULT_REPLY.split()
STREAM = "/mock/stream"
CHAT = "/mock/v1/chat/completions"

# Every EventSource a page creates, so that tests can read readyState after the page dropped
# its own reference (the demo page sets `source = null` once it has closed it).
TRACK_EVENTSOURCES = """
(() => {
  const Native = window.EventSource;
  window.__sources = [];
  window.EventSource = class extends Native {
    constructor(...args) { super(...args); window.__sources.push(this); }
  };
})();
"""

BLANK_PAGE = b"<!doctype html><html><head><title>blank</title></head><body></body></html>"


# -- servers ---------------------------------------------------------------------------------


def static_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The example pages of examples/browser/ by file name, and /blank.html."""
    name = (environ.get("PATH_INFO") or "/").lstrip("/")
    path = EXAMPLES / name
    if name == "blank.html":
        body = BLANK_PAGE
    elif name.endswith(".html") and "/" not in name and path.is_file():
        body = path.read_bytes()
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain"),
                                         ("Content-Length", "9")])
        return [b"not found"]
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                              ("Content-Length", str(len(body))),
                              ("Cache-Control", "no-store")])
    return [body]


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names


@dataclass
class Recorder:
    """A WSGI wrapper that notes every request before handing it on (the journal does not
    record preflights, nor request headers)."""

    app: Callable[..., Any]
    requests: list[Seen] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        headers = {k[5:].lower().replace("_", "-"): str(v)
                   for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        seen = Seen(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""),
                    environ.get("QUERY_STRING", ""), headers)
        with self._lock:
            self.requests.append(seen)
        return self.app(environ, start_response)

    def to(self, path: str, method: str | None = None) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests
                    if r.path == path and (method is None or r.method == method)]


@dataclass
class Site:
    """Where the page comes from and where the mock answers: one origin or two."""

    page_origin: str
    mock_origin: str
    mock: SSEMockMiddleware
    seen: Recorder  # every request that reached the mock's server

    @property
    def cross_origin(self) -> bool:
        return self.page_origin != self.mock_origin

    def url(self, page: str, **params: str) -> str:
        if self.cross_origin:
            params = {"base": self.mock_origin, **params}
        query = urlencode(params)
        return f"{self.page_origin}/{page}" + (f"?{query}" if query else "")

    def plain_entries(self) -> list[Any]:
        return [e for e in self.mock.journal.entries() if e.route == "plain"]


@contextlib.contextmanager
def site(origin: str, **options: Any) -> Iterator[Site]:
    """same-origin: the pages and the mock on one server (the static app wrapped by the
    middleware). cross-origin: the pages on one port, the mock (create_app) on another."""
    if origin == "same-origin":
        mock = SSEMockMiddleware(static_app, **options)
        recorder = Recorder(mock)
        with serve(recorder) as base:
            yield Site(base, base, mock, recorder)
    else:
        mock = create_app(**options)
        recorder = Recorder(mock)
        with serve(static_app) as page_base, serve(recorder) as mock_base:
            yield Site(page_base, mock_base, mock, recorder)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll `predicate` (Python side, e.g. the journal) until true; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.02)


def stays(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `predicate` for `seconds`; fail as soon as it turns false (a bounded quiet window)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert predicate(), what
        time.sleep(0.05)
    assert predicate(), what


def observe_growth(page: Page, text_js: str, streaming_js: str, times: int = 2) -> list[int]:
    """Wait `times` times for the text (a JS expression) to grow while `streaming_js` holds:
    proof that it arrives in pieces, not at once at the end."""
    check = f"""prev => {{
        if (!({streaming_js})) return false;
        const n = ({text_js}).length;
        return n > prev ? n : false;
    }}"""
    lengths: list[int] = []
    prev = 0
    for _ in range(times):
        handle = page.wait_for_function(check, arg=prev, polling=10, timeout=TIMEOUT_MS)
        prev = int(handle.json_value())
        lengths.append(prev)
    return lengths


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched() as b:
        yield b


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh context (own cache, own preflight cache) per test."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(TRACK_EVENTSOURCES)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture(params=["same-origin", "cross-origin"])
def origin(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- the demo page: tests/browser/test_demo_page.py ----------------------------------------------


# -- examples/browser/eventsource.html ---------------------------------------------------------


# Every change of the number of words in #out, with the wall-clock time it happened at (a
# MutationObserver callback runs right after the page's onmessage handler changed the DOM): a
# record of the whole stream, however late the test starts looking at the page.
RECORD_WORDS_SHOWN = """
(() => {
  window.__shown = [];
  new MutationObserver(() => {
    const out = document.getElementById("out");
    if (!out) return;
    const n = out.textContent.split(" ").filter(Boolean).length;
    const last = window.__shown[window.__shown.length - 1];
    const now = performance.timeOrigin + performance.now();  // ms, wall clock
    if (n && (!last || last[1] !== n)) window.__shown.push([now, n]);
  }).observe(document, {subtree: true, childList: true, characterData: true});
})();
"""
LONG_DELAY = 0.08
LONG_REPLY = " ".join(f"w{i}" for i in range(25))  # 25 words at 0.08 s: a 1.9 s stream


def assert_shown_on_schedule(page: Page, start: float) -> None:
    """LONG_REPLY appeared word by word, as the server sent it (RECORD_WORDS_SHOWN's record
    against the server's start time; word i is due i·LONG_DELAY after it)."""
    n = len(LONG_REPLY.split())
    due = [start + i * LONG_DELAY for i in range(n)]
    shown: dict[int, float] = {}  # words on the page → when (s, wall clock) they first were
    for ms, count in page.evaluate("window.__shown"):
        shown.setdefault(int(count), ms / 1000)
    # The text grew word by word: the page showed 1, 2, … n words, each at its own time.
    assert sorted(shown) == list(range(1, n + 1)), sorted(shown)
    times = [shown[k] for k in range(1, n + 1)]
    assert times == sorted(times)
    # The words came as they were sent, not all at the end: the first half was on the page
    # before the last word was due (0.9 s before it and more; the browser's clock and Python's
    # agree to a few ms).
    assert all(t < due[-1] for t in times[: n // 2]), [round(t - start, 3) for t in times]


def test_eventsource_page_reads_the_stream(page: Page, origin: str) -> None:
    # Robust by design under CPU load: the page's own record of when each word appeared is
    # checked against the schedule the server reports (the journal's start time; word i is due
    # i·LONG_DELAY after it), instead of catching the text growing live, which a short stream
    # on a busy machine can finish before the test looks.
    page.add_init_script(RECORD_WORDS_SHOWN)
    with site(origin, delay=LONG_DELAY, reply=LONG_REPLY) as s:
        page.goto(s.url("eventsource.html"))
        page.wait_for_function("() => document.getElementById('status').dataset.state"
                               " === 'done'")
        assert page.text_content("#out") == LONG_REPLY
        assert page.evaluate("window.source.readyState") == 2
        gets = s.seen.to(STREAM)
        assert [r.method for r in gets] == ["GET"]
        assert gets[0].headers.get("accept") == "text/event-stream"
        assert not s.seen.to(STREAM, "OPTIONS"), "EventSource needs no preflight (§6.1)"
        if s.cross_origin:
            assert gets[0].headers.get("origin") == s.page_origin
        wait_until(lambda: all(e.outcome != "in progress" for e in s.plain_entries()),
                   what="the stream's journal entry to end")
        assert [(e.status, e.outcome) for e in s.plain_entries()] == [(200, "completed")]

        assert_shown_on_schedule(page, s.plain_entries()[0].time)


def test_eventsource_page_rate_limit_closes_the_source(page: Page, origin: str) -> None:
    with site(origin, delay=0.03) as s:
        page.goto(s.url("eventsource.html", fault="rate_limit:2"))
        page.wait_for_function("() => document.getElementById('status').dataset.state"
                               " === 'error'")
        assert page.evaluate("window.source.readyState") == 2
        assert page.text_content("#out") == ""
        assert [(e.status, e.fault) for e in s.plain_entries()] == [(429, "rate_limit:2")]
        assert len(s.seen.to(STREAM)) == 1


def test_eventsource_page_resumes_after_dropped_connections(page: Page) -> None:
    # disconnect_after:4 drops every connection after four words; the browser reconnects with
    # Last-Event-ID (the query string, fault included, is the same) and the mock resumes after
    # that id, so the page ends up with every word exactly once. retry=100: quick reconnects.
    with site("cross-origin", delay=0, retry=100) as s:
        page.goto(s.url("eventsource.html", fault="disconnect_after:4"))
        page.wait_for_function("() => document.getElementById('status').dataset.state"
                               " === 'done'")
        assert page.text_content("#out") == DEFAULT_REPLY
        ids = [r.headers.get("last-event-id") for r in s.seen.to(STREAM)]
        # ids are "<index>.<fingerprint of the reply>" (dialects/plain.py, issue 9)
        assert [i and i.split(".")[0] for i in ids] == [None, "3", "7"]


def test_example_pages_show_in_band_errors(page: Page) -> None:
    with site("cross-origin", delay=0) as s:
        page.goto(s.url("eventsource.html", fault="error_after:3"))
        page.wait_for_function("() => document.getElementById('status').dataset.state"
                               " === 'error'")
        assert page.text_content("#out") == " ".join(WORDS[:3])
        assert "error event from the server" in (page.text_content("#status") or "")
        assert page.evaluate("window.source.readyState") == 2

        page.goto(s.url("fetch_chat.html", fault="error_after:3"))
        page.click("#send")
        page.wait_for_function("() => document.getElementById('status').dataset.state"
                               " === 'error'")
        assert page.get_attribute("#status", "data-http") == "200"
        assert (page.text_content("#status") or "").startswith("error event: ")
        assert (page.text_content("#out") or "").startswith("Hello,")
        assert len(s.seen.to(STREAM)) == 1


# -- an EventSource that is not closed on [DONE] --------------------------------------------------

OPEN_WITHOUT_CLOSE = """url => {
  window.__log = [];
  const es = new EventSource(url);
  window.__es = es;
  es.onmessage = (e) => window.__log.push(["message", e.data, e.lastEventId]);
  es.onerror = () => window.__log.push(["error", es.readyState]);
}"""


def test_unclosed_eventsource_reconnects_gets_204_and_stops(page: Page, origin: str) -> None:
    # retry=200: the stream's first event says `retry: 200`, so the reconnect comes after
    # 0.2 s instead of Chromium's default 3 s, and a reconnect loop would show up many times
    # over in the 2 s quiet window below.
    with site(origin, delay=0, retry=200) as s:
        page.goto(s.url("blank.html"))
        page.evaluate(OPEN_WITHOUT_CLOSE, s.mock_origin + STREAM)
        page.wait_for_function("() => window.__es.readyState === 2")
        log = page.evaluate("window.__log")
        messages = [entry for entry in log if entry[0] == "message"]
        assert [m[1] for m in messages] == [*WORDS, "[DONE]"]
        assert [m[2].split(".")[0] for m in messages] == [str(i) for i in range(len(WORDS) + 1)]
        # The normal end: error with readyState CONNECTING; the 204: error with CLOSED.
        assert [entry for entry in log if entry[0] == "error"] == [["error", 0], ["error", 2]]

        gets = s.seen.to(STREAM)
        assert len(gets) == 2
        assert "last-event-id" not in gets[0].headers
        assert gets[1].headers.get("last-event-id") == messages[-1][2]
        assert messages[-1][2].startswith(f"{len(WORDS)}.")
        assert not s.seen.to(STREAM, "OPTIONS"), "a short plain Last-Event-ID needs no preflight"
        wait_until(lambda: len(s.plain_entries()) == 2
                   and all(e.outcome != "in progress" for e in s.plain_entries()),
                   what="two finished plain-stream entries")
        assert [(e.status, e.outcome) for e in s.plain_entries()] == [
            (200, "completed"), (204, "completed")]
        stays(lambda: len(s.seen.to(STREAM)) == 2, 2.0,
              "the browser asked again after the 204")
        assert page.evaluate("window.__es.readyState") == 2


# -- examples/browser/fetch_chat.html ----------------------------------------------------------


def test_fetch_chat_page_streams_the_reply(page: Page, origin: str) -> None:
    # Checked against the server's schedule, like the EventSource page above.
    page.add_init_script(RECORD_WORDS_SHOWN)
    with site(origin, delay=LONG_DELAY, reply=LONG_REPLY) as s:
        page.goto(s.url("fetch_chat.html"))
        page.fill("#prompt", "Hi from Chromium")
        page.click("#send")
        page.wait_for_function("() => document.getElementById('status').dataset.state"
                               " === 'done'")
        assert page.text_content("#out") == LONG_REPLY
        (chat,) = [e for e in s.mock.journal.entries() if e.route != "plain"]
        assert_shown_on_schedule(page, chat.time)
        assert page.get_attribute("#status", "data-http") == "200"
        assert page.evaluate("document.getElementById('send').disabled") is False

        posts = s.seen.to(CHAT, "POST")
        assert len(posts) == 1
        assert posts[0].headers.get("authorization") == "Bearer test"
        assert posts[0].headers.get("content-type", "").startswith("application/json")
        preflights = s.seen.to(CHAT, "OPTIONS")
        if s.cross_origin:
            assert len(preflights) == 1
            assert s.seen.requests.index(preflights[0]) < s.seen.requests.index(posts[0])
            assert preflights[0].headers.get("access-control-request-method") == "POST"
            requested = preflights[0].headers.get("access-control-request-headers", "")
            assert "authorization" in requested.split(",")
            assert "content-type" in requested.split(",")
            assert posts[0].headers.get("origin") == s.page_origin
        else:
            assert preflights == [], "a same-origin request is never preflighted"
        entries = [e for e in s.mock.journal.entries() if e.route != "plain"]
        assert len(entries) == 1
        assert entries[0].status == 200
        assert entries[0].body["stream"] is True
        assert entries[0].body["messages"] == [{"role": "user", "content": "Hi from Chromium"}]


def test_fetch_chat_page_sees_429_and_retry_after(page: Page, origin: str) -> None:
    with site(origin, delay=0.03) as s:
        page.goto(s.url("fetch_chat.html", fault="rate_limit:2"))
        page.click("#send")
        page.wait_for_function("() => document.getElementById('status').dataset.state"
                               " === 'error'")
        # What the page read from the Response: status, the exposed retry-after, the JSON body.
        assert page.get_attribute("#status", "data-http") == "429"
        assert page.get_attribute("#status", "data-retry-after") == "2"
        text = page.text_content("#status") or ""
        assert text.startswith("HTTP 429 (retry-after: 2 s): Rate limit reached")
        assert page.text_content("#out") == ""
        if s.cross_origin:
            (preflight,) = s.seen.to(CHAT, "OPTIONS")
            requested = preflight.headers.get("access-control-request-headers", "").split(",")
            assert "authorization" in requested and "x-mock-fault" in requested
        (post,) = s.seen.to(CHAT, "POST")
        assert post.headers.get("x-mock-fault") == "rate_limit:2"
        entries = [e for e in s.mock.journal.entries() if e.route != "plain"]
        assert [(e.status, e.fault) for e in entries] == [(429, "rate_limit:2")]


def test_fetch_reads_exposed_headers_directly(page: Page) -> None:
    """The same checks without the example page: `response.status` and
    `response.headers.get("retry-after")` in page code, cross-origin."""
    with site("cross-origin", delay=0) as s:
        page.goto(s.url("blank.html"))
        got = page.evaluate("""async url => {
            const body = JSON.stringify({model: "gpt-4o-mini", stream: true,
                                         messages: [{role: "user", content: "Hi"}]});
            const r = await fetch(url, {method: "POST", body, headers: {
                "Authorization": "Bearer test", "Content-Type": "application/json",
                "X-Mock-Fault": "rate_limit:2"}});
            return [r.status, r.headers.get("retry-after"), r.headers.get("retry-after-ms"),
                    r.headers.get("x-request-id") !== null];
        }""", s.mock_origin + CHAT)
        assert got == [429, "2", "2000", True]
