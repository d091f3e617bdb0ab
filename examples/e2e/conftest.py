"""Fixtures for the end-to-end example: a headless Chromium page whose origin is the mock's.

With pytest-playwright installed you would use its ``page`` fixture instead of the two below
and launch your own browser; they are here so the example runs with the ``playwright`` package
alone, against the system's Chromium (``SSE_MOCK_CHROMIUM``, default ``/usr/bin/chromium``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("SSE_MOCK_CHROMIUM", "/usr/bin/chromium")
PAGE = Path(__file__).with_name("agent.html")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, sse_mock_server: Any) -> Iterator[Any]:
    """A fresh browser context whose page is served at the mock's own origin: the page's
    fetch() and EventSource reach /mock/... same-origin, cookies included."""
    context = browser.new_context()
    context.set_default_timeout(10_000)
    if sse_mock_server.session:  # a shared server (--sse-mock-url): this test's session
        context.add_cookies([sse_mock_server.cookie])
    context.route(sse_mock_server.url + "/agent.html*", lambda route: route.fulfill(
        status=200, content_type="text/html", body=PAGE.read_text(encoding="utf-8")))
    page = context.new_page()
    yield page
    context.close()
