"""The Gemini dialect: pure (a Reply in, bytes out, parsed back) and through the middleware in
process (routing beside OpenAI's /v1/models, framing, faults) — PROTOCOLS.md §8."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import validated
from werkzeug.test import Client

from sse_mock import create_app
from sse_mock._parser import parse
from sse_mock.dialects.base import MockError, Reply, StreamContext, ToolCall
from sse_mock.dialects.gemini import GEMINI_SSE, GeminiDialect, Target, claims, parse_path
from sse_mock.dialects.shapes import GoogleShape

D = GeminiDialect()
MODEL = "gemini-2.5-flash"
KEY = {"x-goog-api-key": "x"}


def body(**extra: Any) -> dict[str, Any]:
    b: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "Hi there"}]}]}
    b.update(extra)
    return b


def ctx() -> StreamContext:
    return StreamContext(id="resp0123456789abcdefgh", created=0, model=MODEL)


def chunks(reply: Reply, **extra: Any) -> list[dict[str, Any]]:
    prompt = D.parse(body(**extra), model=MODEL, stream=True)
    data = b"".join(f.data for f in D.stream(reply, prompt, ctx()))
    assert b"\r\n\r\n" in data and data.endswith(b"\r\n\r\n")  # §8.3: CRLF framing
    return [json.loads(e.data) for e in parse(data)]


# -- paths and routing --------------------------------------------------------------------------

@pytest.mark.parametrize(("rest", "target"), [
    ("/v1beta/models", Target("v1beta")),
    ("/v1beta/models/", Target("v1beta")),
    ("/v1/models/gemini-2.5-flash", Target("v1", "gemini-2.5-flash", "get")),
    ("/v1beta/models/gemini-2.5-flash:generateContent",
     Target("v1beta", "gemini-2.5-flash", "generateContent")),
    ("/v1/models/gemini-2.0-flash-001:streamGenerateContent",
     Target("v1", "gemini-2.0-flash-001", "streamGenerateContent")),
    ("/v1beta/models/text-embedding-004:batchEmbedContents",
     Target("v1beta", "text-embedding-004", "batchEmbedContents")),
    ("/v1beta/tunedModels/x", None),
    ("/v2/models", None),
])
def test_parse_path(rest: str, target: Target | None) -> None:
    assert parse_path(rest) == target


@pytest.mark.parametrize(("rest", "environ", "gemini"), [
    ("/v1beta/models", {"REQUEST_METHOD": "GET"}, True),
    ("/v1/models", {"REQUEST_METHOD": "GET"}, False),  # OpenAI's list (§2.9)
    ("/v1/models", {"REQUEST_METHOD": "GET", "HTTP_X_GOOG_API_KEY": "k"}, True),
    ("/v1/models", {"REQUEST_METHOD": "GET", "QUERY_STRING": "key=k"}, True),
    ("/v1/models/ft:gpt-4o:org::abc", {"REQUEST_METHOD": "GET"}, False),
    ("/v1/models/gemini-2.5-flash:generateContent", {"REQUEST_METHOD": "POST"}, True),
    ("/v1/models", {"REQUEST_METHOD": "POST"}, False),  # OpenAI's 405
    ("/v1/models/ft:gpt-4o:org::abc", {"REQUEST_METHOD": "POST"}, False),
    ("/v1/models/gemini-2.5-flash:explode", {"REQUEST_METHOD": "POST"}, False),
    ("/v1/chat/completions", {"REQUEST_METHOD": "POST"}, False),
])
def test_claims(rest: str, environ: dict[str, Any], gemini: bool) -> None:
    assert claims(rest, environ) is gemini


# -- the dialect, pure --------------------------------------------------------------------------

def test_stream_is_one_event_per_token_and_the_last_carries_finish_and_usage() -> None:
    events = chunks(Reply(text="Hello there you"))
    texts = [e["candidates"][0]["content"]["parts"][0]["text"] for e in events]
    assert texts == ["Hello", " there", " you"]
    assert all(e["candidates"][0]["content"]["role"] == "model" for e in events)
    assert all(e["responseId"] == ctx().id and e["modelVersion"] == MODEL for e in events)
    assert "finishReason" not in events[0]["candidates"][0]
    last = events[-1]
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert last["usageMetadata"] == {"promptTokenCount": 2, "candidatesTokenCount": 3,
                                     "totalTokenCount": 5, "promptTokensDetails": [
                                         {"modality": "TEXT", "tokenCount": 2}]}


def test_function_calls_are_whole_parts_with_args_objects() -> None:
    reply = Reply(text="", tool_calls=(ToolCall("get_weather", '{"city":"Paris"}'),))
    events = chunks(reply)
    assert len(events) == 1
    part = events[0]["candidates"][0]["content"]["parts"][0]
    assert part == {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}
    assert events[0]["candidates"][0]["finishReason"] == "STOP"  # Divergence #4


def test_max_tokens_finish_and_empty_reply() -> None:
    assert chunks(Reply(text="a b", finish="length"))[-1]["candidates"][0][
        "finishReason"] == "MAX_TOKENS"
    only = chunks(Reply(text=""))
    assert len(only) == 1 and only[0]["candidates"][0]["content"]["parts"] == [{"text": ""}]


def test_complete_object() -> None:
    prompt = D.parse(body(), model=MODEL)
    out = D.complete(Reply(text="Hi you", tool_calls=(ToolCall("f", "{}"),)), prompt, ctx())
    assert out["candidates"][0]["content"]["parts"] == [{"text": "Hi you"},
                                                        {"functionCall": {"name": "f",
                                                                          "args": {}}}]
    assert out["usageMetadata"]["candidatesTokenCount"] == 3


def test_parse_reads_system_roles_function_responses_and_config() -> None:
    prompt = D.parse({
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Weather?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "w", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "w",
                                                             "response": {"t": 20}}}]},
        ],
        "tools": [{"functionDeclarations": [{"name": "w"}]}, {"googleSearch": {}}],
        "generationConfig": {"maxOutputTokens": 5, "stopSequences": ["END"]},
    }, model=MODEL, stream=True)
    assert prompt.system == "Be brief." and prompt.last_user == "Weather?"
    assert prompt.has_tool_results and prompt.tools == ("w",)
    assert prompt.max_tokens == 5 and prompt.stop == ("END",) and prompt.stream


@pytest.mark.parametrize(("bad", "param"), [
    ({"contents": []}, "contents"),
    ({}, "contents"),
    ({"contents": [{"role": "bot", "parts": [{"text": "x"}]}]}, "contents[0]"),
    ({"contents": [{"role": "user", "parts": []}]}, "contents[0].parts"),
    ({"contents": [{"parts": [{"text": 3}]}]}, "contents[0].parts[0].text"),
    (body(generationConfig={"maxOutputTokens": 0}), "generation_config.max_output_tokens"),
])
def test_bad_requests_name_the_field(bad: dict[str, Any], param: str) -> None:
    with pytest.raises(MockError) as info:
        D.parse(bad, model=MODEL)
    assert info.value.status == 400 and info.value.param == param


def test_error_shape_and_in_band_error() -> None:
    error = MockError(429, "slow down", kind="rate_limit", headers=[("retry-after-ms", "1500")])
    out = json.loads(GoogleShape().error_body(error, ""))["error"]
    assert (out["code"], out["status"], out["message"]) == (429, "RESOURCE_EXHAUSTED",
                                                             "slow down")
    retry = [d for d in out["details"] if d["@type"].endswith("RetryInfo")]
    assert retry == [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}]
    band = D.in_band_error(MockError(500, "boom", kind="server_error"), ctx())
    assert band.startswith(b"data: ") and D.end_of_stream(ctx()) == b""
    assert json.loads(band[6:]) == {"error": {"code": 500, "message": "boom",
                                              "status": "INTERNAL"}}


# -- through the middleware ---------------------------------------------------------------------

def app(**options: Any) -> Any:
    options.setdefault("delay", 0)
    return validated(create_app(**options))


def post(client: Client, path: str, data: Any, **kw: Any) -> Any:
    kw.setdefault("buffered", True)
    return client.post(path, data=json.dumps(data), content_type="application/json", **kw)


@pytest.mark.parametrize("version", ["v1", "v1beta"])
def test_stream_route_framing_and_first_chunk(version: str) -> None:
    client = Client(app(), use_cookies=False)
    resp = post(client, f"/mock/{version}/models/{MODEL}:streamGenerateContent?alt=sse", body(),
                headers=KEY, buffered=False)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == GEMINI_SSE.content_type
    try:
        rest = b"".join(resp.response)
    finally:
        resp.close()
    # Divergence #1: an empty line first, no SSE comment (google-genai reads those as JSON).
    assert rest.startswith(b"\r\ndata: ")
    events = [json.loads(e.data) for e in parse(rest)]
    assert "".join(e["candidates"][0]["content"]["parts"][0]["text"] for e in events) == (
        "Hello, this is a mocked chatbot. How can I help you?")


def test_heartbeat_is_an_empty_line() -> None:
    client = Client(app(heartbeat=0.05), use_cookies=False)
    resp = post(client, f"/mock/v1beta/models/{MODEL}:streamGenerateContent?alt=sse", body(),
                headers={"X-Mock-Fault": "stall_after:1:0.2"}, buffered=False)
    try:
        data = b"".join(resp.response)
    finally:
        resp.close()
    assert b": ping" not in data
    before_second = data.split(b"data: ")[2 - 1].split(b"\r\n\r\n", 1)[1]
    assert before_second.startswith(b"\r\n")  # blank lines while stalled


def test_model_lists_share_v1_models_by_api_key() -> None:
    client = Client(app(), use_cookies=False)
    openai = client.get("/mock/v1/models", buffered=True).get_json()
    assert openai["object"] == "list" and "models" not in openai
    gemini = client.get("/mock/v1/models", headers=KEY, buffered=True).get_json()
    assert gemini["models"][0]["name"] == "models/gemini-2.5-flash"
    assert client.get("/mock/v1beta/models", buffered=True).get_json() == gemini
    one = client.get(f"/mock/v1beta/models/{MODEL}", buffered=True).get_json()
    assert one["name"] == f"models/{MODEL}"
    assert "generateContent" in one["supportedGenerationMethods"]
    missing = client.get("/mock/v1beta/models/nope", buffered=True)
    assert missing.status_code == 404 and missing.get_json()["error"]["status"] == "NOT_FOUND"
    # OpenAI's own model route is untouched, fine-tuned ids with colons included (§2.9).
    ft = client.get("/mock/v1/models/ft:gpt-4o:org::abc", buffered=True)
    assert ft.status_code == 404 and ft.get_json()["error"]["code"] == "model_not_found"


@pytest.mark.parametrize(("fault", "status", "google_status"), [
    ("rate_limit:3", 429, "RESOURCE_EXHAUSTED"),
    ("server_error", 500, "INTERNAL"),
    ("overloaded", 503, "UNAVAILABLE"),
    ("unauthorized", 401, "UNAUTHENTICATED"),
])
def test_http_faults_in_googles_shape(fault: str, status: int, google_status: str) -> None:
    client = Client(app(), use_cookies=False)
    resp = post(client, f"/mock/v1beta/models/{MODEL}:generateContent", body(),
                headers={"X-Mock-Fault": fault})
    assert resp.status_code == status
    error = resp.get_json()["error"]
    assert (error["code"], error["status"]) == (status, google_status)
    if status == 429:
        assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3s"} in (
            error["details"])


@pytest.mark.parametrize(("path", "status"), [
    (f"/mock/v1beta/models/{MODEL}:streamGenerateContent", 400),  # Divergence #2: no alt=sse
    (f"/mock/v1beta/models/{MODEL}:explode", 404),
])
def test_bad_paths(path: str, status: int) -> None:
    resp = post(Client(app(), use_cookies=False), path, body())
    assert resp.status_code == status
    assert set(resp.get_json()["error"]) >= {"code", "message", "status"}


def test_bad_body_is_400_invalid_argument_and_journaled() -> None:
    mw = create_app(delay=0)
    resp = post(Client(mw, use_cookies=False), f"/mock/v1beta/models/{MODEL}:generateContent",
                {"contents": []})
    assert resp.status_code == 400
    assert resp.get_json()["error"]["status"] == "INVALID_ARGUMENT"
    entry = mw.journal.entries()[-1]
    assert entry.route == "gemini" and entry.outcome == "error"


def test_count_tokens() -> None:
    resp = post(Client(app(), use_cookies=False), f"/mock/v1beta/models/{MODEL}:countTokens",
                body())
    assert resp.get_json() == {"totalTokens": 2}
