"""examples/e2e/ run as its docstring says, in a pytest subprocess, in a real headless Chromium,
with a mock server of its own. (test_plugin.py runs it again with ``-n 2`` against one shared
server, each test in its own session through the ``sse_mock_session`` cookie.)"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "e2e"
CHROMIUM = os.environ.get("SSE_MOCK_CHROMIUM", "/usr/bin/chromium")
if not os.access(CHROMIUM, os.X_OK):
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


def copy_example(pytester: pytest.Pytester) -> None:
    for path in EXAMPLE.iterdir():
        if path.is_file():
            shutil.copy(path, pytester.path / path.name)


@pytest.fixture
def example(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "SSE_MOCK_URL", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)
    copy_example(pytester)
    return pytester


def test_example_with_its_own_server(example: pytest.Pytester) -> None:
    result = example.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error",
                                          timeout=120)
    result.assert_outcomes(passed=3)
