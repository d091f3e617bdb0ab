"""The demo chat page (``create_app`` serves it at ``/``) in a real headless Chromium (issue 12.8):
streamed text, faults told apart (a 429 with its status and retry-after, a 500 with its status, a
dropped stream marked as cut off, an in-band error), a tool call shown as a tool call in a full
round trip, phone width, and no request that 404s (favicon).

Skipped when ``/usr/bin/chromium`` or the ``playwright`` package is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from chromium import TIMEOUT_MS, launched  # skips this module without Chromium or playwright
from conftest import serve

from sse_mock import create_app
from sse_mock.config import DEFAULT_REPLY

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

RULES = [{"match": {"contains": "weather"},
          "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched() as b:
        yield b


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serve(create_app(delay=0.03, rules=RULES), "werkzeug") as url:
        yield url


def open_page(browser: Browser, base: str, **context: Any) -> tuple[Page, list[str]]:
    ctx = browser.new_context(**context)
    ctx.set_default_timeout(TIMEOUT_MS)
    page = ctx.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status == 404 else None)
    page.on("console", lambda m: problems.append(f"console: {m.text}")
            if m.type == "error" and "Failed to load resource" not in m.text else None)
    page.goto(base + "/")
    return page, problems


@pytest.fixture
def page(browser: Browser, base: str) -> Iterator[Page]:
    page, problems = open_page(browser, base)
    try:
        yield page
    finally:
        page.context.close()
    assert not [p for p in problems if "page error" in p or " 404 " in f" {p} "], problems


def ask(page: Page, text: str, fault: str = "") -> None:
    page.select_option("#fault", fault)
    page.fill("#prompt", text)
    page.click("#send")
    page.wait_for_function("() => !document.getElementById('send').disabled")


def test_streams_incrementally_then_stops_streaming(page: Page) -> None:
    page.fill("#delay", "0.1")  # 1.2 s for the reply: room to see it grow, even on a busy CPU
    page.fill("#prompt", "hi there")
    page.click("#send")
    seen: list[int] = []
    for _ in range(2):  # the bot's text grows while it is still streaming
        handle = page.wait_for_function(
            """prev => { const b = document.querySelector('.msg.bot.streaming');
                         const n = b ? b.textContent.length : 0;
                         return n > prev ? n : false; }""",
            arg=seen[-1] if seen else 0, polling=10)
        seen.append(int(handle.json_value()))
    page.wait_for_function("() => !document.getElementById('send').disabled")
    assert seen[0] < seen[1] < len(DEFAULT_REPLY)
    assert page.text_content(".msg.bot") == DEFAULT_REPLY
    assert page.locator(".msg.bot.streaming").count() == 0


def test_a_429_shows_its_status_and_retry_after(page: Page) -> None:
    ask(page, "hello", "rate_limit")
    bot = page.locator(".msg.bot").last
    assert bot.get_attribute("data-status") == "429"
    assert bot.get_attribute("data-retry-after") == "1"
    assert page.text_content(".msg.bot .status") == "429 Too Many Requests — retry after 1 s"


def test_a_500_shows_its_status(page: Page) -> None:
    ask(page, "hello", "server_error")
    assert page.locator(".msg.bot").last.get_attribute("data-status") == "500"
    assert page.text_content(".msg.bot .status") == "500 Internal Server Error"


def test_a_dropped_stream_is_marked_cut_off(page: Page) -> None:
    ask(page, "hello", "disconnect_after:3")
    bot = page.locator(".msg.bot").last
    assert bot.get_attribute("data-cut") == "the connection dropped mid-stream"
    assert page.text_content(".msg.bot .cut") == "cut off"
    shown = page.evaluate("document.querySelector('.msg.bot').firstChild.textContent")
    assert shown and DEFAULT_REPLY.startswith(shown) and shown != DEFAULT_REPLY


def test_an_in_band_error_shows_as_an_error(page: Page) -> None:
    ask(page, "hello", "error_after:3")
    bot = page.locator(".msg.bot").last
    assert bot.get_attribute("data-status") == "200"
    assert "error in the stream" in (page.text_content(".msg.bot .status") or "")


def test_a_tool_call_is_shown_as_a_tool_call_and_the_loop_ends(page: Page) -> None:
    ask(page, "What's the weather in Paris?")
    kinds = page.evaluate("[...document.querySelectorAll('.msg')].map(m => m.className)")
    assert kinds == ["msg user", "msg tool", "msg result", "msg bot"]
    assert page.text_content(".msg.tool") == 'tool callget_weather({"city":"Paris"})'
    assert page.text_content(".msg.bot") == DEFAULT_REPLY  # no empty bubble, one round trip


def test_works_at_phone_width_and_nothing_404s(browser: Browser, base: str) -> None:
    page, problems = open_page(browser, base, viewport={"width": 360, "height": 640},
                               is_mobile=True, has_touch=True)
    try:
        ask(page, "a fairly long message that should wrap inside its bubble at phone width "
                  "without making the page scroll sideways")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        for selector in ("#send", "#stop", "#prompt", "#fault", ".msg.bot"):
            box = page.locator(selector).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, selector
        assert page.text_content(".msg.bot") == DEFAULT_REPLY
    finally:
        page.context.close()
    assert problems == []
