"""Faults of the state backend (issue 10, point 5), with a real redis-server stopped and started
again: unreachable at start-up → a configuration error naming the URL (exit code 2 from the
command line); lost mid-run → a provider-shaped 503 for mock requests, no traceback, pass-through
untouched, streams in flight finish, and the mock comes back by itself."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import free_port, redis_server_process, serve

from sse_mock import SSEMockMiddleware
from sse_mock.config import ConfigError
from sse_mock.testing import WSGITransport


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"the app itself"]


def test_unreachable_redis_at_start_up_is_a_configuration_error_naming_the_url() -> None:
    pytest.importorskip("redis")
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"  # nothing listens there
    with pytest.raises(ConfigError) as info:
        SSEMockMiddleware(app, state=url)
    message = str(info.value)
    assert "'state'" in message and "127.0.0.1" in message and "s3cret" not in message


def test_the_command_line_exits_like_for_other_configuration_errors(tmp_path: Path) -> None:
    pytest.importorskip("redis")
    url = f"redis://127.0.0.1:{free_port()}/0"
    config = tmp_path / "mock.toml"
    config.write_text(f'state = "{url}"\n')
    for args in (["serve", "--port", str(free_port()), "--config", str(config)],
                 ["check", str(config)]):
        done = subprocess.run([sys.executable, "-m", "sse_mock", *args], capture_output=True,
                              text=True, timeout=30)
        assert done.returncode == 2, done.stderr
        assert url in done.stderr and "Traceback" not in done.stderr


def chat(client: httpx.Client, **extra: Any) -> httpx.Response:
    return client.post("/mock/v1/chat/completions", json={
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}, **extra)


def test_redis_lost_mid_run_then_back(prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sse_mock")
    with redis_server_process() as redis:
        mock = SSEMockMiddleware(app, state=redis.url, state_prefix=prefix, delay=0.05)
        try:
            with serve(mock) as url, httpx.Client(base_url=url, timeout=10) as client:
                assert chat(client).status_code == 200
                # A stream in flight when Redis goes: its events keep coming, it ends normally.
                with client.stream("GET", "/mock/stream") as stream:
                    lines = stream.iter_lines()
                    assert next(line for line in lines if line.startswith("data:"))
                    redis.stop()
                    rest = [line for line in lines if line.startswith("data:")]
                assert rest[-1] == "data: [DONE]" and len(rest) == 11  # 10 more words, [DONE]
                # Mock requests: a 503 in the client's shape; the app: untouched.
                down = chat(client, headers={"X-Mock-Fault": "rate_limit*2"})
                assert down.status_code == 503
                error = down.json()["error"]
                assert "state backend unavailable" in error["message"].lower()
                assert error["code"] == "state_backend_unavailable"
                claude = client.post("/mock/v1/messages", json={
                    "model": "claude-haiku-4-5", "max_tokens": 9,
                    "messages": [{"role": "user", "content": "hi"}]})
                assert claude.status_code == 503 and claude.json()["type"] == "error"
                assert client.get("/mock/stream").status_code == 503
                assert client.get("/elsewhere").text == "the app itself"
                # Redis is back: the mock is too, by itself (within one probe interval).
                redis.start()
                deadline = time.monotonic() + 10
                while chat(client).status_code != 200:
                    assert time.monotonic() < deadline, "the mock did not come back"
                    time.sleep(0.1)
                assert [chat(client, headers={"X-Mock-Fault": "rate_limit*2"}).status_code
                        for _ in range(3)] == [429, 429, 200]
                journal = client.get("/mock/_journal").json()["data"]
                assert [e["status"] for e in journal][-3:] == [429, 429, 200]
        finally:
            mock.state.close()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert any("state backend unavailable" in r.getMessage() for r in caplog.records)


def test_a_redis_that_refuses_writes_is_a_503_not_a_traceback(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    import redis

    mock = SSEMockMiddleware(app, state=redis_url, state_prefix=prefix, delay=0)
    admin = redis.Redis.from_url(redis_url)
    try:
        with httpx.Client(transport=WSGITransport(mock), base_url="http://mock") as client:
            admin.config_set("maxmemory", "1")  # every write: "OOM command not allowed"
            try:
                refused = chat(client, headers={"X-Mock-Fault": "rate_limit*2"})
            finally:
                admin.config_set("maxmemory", "0")
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "state_backend_unavailable"
            assert chat(client, headers={"X-Mock-Fault": "rate_limit*2"}).status_code == 429
    finally:
        mock.state.close()
        admin.close()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
