"""The Ollama dialects: NDJSON streams pure and through the middleware, with pacing, faults and
the journal as on SSE (PROTOCOLS.md §9)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from conftest import validated
from werkzeug.test import Client

from sse_mock import create_app
from sse_mock.dialects.base import NDJSON, MockError, Reply, StreamContext, ToolCall
from sse_mock.dialects.ollama import OllamaChatDialect, OllamaGenerateDialect

CHAT = OllamaChatDialect()
GEN = OllamaGenerateDialect()
MODEL = "llama3.2"
TIMING = ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration",
          "eval_count", "eval_duration")
REPLY = "Hello, this is a mocked chatbot. How can I help you?"


def chat_body(**extra: Any) -> dict[str, Any]:
    b: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": "Hi there"}]}
    b.update(extra)
    return b


def lines(data: bytes) -> list[dict[str, Any]]:
    """Each line one JSON object (leading spaces are insignificant whitespace, Divergence #1)."""
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.decode().split("\n")[:-1]]


def stream(dialect: Any, reply: Reply, body: dict[str, Any]) -> list[dict[str, Any]]:
    prompt = dialect.parse(body)
    ctx = dialect.new_context(prompt)
    return lines(b"".join(f.data for f in dialect.stream(reply, prompt, ctx)))


# -- pure ---------------------------------------------------------------------------------------

def test_chat_stream_tokens_then_done_with_timing() -> None:
    out = stream(CHAT, Reply(text="Hello there you"), chat_body())
    assert [o["message"]["content"] for o in out[:-1]] == ["Hello", " there", " you"]
    assert all(o["done"] is False and o["model"] == MODEL for o in out[:-1])
    last = out[-1]
    assert last["done"] is True and last["done_reason"] == "stop"
    assert last["message"] == {"role": "assistant", "content": ""}
    assert all(isinstance(last[k], int) and last[k] > 0 for k in TIMING)
    assert (last["prompt_eval_count"], last["eval_count"]) == (2, 3)
    assert last["total_duration"] >= last["load_duration"] + last["eval_duration"]
    assert len({o["created_at"] for o in out}) == 1 and out[0]["created_at"].endswith("Z")


def test_chat_tool_calls_are_objects_in_one_line() -> None:
    reply = Reply(tool_calls=(ToolCall("get_weather", '{"city":"Paris"}'),))
    out = stream(CHAT, reply, chat_body())
    assert out[0]["message"]["tool_calls"] == [
        {"function": {"index": 0, "name": "get_weather", "arguments": {"city": "Paris"}}}]
    assert out[-1]["done"] is True


def test_generate_stream_and_length() -> None:
    out = stream(GEN, Reply(text="a b c", finish="length"),
                 {"model": MODEL, "prompt": "Hi", "system": "Be brief"})
    assert [o["response"] for o in out[:-1]] == ["a", " b", " c"]
    assert out[-1]["done_reason"] == "length" and out[-1]["prompt_eval_count"] == 3


def test_parse_defaults_to_streaming_and_reads_options() -> None:
    prompt = CHAT.parse(chat_body(options={"num_predict": 4, "stop": ["x"]},
                                  tools=[{"type": "function", "function": {"name": "f"}}]))
    assert prompt.stream and prompt.max_tokens == 4 and prompt.stop == ("x",)
    assert prompt.tools == ("f",)
    assert not CHAT.parse(chat_body(stream=False)).stream
    assert CHAT.parse(chat_body(options={"num_predict": -1})).max_tokens is None


@pytest.mark.parametrize(("bad", "message"), [
    ({"messages": []}, "model is required"),
    (chat_body(stream="yes"), "cannot unmarshal string into Go struct field stream of type bool"),
    (chat_body(messages=[{"role": "robot", "content": "x"}]), "invalid role"),
    (chat_body(messages=[{"role": "user", "content": 3}]), "cannot unmarshal number"),
])
def test_bad_requests(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(MockError) as info:
        CHAT.parse(bad)
    assert info.value.status == 400 and message in info.value.message


def test_in_band_error_is_one_line() -> None:
    ctx = StreamContext("", 0, MODEL)
    line = CHAT.in_band_error(MockError(500, "boom", kind="server_error"), ctx)
    assert line == b'{"error":"boom"}\n' and CHAT.end_of_stream(ctx) == b""


# -- through the middleware ---------------------------------------------------------------------

def post(path: str, data: Any, buffered: bool = True, **options: Any) -> Any:
    options.setdefault("delay", 0)
    headers = options.pop("headers", None)
    client = Client(validated(create_app(**options)), use_cookies=False)
    return client.post(path, data=json.dumps(data), content_type="application/json",
                       headers=headers, buffered=buffered)


def test_ndjson_headers_and_first_chunk() -> None:
    resp = post("/mock/api/chat", chat_body(), buffered=False, first_token_delay=0.05)
    try:
        assert resp.headers["Content-Type"] == NDJSON.content_type == "application/x-ndjson"
        assert resp.headers["Cache-Control"] == "no-cache, no-transform"
        assert "Content-Length" not in resp.headers
        it = iter(resp.response)
        assert next(it) == b" "  # Divergence #1: headers at once, no blank line
        rest = b"".join(it)
    finally:
        resp.close()
    out = lines(rest)
    assert "".join(o["message"]["content"] for o in out) == REPLY and out[-1]["done"] is True


def test_non_streamed_is_one_json_object() -> None:
    resp = post("/mock/api/generate", {"model": MODEL, "prompt": "Hi", "stream": False})
    assert resp.headers["Content-Type"] == "application/json"
    out = resp.get_json()
    assert out["response"] == REPLY and out["done"] is True and set(TIMING) <= set(out)


def test_pacing_applies_to_ndjson() -> None:
    start = time.monotonic()
    resp = post("/mock/api/chat", chat_body(), delay=0.02)
    elapsed = time.monotonic() - start
    assert len(lines(resp.data)) == 12
    assert elapsed >= 11 * 0.02 * 0.9
    last = lines(resp.data)[-1]
    assert last["eval_duration"] >= 10 * 0.02 * 1e9 * 0.9  # measured (Divergence #2)


def test_heartbeat_is_a_space_between_lines() -> None:
    resp = post("/mock/api/chat", chat_body(), heartbeat=0.05,
                headers={"X-Mock-Fault": "stall_after:1:0.2"})
    first, rest = resp.data.split(b"\n", 1)
    assert rest.startswith(b"  ") and b": ping" not in resp.data
    assert len(lines(resp.data)) == 12


def test_error_after_is_an_error_line_and_journaled() -> None:
    mw = create_app(delay=0)
    resp = Client(mw).post("/mock/api/chat", json=chat_body(),
                           headers={"X-Mock-Fault": "error_after:2"}, buffered=True)
    out = lines(resp.data)
    assert [o.get("message", {}).get("content") for o in out[:2]] == ["Hello,", " this"]
    assert out[-1] == {"error": "The server had an error while processing your request "
                                "(mocked by sse_mock)."}
    entry = mw.journal.entries()[-1]
    assert (entry.route, entry.outcome, entry.events, entry.fault) == (
        "ollama-chat", "fault", 2, "error_after:2")


def test_malformed_after_is_one_corrupt_line() -> None:
    resp = post("/mock/api/chat", chat_body(), headers={"X-Mock-Fault": "malformed_after:1"})
    raw = resp.data.decode().split("\n")
    json.loads(raw[0])
    with pytest.raises(ValueError):
        json.loads(raw[1])
    assert all(json.loads(r) for r in raw[2:-1]) and raw[-1] == ""


def test_truncate_after_ends_without_done() -> None:
    resp = post("/mock/api/chat", chat_body(), headers={"X-Mock-Fault": "truncate_after:3"})
    out = lines(resp.data)
    assert len(out) == 3 and not any(o["done"] for o in out)


@pytest.mark.parametrize(("fault", "status"), [("rate_limit", 429), ("server_error", 500),
                                               ("overloaded", 503)])
def test_http_faults_in_ollamas_shape(fault: str, status: int) -> None:
    resp = post("/mock/api/chat", chat_body(), headers={"X-Mock-Fault": fault})
    assert resp.status_code == status
    assert set(resp.get_json()) == {"error"} and isinstance(resp.get_json()["error"], str)


def test_tags_and_version() -> None:
    client = Client(validated(create_app(ollama_models=["llama3.2", "qwen3:8b"])))
    tags = client.get("/mock/api/tags", buffered=True).get_json()["models"]
    assert [t["name"] for t in tags] == ["llama3.2:latest", "qwen3:8b"]
    assert all(len(t["digest"]) == 64 and t["details"]["format"] == "gguf" for t in tags)
    assert client.get("/mock/api/version", buffered=True).get_json()["version"]


# -- over real sockets --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["werkzeug", "waitress", "wsgiref"])
@pytest.mark.parametrize(("path", "body"), [
    ("/mock/api/chat", chat_body()),
    ("/mock/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
     {"contents": [{"parts": [{"text": "Hi"}]}]}),
], ids=["ollama", "gemini"])
def test_headers_leave_at_once_on_every_server(kind: str, path: str, body: Any) -> None:
    """The framing's first chunk makes each server send the headers before the first token
    (PROTOCOLS.md §5.4): here the first token is 0.6 s away."""
    import http.client
    import urllib.parse

    from conftest import serve

    with serve(create_app(delay=0, first_token_delay=0.6), kind) as base:
        url = urllib.parse.urlsplit(base)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        try:
            start = time.monotonic()
            conn.request("POST", path, body=json.dumps(body),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            headers_at = time.monotonic() - start
            data = resp.read()
            total = time.monotonic() - start
        finally:
            conn.close()
    assert resp.status == 200 and headers_at < 0.4 <= 0.55 < total
    assert data.startswith((b" {", b"\r\ndata: "))


def test_disconnect_after_drops_an_ndjson_stream_on_a_socket() -> None:
    import ollama
    from conftest import serve

    with serve(create_app(delay=0), "werkzeug") as base, ollama.Client(
            host=base + "/mock", headers={"X-Mock-Fault": "disconnect_after:2"}) as client:
        seen: list[str] = []
        with pytest.raises(httpx.RemoteProtocolError) as info:  # an incomplete chunked body
            for part in client.chat(model=MODEL, messages=[{"role": "user", "content": "Hi"}],
                                    stream=True):
                seen.append(part.message.content or "")
    assert seen == ["Hello,", " this"]
    assert "incomplete" in str(info.value)
