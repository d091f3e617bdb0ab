"""``sse-mock``: help, errors, and ``serve`` as a real process stopped with Ctrl-C."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import free_port, wait_for_port

from sse_mock._parser import parse
from sse_mock.cli import main


def sse_mock_cmd() -> list[str]:
    exe = shutil.which("sse-mock") or str(Path(sys.executable).parent / "sse-mock")
    return [exe] if Path(exe).exists() else [sys.executable, "-m", "sse_mock.cli"]


def test_help_describes_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--config", "--delay", "8001"):
        assert option in out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "serve" in capsys.readouterr().out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "serve" in capsys.readouterr().out


def test_bad_delay_and_bad_config_fail_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--delay", "-1"])
    assert info.value.code == 2
    assert "--delay" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("delya = 1\n")
    assert main(["serve", "--config", str(bad), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "'delya'" in err and "did you mean 'delay'" in err


def test_serve_runs_prints_urls_streams_and_stops_on_ctrl_c() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [*sse_mock_cmd(), "serve", "--port", str(port), "--delay", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=20)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(timeout=10) as c:
            page = c.get(base + "/")
            assert page.status_code == 200 and "EventSource" in page.text
            r = c.get(base + "/mock/stream")
            assert [e.data for e in parse(r.content)][-1] == "[DONE]"
            assert c.get(base + "/nope").status_code == 404
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert f"http://127.0.0.1:{port}/mock/stream" in out
    assert f'OpenAI(base_url="http://127.0.0.1:{port}/mock/v1"' in out
    assert "stopped" in out
    assert "Traceback" not in err
