"""The pytest plugin as users run it: pytest in a subprocess (pytester) over the example test
files in ``cases/``, with the plugin loaded from its ``pytest11`` entry point, never by name."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from conftest import serve
from test_e2e_example import CHROMIUM, copy_example

from sse_mock import create_app
from sse_mock.testing import MockControl

pytest_plugins = ["pytester"]

CASES = Path(__file__).parent / "cases"
ENV = ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY",
       "SSE_MOCK_URL", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")
HEAVY = ("openai", "anthropic", "httpx", "httpx2", "werkzeug", "flask", "django", "pyramid",
         "playwright")


@pytest.fixture
def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Copy case files into a fresh folder and run pytest there in a subprocess."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)

    def go(*names: str, args: tuple[str, ...] = (), timeout: float = 90) -> pytest.RunResult:
        for name in names:
            source = CASES / name
            target = name.replace("case_", "test_") if name.endswith(".py") else name
            (pytester.path / target).write_text(source.read_text())
        return pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "--strict-markers", "-W", "error", *args,
            timeout=timeout)

    yield go


def test_registered_by_entry_point() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert names.get("sse_mock") == "sse_mock.pytest_plugin"


def test_fixtures_markers_and_failure_messages(run: object) -> None:
    """One run over three files (one pytest start-up): the in-process fixture and markers
    (case_unit), the live server (case_live), and tests that fail on purpose (case_failures),
    whose messages must show what the mock received."""
    result = run("case_unit.py", "mock.toml", "case_live.py",  # type: ignore[operator]
                 "case_failures.py")
    result.assert_outcomes(passed=11, failed=3, errors=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines([
        "E   *AssertionError: expected 2 requests with model='gpt-5*', got 0.",
        "E   *The mock received 1 request(s):",
        "E   *#1 POST /mock/v1/chat/completions 200 completed retry-count=0 model=gpt-4o-mini "
        "\"What's the weather in Paris?\"",
    ])
    result.stdout.fnmatch_lines([
        "E   *expected 1 request with route='anthropic-messages', got 0.",
        "E   *The mock's journal is empty: no request reached it*",
    ])
    # The naive loop: three 429s within milliseconds, each asking for a second's wait.
    result.stdout.fnmatch_lines([
        "E   *sse_mock verdict: 2 finding(s) in 1 calls (3 requests)",
        "E   *1. retried before retry-after: #2 came 0.* s after #1's 429 (rate_limit:1), "
        "which asked to wait 1 s*",
        "E   *#1 POST /mock/v1/chat/completions 429 fault fault=rate_limit:1 retry-after=1.0",
        "E   *2. retried before retry-after: #3 came 0.* s after #2's 429*",
    ])
    result.stdout.fnmatch_lines(["*@pytest.mark.sse_mock: config: key 'delayy' is unknown "
                                 "(did you mean 'delay'?)*"])
    assert "Traceback" not in out.split("short test summary")[0].split("test_bad_marker")[-1]


def test_plugin_load_imports_no_sdk_or_framework(run: object, pytester: pytest.Pytester) -> None:
    """A suite that does not use the plugin pays for sse_mock's own modules only."""
    code = "import sse_mock.pytest_plugin"
    found = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                           capture_output=True, text=True, timeout=60, check=True).stderr
    modules = {line.split("|")[-1].strip().split(".")[0] for line in found.splitlines()
               if line.startswith("import time:")}
    assert "sse_mock" in modules
    assert not modules & set(HEAVY), modules & set(HEAVY)
    pytester.makepyfile(test_plain=f"""
        import sys

        def test_untouched():
            loaded = {{m.split(".")[0] for m in sys.modules}}
            assert "sse_mock" in loaded  # the plugin is active
            assert not loaded & {set(HEAVY)!r}
    """)
    run().assert_outcomes(passed=1)  # type: ignore[operator]


def test_xdist_workers_share_one_server_through_sessions(
    run: object, pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest -n 2 against one live server: every test in its own session, none sees
    another's queued answers or journal — SDK tests (case_sessions) and, when Chromium is
    there, the Playwright tests of examples/e2e (session cookie) in the same run."""
    browser = os.access(CHROMIUM, os.X_OK) and importlib.util.find_spec("playwright")
    if browser:
        copy_example(pytester)
    app = create_app(delay=0)
    monkeypatch.setenv("SESSIONS_DIR", str(tmp_path))
    with serve(app) as url:
        result = run("case_sessions.py",  # type: ignore[operator]
                     args=("-n", "2", "-v", "-rs", "--sse-mock-url", url), timeout=120)
        # Tests with a marker configure a mock of their own: skipped, with the reason.
        result.assert_outcomes(passed=10 if browser else 8, skipped=2 if browser else 1)
        result.stdout.fnmatch_lines(["*@pytest.mark.sse_mock cannot configure a server "
                                     "started elsewhere (--sse-mock-url)*"])
        sessions = [p.name for p in tmp_path.iterdir()]
        assert len(sessions) == 8
        assert {s.split("-")[0] for s in sessions} <= {"gw0", "gw1"}
        ran = set(re.findall(r"\[(gw\d)\] \[\s*\d+%\] PASSED", result.stdout.str()))
        assert ran == {"gw0", "gw1"}  # both workers ran tests
        for session in sessions:
            records = MockControl(url, session=session).journal_records()
            assert [r["status"] for r in records] == [200, 429, 200]
        assert MockControl(url).journal_records() == []  # nothing in the default session
