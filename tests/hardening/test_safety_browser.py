"""Issue 9, point 3, in a real headless Chromium: a page on another origin can read the mock's
streams (the seed's design, PROTOCOLS.md §6.5) but not its control endpoints, whatever
``cors.origins`` says; a DNS-rebinding page (a foreign name resolved to 127.0.0.1) is refused by
the Host check; an origin listed in ``control_origins`` may read the journal.

Skipped when ``/usr/bin/chromium`` or ``playwright`` is missing (as tests/browser).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from chromium import TIMEOUT_MS, launched  # skips this module without Chromium or playwright
from conftest import serve

from sse_mock import SSEMockMiddleware, create_app

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# DNS rebinding without DNS: the attacker's name resolves to the loopback address.
REBIND = "--host-resolver-rules=MAP rebind.test 127.0.0.1"
PAGE = b"<!doctype html><html><head><title>other site</title></head><body></body></html>"
SECRET = "my secret prompt 7d1f"

FETCH = """async ([url, init]) => {
  try {
    const r = await fetch(url, init || {});
    return {status: r.status, text: await r.text()};
  } catch (e) { return {blocked: String(e)}; }
}"""


def page_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(PAGE)))])
    return [PAGE]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched(REBIND) as b:
        yield b


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def _say_secret(base: str) -> None:
    """The developer's app talks to the mock: the journal now holds SECRET."""
    body = json.dumps({"model": "gpt-4o-mini",
                       "messages": [{"role": "user", "content": SECRET}]}).encode()
    req = urllib.request.Request(base + "/mock/v1/chat/completions", body,
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200


def test_page_on_another_origin_reads_streams_but_never_the_journal(page: Page) -> None:
    mock = create_app(delay=0, cors={"origins": "*"})
    with serve(page_app) as page_base, serve(mock) as mock_base:
        _say_secret(mock_base)
        page.goto(page_base + "/")
        # Streams keep today's CORS: any page may read them.
        stream = page.evaluate(FETCH, [mock_base + "/mock/stream", None])
        assert stream.get("status") == 200 and "[DONE]" in stream["text"]
        # The journal: the browser gets no CORS header, so page code cannot read it.
        got = page.evaluate(FETCH, [mock_base + "/mock/_journal", None])
        assert "blocked" in got, got
        assert SECRET not in json.dumps(got)
        # Nor clear it (a DELETE needs a preflight, which is refused).
        page.evaluate(FETCH, [mock_base + "/mock/_journal", {"method": "DELETE"}])
        assert len(mock.journal.entries()) == 2  # the chat and the page's stream


def test_dns_rebinding_page_is_refused_by_the_host_check(page: Page) -> None:
    # The page and the mock on one server: for the browser, same origin (rebind.test:port).
    mock = SSEMockMiddleware(page_app, delay=0)
    with serve(mock) as base:
        _say_secret(base)
        port = base.rsplit(":", 1)[1]
        page.goto(f"http://rebind.test:{port}/")
        got = page.evaluate(FETCH, [f"http://rebind.test:{port}/mock/_journal", None])
        assert got.get("status") == 403, got
        assert SECRET not in got["text"] and "allowed_hosts" in got["text"]
        # The same page on a loopback name is the developer's own: answered.
        page.goto(f"http://localhost:{port}/")
        got = page.evaluate(FETCH, [f"http://localhost:{port}/mock/_journal", None])
        assert got.get("status") == 200 and SECRET in got["text"]


def test_allowed_hosts_and_control_origins_open_the_door_on_purpose(page: Page) -> None:
    with serve(page_app) as page_base:
        mock = SSEMockMiddleware(page_app, delay=0, allowed_hosts=["rebind.test"],
                                 control_origins=[page_base])
        with serve(mock) as mock_base:
            _say_secret(mock_base)
            page.goto(page_base + "/")
            got = page.evaluate(FETCH, [mock_base + "/mock/_journal", None])
            assert got.get("status") == 200 and SECRET in got["text"], got
            deleted = page.evaluate(FETCH, [mock_base + "/mock/_journal", {"method": "DELETE"}])
            assert deleted.get("status") == 204, deleted
            port = mock_base.rsplit(":", 1)[1]
            page.goto(f"http://rebind.test:{port}/")
            got = page.evaluate(FETCH, [f"http://rebind.test:{port}/mock/_journal", None])
            assert got.get("status") == 200, got
