"""``sse-mock record`` (a recording proxy, run as a process) and ``sse-mock cassettes``."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import openai
import pytest
from conftest import free_port, serve, server_process

from sse_mock import create_app
from sse_mock.cli import main
from sse_mock.upstream.cassette import Cassette, Redactor, Request
from sse_mock.upstream.store import CassetteStore


def cassette(content: str, model: str = "gpt-4o-mini") -> Cassette:
    request = Request.build(route="openai-chat", family="openai", method="POST",
                            path="/v1/chat/completions", query_string="", headers={},
                            body={"model": model, "messages": [{"role": "user",
                                                                "content": content}]},
                            model=model, stream=False, fields=("*",), redactor=Redactor())
    return Cassette(request, 200, "text/event-stream", [("x-request-id", "req_1")],
                    events=[(0.2, b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n'),
                            (0.5, b"data: [DONE]\n\n")])


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    store = CassetteStore(tmp_path)
    store.save(cassette("old question"))
    store.save(cassette("new question", "gpt-4.1"))
    (tmp_path / "broken.json").write_text("{")
    old = store.folder / cassette("old question").request.name
    week = time.time() - 7 * 86400
    os.utime(old, (week, week))
    return tmp_path


def test_cassettes_list(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cassettes", "list", str(folder)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["CASSETTE", "STATUS", "ANSWER", "DURATION", "LAST", "USED"]
    assert "broken.json" in out and "not a valid cassette" in out
    row = next(line for line in lines if "gpt-4.1" in line)
    assert row.split()[1:5] == ["200", "2", "events", "0.50s"]
    assert next(line for line in lines if "gpt-4o-mini" in line).endswith("7d ago")
    assert lines[-1] == f"3 cassette(s) in {folder}"


def test_cassettes_show(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = folder / cassette("new question", "gpt-4.1").request.name
    assert main(["cassettes", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "POST /v1/chat/completions" in out and "'new question'" in out
    assert "x-request-id: req_1" in out
    assert '   0.200s  data: {"choices":[{"delta":{"content":"Hi"}}]}\\n\\n' in out
    assert main(["cassettes", "show", str(folder / "broken.json")]) == 2
    assert "not a valid cassette" in capsys.readouterr().err


def test_cassettes_prune_removes_what_was_not_used(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = cassette("old question").request.name
    assert main(["cassettes", "prune", str(folder), "--unused-for", "1d", "--dry-run"]) == 0
    assert f"would remove {old}" in capsys.readouterr().out
    assert (folder / old).exists()
    # A replay marks the cassette as used: nothing is pruned.
    app = create_app(cassettes=str(folder))
    from werkzeug.test import Client

    response = Client(app).post("/mock/v1/chat/completions", json={
        "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "old question"}]})
    assert b"Hi" in response.get_data()
    assert main(["cassettes", "prune", str(folder), "--unused-for", "1d"]) == 0
    assert capsys.readouterr().out.strip() == "removed 0 cassette(s)"
    week = time.time() - 7 * 86400
    os.utime(folder / old, (week, week))
    assert main(["cassettes", "prune", str(folder), "--unused-for", "2h"]) == 0
    assert f"removed {old}" in capsys.readouterr().out
    assert not (folder / old).exists()
    assert main(["cassettes", "prune", str(folder), "--unused-for", "soon"]) == 2
    assert "expected a duration" in capsys.readouterr().err


def test_record_proxy_records_then_replays(tmp_path: Path) -> None:
    upstream = create_app(delay=0.01, reply="Recorded through the proxy")
    port = free_port()
    with serve(upstream) as up_url, server_process(
            [sys.executable, "-m", "sse_mock", "record", "--cassettes", str(tmp_path),
             "--openai", up_url + "/mock/v1", "--port", str(port)], port) as proxy:
        client = openai.OpenAI(base_url=proxy.url + "/v1", api_key="sk-x", max_retries=0,
                               timeout=10)
        for _ in range(2):
            stream = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], stream=True)
            text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            assert text == "Recorded through the proxy"
        assert len(upstream.journal.entries()) == 1  # the second answer was a replay
    assert [p.name.split("--")[:2] for p in tmp_path.iterdir()] == [["openai-chat",
                                                                    "gpt-4o-mini"]]
    assert "recording proxy on http://127.0.0.1" in proxy.final_log  # type: ignore[operator]
