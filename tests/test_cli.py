"""``sse-mock``: help, errors, ``serve`` as a real process stopped with Ctrl-C, its options and
``--reload``, ``check``, the banner, and ``python -m sse_mock``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import free_port, wait_for_port

from sse_mock import create_app
from sse_mock._parser import parse
from sse_mock.cli import banner, build_parser, main, serve_options


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
            assert page.status_code == 200 and "sse_mock demo chat" in page.text
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
    assert "{" not in out  # no literal {id}: every row is a URL that answers


def test_python_dash_m_runs_the_cli() -> None:
    out = subprocess.run([sys.executable, "-m", "sse_mock", "--version"], capture_output=True,
                         text=True, timeout=30, check=True)
    assert out.stdout.startswith("sse-mock ")
    out = subprocess.run([sys.executable, "-m", "sse_mock", "serve", "--help"],
                         capture_output=True, text=True, timeout=30, check=True)
    assert "usage: sse-mock serve" in out.stdout


def test_banner_rows_are_aligned_and_every_row_is_a_url() -> None:
    app = create_app(delay=0)
    text = banner(app, "http://127.0.0.1:8001")
    assert "{" not in text and "}" not in text
    assert "http://127.0.0.1:8001/mock/v1/models/gpt-4o-mini" in text
    rows = text.splitlines()[1:]
    col = rows[0].index("http")
    for row in rows:  # the value column starts at the same place on every row
        assert row[col - 2:col] == "  " and row[col] != " ", row
    assert [row[:col].strip() for row in rows if row[:col].strip()] == [
        "demo chat page", "routes", "OpenAI SDK", "Anthropic SDK", "configuration"]


def test_serve_options_become_configuration_keys() -> None:
    args = build_parser().parse_args(["serve", "--reply", "hi there", "--echo", "--seed", "7",
                                      "--prefix", "/llm", "--delay", "0"])
    assert serve_options(args) == {"delay": 0.0, "reply": "hi there", "echo": True, "seed": 7,
                                   "prefix": "/llm"}
    assert serve_options(build_parser().parse_args(["serve"])) == {}  # the config's own values


def test_serve_reply_echo_prefix_over_a_socket() -> None:
    port = free_port()
    proc = subprocess.Popen([*sse_mock_cmd(), "serve", "--port", str(port), "--delay", "0",
                             "--prefix", "/llm", "--reply", "from the flag", "--seed", "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port("127.0.0.1", port, timeout=20)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(timeout=10) as c:
            r = c.get(base + "/llm/stream")
            assert [e.data for e in parse(r.content)] == ["from", "the", "flag", "[DONE]"]
            assert c.get(base + "/mock/stream").status_code == 404
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    assert f'OpenAI(base_url="http://127.0.0.1:{port}/llm/v1"' in out
    port = free_port()
    proc = subprocess.Popen([*sse_mock_cmd(), "serve", "--port", str(port), "--delay", "0",
                             "--echo"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port("127.0.0.1", port, timeout=20)
        r = httpx.post(f"http://127.0.0.1:{port}/mock/v1/chat/completions", timeout=10, json={
            "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "say it back"}]})
        assert r.json()["choices"][0]["message"]["content"] == "say it back"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)


def test_check_prints_the_effective_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "mock.toml"
    good.write_text('delay = 0.2\n[[rules]]\nmatch = { contains = "weather" }\nreply = "sunny"\n'
                    '[chaos]\nrate_limit = 0.1\n')
    assert main(["check", str(good)]) == 0
    captured = capsys.readouterr()
    shown = json.loads(captured.out)
    assert shown["delay"] == 0.2 and shown["prefix"] == "/mock"  # a default filled in
    assert shown["rules"][0]["match"] == {"contains": "weather"}
    assert shown["chaos"] == {"rate_limit": 0.1}
    assert "OK" in captured.err
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rules]]\nfault = \"rate_limits\"\n")
    assert main(["check", str(bad)]) == 2
    assert "rules[0].fault" in capsys.readouterr().err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_reload_stops_with_its_server_on_a_signal_even_if_sigint_was_ignored(
    tmp_path: Path, sig: signal.Signals
) -> None:
    # `kill` (SIGTERM) of `serve --reload` stopped the watcher and left its server running on
    # the port. A background job of a shell starts with SIGINT ignored (and Python then raises
    # no KeyboardInterrupt): Ctrl-C must stop it all the same, as it stops `serve`.
    config = tmp_path / "mock.toml"
    config.write_text('delay = 0\nreply = "hi"\n')
    port = free_port()
    proc = subprocess.Popen(
        [*sse_mock_cmd(), "serve", "--port", str(port), "--config", str(config), "--reload"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        wait_for_port("127.0.0.1", port, timeout=20)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    with pytest.raises(OSError):  # the server child is gone, not orphaned on the port
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_reload_restarts_on_a_config_change_and_keeps_serving_on_a_bad_one(
    tmp_path: Path
) -> None:
    config = tmp_path / "mock.toml"
    config.write_text('delay = 0\nreply = "first version"\n')
    port = free_port()
    errors = tmp_path / "stderr.txt"
    with errors.open("w") as stderr:
        proc = subprocess.Popen([*sse_mock_cmd(), "serve", "--port", str(port), "--config",
                                 str(config), "--reload"], stdout=subprocess.PIPE,
                                stderr=stderr, text=True)
    url = f"http://127.0.0.1:{port}/mock/stream"

    def reply() -> str | None:
        try:
            r = httpx.get(url, timeout=5)
        except httpx.TransportError:
            return None  # between the old server and the new one
        return " ".join(e.data for e in parse(r.content)[:-1])

    def wait_until(done: Any) -> None:
        deadline = time.monotonic() + 20
        while not done():
            assert time.monotonic() < deadline
            time.sleep(0.1)

    try:
        wait_for_port("127.0.0.1", port, timeout=20)
        wait_until(lambda: reply() == "first version")
        config.write_text('delay = 0\nreply = "second version"\n')
        os.utime(config, (time.time() + 2, time.time() + 2))  # a new stamp even within 1 s
        wait_until(lambda: reply() == "second version")
        config.write_text('delay = "soon"\nreply = "broken version"\n')
        os.utime(config, (time.time() + 4, time.time() + 4))
        wait_until(lambda: "still serving the previous one" in errors.read_text())
        assert reply() == "second version"  # the broken edit did not take the server down
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    err = errors.read_text()
    assert proc.returncode == 0, err
    assert "changed, restarting" in out
    assert "'delay'" in err and "Traceback" not in err
    assert "(reloads when it changes)" in out

