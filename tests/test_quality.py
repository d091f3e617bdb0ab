"""The project's own checks run with the tests: ruff and mypy --strict on sse_mock/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff")
                    .exists(), reason="ruff not installed")
def test_ruff_clean() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    result = run(ruff, "check", "sse_mock", "tests", "bench", "examples")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_clean() -> None:
    pytest.importorskip("mypy")
    result = run(sys.executable, "-m", "mypy", "sse_mock")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_sse_mock_imports_no_web_framework() -> None:
    code = ("import sys, sse_mock; bad = [m for m in ('flask', 'django', 'pyramid', 'httpx', "
            "'webob', 'paste.deploy') if m in sys.modules]; print(bad); assert not bad")
    result = run(sys.executable, "-c", code)
    assert result.returncode == 0, result.stdout + result.stderr


def test_version_has_one_source() -> None:
    from importlib.metadata import version

    import sse_mock

    assert version("sse-mock") == sse_mock.__version__
