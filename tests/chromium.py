"""Headless Chromium for the browser tests (tests/browser/, tests/hardening/test_safety_browser.py).

Playwright drives Debian's ``/usr/bin/chromium`` through ``executable_path``; it never downloads
a browser. Importing this module skips the importing test module when the browser or the
``playwright`` package is missing (``from chromium import …`` works because tests/ is on
``sys.path``, as for ``conftest``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

CHROMIUM = "/usr/bin/chromium"
if not os.access(CHROMIUM, os.X_OK):
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="the playwright package is not installed")

if TYPE_CHECKING:
    from playwright.sync_api import Browser

LAUNCH_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync")
#: Playwright's default wait on a page (ms).
TIMEOUT_MS = 10_000


@contextlib.contextmanager
def launched(*args: str) -> Iterator[Browser]:
    """A headless Chromium with :data:`LAUNCH_ARGS` and `args`, closed on exit."""
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=[*LAUNCH_ARGS, *args])
        try:
            yield browser
        finally:
            browser.close()
