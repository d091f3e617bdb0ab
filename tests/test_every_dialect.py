"""CORS, controls, faults and timing on every dialect alike: the plain stream, OpenAI (chat,
completions, responses), Anthropic, Gemini (both API versions) and Ollama (chat, generate, on
NDJSON). One table says how to ask each and how to read its content events back; every test
runs over all of them, in process (PROTOCOLS.md §5.4, §6, §8, §9)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from werkzeug.test import Client

from sse_mock import create_app
from sse_mock._parser import parse

HI = [{"role": "user", "content": "Hi"}]


def sse_json(body: bytes) -> list[tuple[str, Any]]:
    out = []
    for e in parse(body):
        try:
            out.append((e.type, json.loads(e.data)))
        except ValueError:
            out.append((e.type, e.data))
    return out


def ndjson(body: bytes) -> list[Any]:
    return [json.loads(line) for line in body.decode().split("\n") if line.strip()]


def _plain(body: bytes) -> list[str]:
    return [e.data for e in parse(body) if e.type == "message" and e.data != "[DONE]"]


def _chat(body: bytes) -> list[str]:
    return [d["choices"][0]["delta"].get("content") or "" for _, d in sse_json(body)
            if isinstance(d, dict) and d.get("choices") and d["choices"][0]["delta"].get(
                "content")]


def _completions(body: bytes) -> list[str]:
    return [d["choices"][0]["text"] for _, d in sse_json(body)
            if isinstance(d, dict) and d.get("choices") and d["choices"][0]["text"]]


def _responses(body: bytes) -> list[str]:
    return [d["delta"] for t, d in sse_json(body) if t == "response.output_text.delta"]


def _anthropic(body: bytes) -> list[str]:
    return [d["delta"]["text"] for t, d in sse_json(body)
            if t == "content_block_delta" and d["delta"]["type"] == "text_delta"]


def _gemini(body: bytes) -> list[str]:
    return [d["candidates"][0]["content"]["parts"][0].get("text", "")
            for _, d in sse_json(body) if isinstance(d, dict) and "candidates" in d
            and d["candidates"][0]["content"]["parts"][0].get("text")]


def _ollama(key: str) -> Callable[[bytes], list[str]]:
    def read(body: bytes) -> list[str]:
        lines = [json.loads(line) for line in body.decode().split("\n")[:-1]
                 if line.strip() and line.strip().startswith("{") and line.strip().endswith("}")]
        return [(o["message"]["content"] if key == "message" else o["response"])
                for o in lines if not o.get("done", True) and (
                    o.get("message", {}).get("content") if key == "message" else o["response"])]
    return read


@dataclass(frozen=True)
class Dialect:
    name: str
    method: str
    path: str
    body: dict[str, Any] | None
    content: Callable[[bytes], list[str]]
    family: str
    content_type: str

    def request(self, client: Client, headers: dict[str, str] | None = None,
                buffered: bool = True) -> Any:
        if self.body is None:
            return client.open(self.path, method=self.method, headers=headers,
                               buffered=buffered)
        return client.open(self.path, method=self.method, headers=headers, buffered=buffered,
                           data=json.dumps(self.body), content_type="application/json")


SSE = "text/event-stream; charset=utf-8"
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
ALL = [
    Dialect("plain", "GET", "/mock/stream", None, _plain, "plain", SSE),
    Dialect("openai-chat", "POST", "/mock/v1/chat/completions",
            {"model": "gpt-4o-mini", "messages": HI, "stream": True}, _chat, "openai", SSE),
    Dialect("openai-completions", "POST", "/mock/v1/completions",
            {"model": "gpt-3.5-turbo-instruct", "prompt": "Hi", "stream": True}, _completions,
            "openai", SSE),
    Dialect("openai-responses", "POST", "/mock/v1/responses",
            {"model": "gpt-4o-mini", "input": "Hi", "stream": True}, _responses, "openai", SSE),
    Dialect("anthropic-messages", "POST", "/mock/v1/messages",
            {"model": "claude-sonnet-4-6", "max_tokens": 100, "messages": HI, "stream": True},
            _anthropic, "anthropic", SSE),
    Dialect("gemini-v1beta", "POST",
            "/mock/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", GEMINI_BODY,
            _gemini, "google", "text/event-stream"),
    Dialect("gemini-v1", "POST", "/mock/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            GEMINI_BODY, _gemini, "google", "text/event-stream"),
    Dialect("ollama-chat", "POST", "/mock/api/chat", {"model": "llama3.2", "messages": HI},
            _ollama("message"), "ollama", "application/x-ndjson"),
    Dialect("ollama-generate", "POST", "/mock/api/generate", {"model": "llama3.2",
                                                              "prompt": "Hi"},
            _ollama("response"), "ollama", "application/x-ndjson"),
]
WORDS = "Hello, this is a mocked chatbot. How can I help you?".split()


@pytest.fixture(params=ALL, ids=[d.name for d in ALL])
def dialect(request: pytest.FixtureRequest) -> Dialect:
    return request.param  # type: ignore[no-any-return]


def client(**options: Any) -> Client:
    options.setdefault("delay", 0)
    return Client(create_app(**options), use_cookies=False)


def error_of(dialect: Dialect, resp: Any) -> tuple[str, str]:
    """(message, the control or field it names) from the family's error shape."""
    body = resp.get_json()
    if dialect.family == "ollama":
        return body["error"], ""
    error = body["error"]
    if dialect.family == "google":
        violations = [v for d in error.get("details", []) for v in d.get("fieldViolations", [])]
        return error["message"], violations[0]["field"] if violations else ""
    return error["message"], error.get("param") or ""


def test_stream_and_content_type(dialect: Dialect) -> None:
    resp = dialect.request(client())
    assert resp.status_code == 200 and resp.headers["Content-Type"] == dialect.content_type
    assert " ".join(dialect.content(resp.data)).split() == WORDS


def test_cors_simple_and_preflight(dialect: Dialect) -> None:
    origin = "http://localhost:5173"
    resp = dialect.request(client(), headers={"Origin": origin})
    assert resp.headers["Access-Control-Allow-Origin"] == origin
    assert "Origin" in resp.headers["Vary"]
    assert "retry-after" in resp.headers["Access-Control-Expose-Headers"].lower()
    pre = client().open(dialect.path, method="OPTIONS", headers={
        "Origin": origin, "Access-Control-Request-Method": dialect.method,
        "Access-Control-Request-Headers": "content-type, x-goog-api-key, x-mock-fault"})
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == origin
    assert "x-goog-api-key" in pre.headers["Access-Control-Allow-Headers"].lower()


def test_reply_control_and_bad_control_in_the_family_shape(dialect: Dialect) -> None:
    resp = dialect.request(client(), headers={"X-Mock-Reply": "Two words"})
    assert " ".join(dialect.content(resp.data)).split() == ["Two", "words"]
    bad = dialect.request(client(), headers={"X-Mock-Delay": "fast"})
    assert bad.status_code == 400
    message, _ = error_of(dialect, bad)
    assert "delay" in message


@pytest.mark.parametrize(("fault", "status"), [("rate_limit:2", 429), ("server_error", 500)])
def test_http_faults(dialect: Dialect, fault: str, status: int) -> None:
    mw = create_app(delay=0)
    resp = dialect.request(Client(mw), headers={"X-Mock-Fault": fault})
    assert resp.status_code == status
    if status == 429:
        assert resp.headers["retry-after"] == "2"
    assert error_of(dialect, resp)[0]
    entry = mw.journal.entries()[-1]
    assert (entry.status, entry.outcome, entry.fault) == (status, "fault", fault)


def test_error_after_sends_n_events_then_the_in_band_error(dialect: Dialect) -> None:
    mw = create_app(delay=0)
    resp = dialect.request(Client(mw), headers={"X-Mock-Fault": "error_after:3"})
    assert resp.status_code == 200
    assert " ".join(dialect.content(resp.data)).split() == WORDS[:3]
    assert b"error" in resp.data[-400:]  # the in-band error is the stream's last word
    entry = mw.journal.entries()[-1]
    assert (entry.events, entry.outcome) == (3, "fault")


def test_truncate_after_ends_without_the_rest(dialect: Dialect) -> None:
    resp = dialect.request(client(), headers={"X-Mock-Fault": "truncate_after:2"})
    assert " ".join(dialect.content(resp.data)).split() == WORDS[:2]


def test_timing_first_token_delay_and_interval(dialect: Dialect) -> None:
    resp = dialect.request(client(), buffered=False, headers={
        "X-Mock-Delay": "0.02", "X-Mock-First-Token-Delay": "0.15", "X-Mock-Reply": "a b c d"})
    start = time.monotonic()
    arrivals: list[tuple[float, bytes]] = []
    try:
        for chunk in resp.response:
            arrivals.append((time.monotonic() - start, chunk))
    finally:
        resp.close()
    first_at, first = arrivals[0]
    assert first_at < 0.1 and dialect.content(first) == []  # headers at once, no content yet
    seen = b""
    times = []
    for at, chunk in arrivals:
        before = len(dialect.content(seen))
        seen += chunk
        if len(dialect.content(seen)) > before:
            times.append(at)
    assert len(times) >= 2 and times[0] >= 0.15 * 0.9
    assert times[-1] - times[0] >= 3 * 0.02 * 0.8  # four tokens, three intervals


# -- bad input never makes a 500 ----------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=4),
    max_leaves=12)
KEYS = ["model", "messages", "contents", "input", "prompt", "stream", "tools", "format",
        "options", "generationConfig", "requests", "content", "dimensions", "encoding_format",
        "response_format", "systemInstruction", "text", "max_tokens"]
POSTS = [d.path for d in ALL if d.method == "POST"] + [
    "/mock/v1/embeddings", "/mock/api/embed", "/mock/api/embeddings",
    "/mock/v1beta/models/text-embedding-004:embedContent",
    "/mock/v1/models/gemini-embedding-001:batchEmbedContents",
    "/mock/v1beta/models/gemini-2.5-flash:generateContent",
    "/mock/v1beta/models/gemini-2.5-flash:countTokens"]
FUZZ_APP = create_app(delay=0, journal_size=10)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(POSTS), body=st.dictionaries(st.sampled_from(KEYS), JSON,
                                                         max_size=6))
def test_bad_bodies_are_4xx_in_the_family_shape_never_500(path: str, body: dict[str, Any]
                                                           ) -> None:
    resp = Client(FUZZ_APP).post(path, data=json.dumps(body), content_type="application/json",
                                 buffered=True)
    assert resp.status_code < 500, resp.data[:300]
    if resp.status_code >= 400:
        assert "error" in resp.get_json()


TOOLS_GEMINI = [{"functionDeclarations": [{"name": "w", "parameters": {"type": "OBJECT"}}]}]
VALID: dict[str, dict[str, Any]] = {
    "/mock/v1beta/models/gemini-2.5-flash:generateContent": {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}, {"functionResponse": {
            "name": "w", "response": {}}}]}], "tools": TOOLS_GEMINI,
        "systemInstruction": {"parts": [{"text": "x"}]},
        "generationConfig": {"maxOutputTokens": 5, "stopSequences": ["x"],
                             "responseSchema": {"type": "OBJECT"}}},
    "/mock/api/chat": {"model": "m", "messages": [{"role": "user", "content": "Hi"}],
                       "tools": [{"type": "function", "function": {"name": "w"}}],
                       "options": {"num_predict": 3, "stop": ["x"]}, "format": {"type": "object"},
                       "stream": False},
    "/mock/v1/embeddings": {"model": "text-embedding-3-small", "input": ["a", "b"],
                            "dimensions": 8, "encoding_format": "base64"},
    "/mock/v1beta/models/text-embedding-004:batchEmbedContents": {"requests": [
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": "a"}]},
         "outputDimensionality": 4}]},
    "/mock/api/embed": {"model": "m", "input": ["a"], "dimensions": 4},
}


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_one_bad_value_in_a_valid_body_is_never_500(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(sorted(VALID)))
    body = json.loads(json.dumps(VALID[path]))
    where = data.draw(st.sampled_from(_paths(body)))
    target = body
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = data.draw(JSON)
    resp = Client(FUZZ_APP).post(path, data=json.dumps(body), content_type="application/json",
                                 buffered=True)
    assert resp.status_code < 500, (where, resp.data[:300])
