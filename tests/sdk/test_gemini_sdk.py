"""The official ``google-genai`` SDK against the mock over a real socket (PROTOCOLS.md §8).

Every test runs with the SDK's default ``api_version`` (``v1``: the paths share ``/v1/models``
with OpenAI's list) and with ``v1beta``. Errors must come back as the SDK's typed exceptions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import serve

from sse_mock import create_app

genai = pytest.importorskip("google.genai")
from google.genai import errors, types  # noqa: E402

MODEL = "gemini-2.5-flash"
REPLY = "Hello, this is a mocked chatbot. How can I help you?"
RULES: list[dict[str, Any]] = [
    {"match": {"has_tool_result": True}, "reply": "It is sunny in Paris."},
    {"match": {"contains": "weather"},
     "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
]
WEATHER = types.Tool(function_declarations=[types.FunctionDeclaration(
    name="get_weather", description="The weather in a city",
    parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}},
                            "required": ["city"]})])


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serve(create_app(delay=0, rules=RULES), "werkzeug") as url:
        yield url + "/mock"


@pytest.fixture(params=[None, "v1beta"], ids=["default-version", "v1beta"])
def client(request: pytest.FixtureRequest, base: str) -> Any:
    options: dict[str, Any] = {"base_url": base, "timeout": 10_000}
    if request.param:
        options["api_version"] = request.param
    return genai.Client(api_key="x", http_options=options)


def test_generate_content(client: Any) -> None:
    r = client.models.generate_content(model=MODEL, contents="Hi there")
    assert r.text == REPLY
    assert r.candidates[0].finish_reason == types.FinishReason.STOP
    usage = r.usage_metadata
    assert (usage.prompt_token_count, usage.candidates_token_count) == (2, 11)
    assert usage.total_token_count == 13 and r.model_version == MODEL and r.response_id


def test_generate_content_stream(client: Any) -> None:
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="Hi there"))
    assert len(chunks) == 11
    assert "".join(c.text for c in chunks) == REPLY
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.candidates_token_count == 11


def test_chat_function_call_round_trip(client: Any) -> None:
    chat = client.chats.create(model=MODEL, config=types.GenerateContentConfig(
        tools=[WEATHER],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)))
    first = chat.send_message("What is the weather in Paris?")
    assert [(c.name, c.args) for c in first.function_calls] == [
        ("get_weather", {"city": "Paris"})]
    second = chat.send_message(types.Part.from_function_response(
        name="get_weather", response={"temperature": 21}))
    assert second.text == "It is sunny in Paris."
    assert len(chat.get_history()) == 4


def test_chat_stream_and_automatic_function_calling(client: Any) -> None:
    def get_weather(city: str) -> dict[str, Any]:
        """The weather in a city."""
        calls.append(city)
        return {"temperature": 21}

    calls: list[str] = []
    chat = client.chats.create(model=MODEL, config=types.GenerateContentConfig(
        tools=[get_weather]))
    reply = chat.send_message("What is the weather in Paris?")
    assert calls == ["Paris"] and reply.text == "It is sunny in Paris."
    streamed = "".join(c.text or "" for c in client.chats.create(model=MODEL)
                       .send_message_stream("Hi"))
    assert streamed == REPLY


def test_models_list_and_get(client: Any) -> None:
    names = [m.name for m in client.models.list()]
    assert names[:2] == ["models/gemini-2.5-flash", "models/gemini-2.5-pro"]
    assert client.models.get(model=MODEL).display_name == "Gemini 2.5 Flash"


def test_embed_content(client: Any) -> None:
    one = client.models.embed_content(model="text-embedding-004", contents="a cat")
    assert len(one.embeddings) == 1 and len(one.embeddings[0].values) == 768
    many = client.models.embed_content(
        model="gemini-embedding-001", contents=["a cat", "a dog", "a cat"],
        config=types.EmbedContentConfig(output_dimensionality=64))
    vectors = [e.values for e in many.embeddings]
    assert [len(v) for v in vectors] == [64, 64, 64]
    assert vectors[0] == vectors[2] != vectors[1]
    assert abs(sum(x * x for x in vectors[0]) - 1) < 1e-9


def test_rate_limit_is_a_client_error_with_retry_info(client: Any) -> None:
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(
            model=MODEL, contents="Hi",
            config=types.GenerateContentConfig(http_options=types.HttpOptions(
                headers={"X-Mock-Fault": "rate_limit:7"})))
    error = info.value
    assert (error.code, error.status) == (429, "RESOURCE_EXHAUSTED")
    details = error.details["error"]["details"]
    assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"} in details


@pytest.mark.parametrize(("fault", "code", "status"), [("server_error", 500, "INTERNAL"),
                                                       ("overloaded", 503, "UNAVAILABLE")])
def test_server_errors(client: Any, fault: str, code: int, status: str) -> None:
    with pytest.raises(errors.ServerError) as info:
        client.models.generate_content(
            model=MODEL, contents="Hi",
            config=types.GenerateContentConfig(http_options=types.HttpOptions(
                headers={"X-Mock-Fault": fault})))
    assert (info.value.code, info.value.status) == (code, status)


def test_in_band_error_mid_stream(client: Any) -> None:
    seen: list[str] = []
    config = types.GenerateContentConfig(http_options=types.HttpOptions(
        headers={"X-Mock-Fault": "error_after:3"}))
    with pytest.raises(errors.ServerError) as info:
        for chunk in client.models.generate_content_stream(model=MODEL, contents="Hi",
                                                           config=config):
            seen.append(chunk.text)
    assert seen == ["Hello,", " this", " is"]
    assert (info.value.code, info.value.status) == (500, "INTERNAL")


def test_bad_request_is_a_client_error(client: Any) -> None:
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model=MODEL, contents=[types.Content(
            role="robot", parts=[types.Part(text="Hi")])])
    assert (info.value.code, info.value.status) == (400, "INVALID_ARGUMENT")
    assert info.value.message == "Please use a valid role: user, model."


def test_heartbeats_do_not_break_the_sdk(base: str) -> None:
    """A stall long enough for heartbeats: google-genai reads non-`data:` lines as raw JSON, so
    they must be empty lines, not SSE comments (§8.4)."""
    with serve(create_app(delay=0, heartbeat=0.05), "werkzeug") as url:
        client = genai.Client(api_key="x", http_options={"base_url": url + "/mock"})
        config = types.GenerateContentConfig(http_options=types.HttpOptions(
            headers={"X-Mock-Fault": "stall_after:2:0.3"}))
        text = "".join(c.text for c in client.models.generate_content_stream(
            model=MODEL, contents="Hi", config=config))
    assert text == REPLY
