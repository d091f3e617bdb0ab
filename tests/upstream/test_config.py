"""Record and replay's configuration fails at start-up, naming the key; a replay in process is a
valid PEP 3333 answer (wsgiref.validate, no hop-by-hop header, §5.4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import validated
from werkzeug.test import Client

from sse_mock import SSEMockMiddleware, create_app
from sse_mock.config import ConfigError, load_config
from sse_mock.upstream.cassette import Cassette, Redactor, Request
from sse_mock.upstream.store import CassetteStore


@pytest.mark.parametrize(("options", "message"), [
    ({"record": "new"}, "key 'cassettes' is needed when 'record' is 'new'"),
    ({"record": "all", "cassettes": "c"}, "key 'record' is 'all' but no upstream is configured"),
    ({"record": "sometimes"}, "key 'record': expected one of 'none', 'new', 'all'"),
    ({"upstream": {"openai": "api.openai.com"}}, "key 'upstream.openai': expected a base URL"),
    ({"upstream": {"azure": "https://x"}}, "unknown key 'azure'; allowed: anthropic, "
                                           "connect_timeout, gemini, ollama, openai, timeout"),
    ({"upstream": {"timeout": 0}}, "key 'upstream.timeout'"),
    ({"replay_timing": "fast"}, "key 'replay_timing': expected one of 'recorded', 'mock'"),
    ({"replay_speed": -1}, "key 'replay_speed'"),
    ({"redact_patterns": ["(unclosed"]}, "key 'redact_patterns': '(unclosed' is not a regular"),
])
def test_bad_configuration_fails_at_start_naming_the_key(options: dict[str, Any],
                                                         message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        SSEMockMiddleware(lambda e, s: [], **options)


def test_defaults_keep_record_and_replay_off() -> None:
    config = load_config()
    assert (config.record, config.cassettes, config.replay_timing, config.replay_speed) == (
        "none", "", "recorded", 1.0)
    assert SSEMockMiddleware(lambda e, s: []).upstream is None


def test_a_relative_cassette_folder_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "mock.toml").write_text('cassettes = "tapes"\n')
    assert load_config(tmp_path / "mock.toml").cassettes == str(tmp_path / "tapes")


def test_replay_in_process_is_valid_wsgi(tmp_path: Path) -> None:
    body = {"model": "gpt-4o-mini", "stream": True,
            "messages": [{"role": "user", "content": "Hi"}]}
    request = Request.build(route="openai-chat", family="openai", method="POST",
                            path="/v1/chat/completions", query_string="", headers={},
                            body=body, model="gpt-4o-mini", stream=True, fields=("*",),
                            redactor=Redactor())
    events = [(0.0, b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'),
              (0.01, b"data: [DONE]\n\n")]
    CassetteStore(tmp_path).save(Cassette(request, 200, "text/event-stream",
                                          [("x-request-id", "req_recorded")], events=events))
    app = create_app(cassettes=str(tmp_path))
    response = Client(validated(app)).post("/mock/v1/chat/completions", json=body,
                                           buffered=False)
    assert response.headers["x-request-id"] == "req_recorded"
    assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert b"".join(response.response) == b": ok\n" + b"".join(e for _, e in events)
    response.close()
    entry = app.journal.entries()[0]
    assert (entry.source, entry.events, entry.outcome) == ("replay", 1, "completed")


def test_a_miss_without_recording_answers_as_if_no_cassette_existed(tmp_path: Path) -> None:
    app = create_app(cassettes=str(tmp_path), delay=0, rules=[
        {"match": {"contains": "weather"}, "reply": "Sunny."}])
    client = Client(app)
    for text, expected in (("weather?", "Sunny."), ("Hi", "Hello, this is a mocked chatbot.")):
        response = client.post("/mock/v1/chat/completions", json={
            "model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]})
        assert response.json["choices"][0]["message"]["content"].startswith(expected)
    assert [(e.source, e.cassette) for e in app.journal.entries()] == [(None, None)] * 2
    assert list(tmp_path.iterdir()) == []
