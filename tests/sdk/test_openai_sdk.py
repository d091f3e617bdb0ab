"""The official ``openai`` SDK against the mock (PROTOCOLS.md §2, §3, §5.2).

Most tests run twice: over a real socket (werkzeug's threaded server) and in-process through
``httpx.WSGITransport``, which streams the WSGI iterable lazily. Bad input must come back as
the SDK's typed exception (a 4xx in OpenAI's error shape, §2.6), never as a 5xx or a hang.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from conftest import serve, validated
from openai import OpenAI
from werkzeug.test import Client

from sse_mock import create_app
from sse_mock._parser import parse
from sse_mock.tokens import tokenize

REPLY = "Hello, this is a mocked chatbot. How can I help you?"
MODEL = "gpt-4o-mini"
HI = [{"role": "user", "content": "Hi there"}]

WEATHER_RULES: list[dict[str, Any]] = [
    # The tool result first: the second request of the agent loop ends it.
    {"match": {"has_tool_result": True}, "reply": "It is sunny in Paris."},
    {"match": {"contains": "weather"},
     "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
]
WEATHER_Q = [{"role": "user", "content": "What is the weather in Paris?"}]
CHAT_TOOL = {"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object",
                                          "properties": {"city": {"type": "string"}}}}}
CALL_ID = re.compile(r"call_[A-Za-z0-9]{24}")

TRANSPORTS = ("socket", "wsgi")


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve(create_app(delay=0), "werkzeug") as base:
        yield base


@pytest.fixture(scope="module")
def weather_url() -> Iterator[str]:
    with serve(create_app(delay=0, rules=WEATHER_RULES), "werkzeug") as base:
        yield base


def make_client(base: str, **kw: Any) -> OpenAI:
    kw.setdefault("api_key", "x")
    return OpenAI(base_url=base + "/mock/v1", max_retries=0, timeout=10, **kw)


def in_process(app: Any) -> OpenAI:
    http = httpx.Client(transport=httpx.WSGITransport(app=app))
    return OpenAI(base_url="http://testserver/mock/v1", api_key="x", max_retries=0, timeout=10,
                  http_client=http)


@pytest.fixture(params=TRANSPORTS)
def client(request: pytest.FixtureRequest) -> Iterator[OpenAI]:
    if request.param == "socket":
        c = make_client(request.getfixturevalue("url"))
    else:
        c = in_process(create_app(delay=0))
    with c:
        yield c


@pytest.fixture(params=TRANSPORTS)
def weather(request: pytest.FixtureRequest) -> Iterator[OpenAI]:
    if request.param == "socket":
        c = make_client(request.getfixturevalue("weather_url"))
    else:
        c = in_process(create_app(delay=0, rules=WEATHER_RULES))
    with c:
        yield c


def reply_header(text: str) -> dict[str, str]:
    return {"X-Mock-Reply": urllib.parse.quote(text)}


# -- Chat Completions, streamed (§2.4, §2.5) --------------------------------------------------


def test_chat_stream_default_reply(client: OpenAI) -> None:
    with client.chat.completions.create(model=MODEL, messages=HI, stream=True) as stream:
        chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == REPLY
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len(chunks) == len(tokenize(REPLY)) + 2
    assert len({c.id for c in chunks}) == 1 and re.fullmatch(r"chatcmpl-\w{29}", chunks[0].id)
    assert {c.model for c in chunks} == {MODEL}
    assert all(c.usage is None for c in chunks)


@pytest.mark.parametrize("text", ["  Grüße, 世界! 😀 \t", " line one\nline two\r\n ", "x"])
def test_chat_stream_per_request_reply(client: OpenAI, text: str) -> None:
    with client.chat.completions.create(model=MODEL, messages=HI, stream=True,
                                        extra_headers=reply_header(text)) as stream:
        got = "".join(c.choices[0].delta.content or "" for c in stream)
    assert got == text


def test_chat_stream_include_usage(client: OpenAI) -> None:
    with client.chat.completions.create(model=MODEL, messages=HI, stream=True,
                                        stream_options={"include_usage": True}) as stream:
        chunks = list(stream)
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    n = len(tokenize(REPLY))
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (
        2, n, 2 + n)
    assert last.usage.completion_tokens_details is not None
    assert last.usage.completion_tokens_details.reasoning_tokens == 0
    assert last.usage.prompt_tokens_details is not None
    assert last.usage.prompt_tokens_details.cached_tokens == 0
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-2].choices[0].finish_reason == "stop"


def test_chat_not_streamed(client: OpenAI) -> None:
    done = client.chat.completions.create(model=MODEL, messages=HI)
    assert done.object == "chat.completion"
    assert done.choices[0].message.content == REPLY
    assert done.choices[0].message.role == "assistant"
    assert done.choices[0].finish_reason == "stop"
    assert done.service_tier == "default"
    assert done.usage is not None and done.usage.completion_tokens == len(tokenize(REPLY))
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
    assert re.fullmatch(r"fp_[0-9a-f]{10}", done.system_fingerprint or "")


def test_chat_stream_helper(client: OpenAI) -> None:
    with client.chat.completions.stream(model=MODEL, messages=HI,
                                        stream_options={"include_usage": True}) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_completion()
    # The role chunk's `"content":""` is a delta too (§2.5: 3 for 2 tokens).
    assert kinds.count("content.delta") == len(tokenize(REPLY)) + 1
    assert "content.done" in kinds
    message = final.choices[0].message
    assert (message.role, message.content) == ("assistant", REPLY)
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None and final.usage.completion_tokens == len(tokenize(REPLY))


def test_chat_n_choices(client: OpenAI) -> None:
    with client.chat.completions.create(model=MODEL, messages=HI, stream=True, n=2) as stream:
        texts = {0: "", 1: ""}
        finishes = {}
        for c in stream:
            for choice in c.choices:
                texts[choice.index] += choice.delta.content or ""
                if choice.finish_reason:
                    finishes[choice.index] = choice.finish_reason
    assert texts == {0: REPLY, 1: REPLY} and finishes == {0: "stop", 1: "stop"}
    with client.chat.completions.stream(model=MODEL, messages=HI, n=2) as helper:
        final = helper.get_final_completion()
    assert [c.message.content for c in final.choices] == [REPLY, REPLY]
    done = client.chat.completions.create(model=MODEL, messages=HI, n=2)
    assert [(c.index, c.message.content) for c in done.choices] == [(0, REPLY), (1, REPLY)]


def test_chat_max_tokens(client: OpenAI) -> None:
    with client.chat.completions.create(model=MODEL, messages=HI, stream=True,
                                        max_tokens=3) as stream:
        chunks = list(stream)
    contents = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert contents == tokenize(REPLY)[:3]
    assert chunks[-1].choices[0].finish_reason == "length"
    done = client.chat.completions.create(model=MODEL, messages=HI, max_completion_tokens=3)
    assert done.choices[0].message.content == "".join(tokenize(REPLY)[:3])
    assert done.choices[0].finish_reason == "length"
    assert done.usage is not None and done.usage.completion_tokens == 3


def test_chat_stop_sequences(client: OpenAI) -> None:
    with client.chat.completions.stream(model=MODEL, messages=HI,
                                        stop=["chatbot", "zzz"]) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "Hello, this is a mocked "
    assert final.choices[0].finish_reason == "stop"
    done = client.chat.completions.create(model=MODEL, messages=HI, stop="this")
    assert done.choices[0].message.content == "Hello, "


# -- tool calls (§2.4 R6/R7, §2.7) ------------------------------------------------------------


def test_chat_tool_call_stream_helper(weather: OpenAI) -> None:
    with weather.chat.completions.stream(model=MODEL, messages=WEATHER_Q,
                                         tools=[CHAT_TOOL]) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_completion()
    assert "tool_calls.function.arguments.done" in kinds
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    call = calls[0]
    assert CALL_ID.fullmatch(call.id) and call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}


def test_chat_tool_call_raw_chunks_and_not_streamed(weather: OpenAI) -> None:
    with weather.chat.completions.create(model=MODEL, messages=WEATHER_Q, stream=True,
                                         tools=[CHAT_TOOL]) as stream:
        chunks = list(stream)
    deltas = [c.choices[0].delta for c in chunks]
    assert deltas[0].role == "assistant" and deltas[0].content is None
    parts = [tc for d in deltas for tc in d.tool_calls or []]
    assert parts[0].id and all(p.id is None for p in parts[1:])
    assert json.loads("".join(p.function.arguments or "" for p in parts if p.function)) == {
        "city": "Paris"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    done = weather.chat.completions.create(model=MODEL, messages=WEATHER_Q, tools=[CHAT_TOOL])
    calls = done.choices[0].message.tool_calls
    assert done.choices[0].finish_reason == "tool_calls" and calls is not None
    assert done.choices[0].message.content is None
    assert calls[0].function.name == "get_weather" and CALL_ID.fullmatch(calls[0].id)


def test_chat_agent_loop(weather: OpenAI) -> None:
    """Tool call, tool result, final answer: the request with a tool result matches its rule."""
    first = weather.chat.completions.create(model=MODEL, messages=WEATHER_Q, tools=[CHAT_TOOL])
    calls = first.choices[0].message.tool_calls
    assert calls is not None
    messages: list[Any] = [*WEATHER_Q, first.choices[0].message.model_dump(exclude_none=True),
                           {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny"}]
    with weather.chat.completions.stream(model=MODEL, messages=messages,
                                         tools=[CHAT_TOOL]) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "It is sunny in Paris."


# -- legacy Completions (§2.8) ----------------------------------------------------------------


def test_completions(client: OpenAI) -> None:
    with client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hi",
                                   stream=True, max_tokens=100,
                                   stream_options={"include_usage": True}) as stream:
        chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == REPLY
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert all(c.object == "text_completion" for c in chunks)
    done = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hi")
    assert done.choices[0].text == REPLY and done.choices[0].finish_reason == "stop"
    assert re.fullmatch(r"cmpl-\w{29}", done.id)
    assert done.usage is not None and done.usage.prompt_tokens == 2


def test_completions_default_max_tokens_and_echo(client: OpenAI) -> None:
    long = " ".join(["word"] * 30)
    done = client.completions.create(model="m", prompt="P:", echo=True,
                                     extra_headers=reply_header(long))
    assert done.choices[0].finish_reason == "length"
    assert done.choices[0].text == "P:" + "".join(tokenize(long)[:16])


# -- Responses API (§3) -------------------------------------------------------------------------


def test_responses_stream_events(client: OpenAI) -> None:
    with client.responses.create(model=MODEL, input="Hi there", stream=True) as stream:
        events = list(stream)
    n = len(tokenize(REPLY))
    assert [e.type for e in events] == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.content_part.added", *["response.output_text.delta"] * n,
        "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    last = events[-1]
    assert last.type == "response.completed"
    assert last.response.status == "completed" and last.response.output_text == REPLY
    assert last.response.usage is not None and last.response.usage.output_tokens == n
    assert re.fullmatch(r"resp_[0-9a-f]{48}", last.response.id)


def test_responses_stream_helper(client: OpenAI) -> None:
    text = " Ünïcode 🙂 reply "
    with client.responses.stream(model=MODEL, input="Hi", instructions="Be brief.",
                                 extra_headers=reply_header(text)) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert final.output_text == text
    assert final.instructions == "Be brief." and final.status == "completed"


def test_responses_not_streamed(client: OpenAI) -> None:
    done = client.responses.create(model=MODEL, input=[{"role": "user", "content": "Hi"}])
    assert done.output_text == REPLY and done.status == "completed"
    assert done.usage is not None and done.usage.total_tokens == 1 + len(tokenize(REPLY))


def test_responses_incomplete(client: OpenAI) -> None:
    long = " ".join(["word"] * 30)
    with client.responses.create(model=MODEL, input="Hi", stream=True, max_output_tokens=16,
                                 extra_headers=reply_header(long)) as stream:
        events = list(stream)
    last = events[-1]
    assert last.type == "response.incomplete"
    assert last.response.incomplete_details is not None
    assert last.response.incomplete_details.reason == "max_output_tokens"
    assert last.response.output_text == "".join(tokenize(long)[:16])


def test_responses_function_calls(weather: OpenAI) -> None:
    tool: Any = {"type": "function", "name": "get_weather", "parameters": None, "strict": False}
    with weather.responses.stream(model=MODEL, input="What is the weather?",
                                  tools=[tool]) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    assert "response.function_call_arguments.delta" in kinds
    assert "response.function_call_arguments.done" in kinds
    item = final.output[0]
    assert item.type == "function_call"
    assert item.name == "get_weather" and CALL_ID.fullmatch(item.call_id)
    assert json.loads(item.arguments) == {"city": "Paris"}
    # The loop's second turn: the function's output makes the tool-result rule match.
    second = weather.responses.create(model=MODEL, tools=[tool], input=[
        {"role": "user", "content": "What is the weather?"},
        {"type": "function_call", "call_id": item.call_id, "name": item.name,
         "arguments": item.arguments},
        {"type": "function_call_output", "call_id": item.call_id, "output": "sunny"}])
    assert second.output_text == "It is sunny in Paris."


# -- Models (§2.9) ------------------------------------------------------------------------------


def test_models(client: OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert MODEL in ids
    model = client.models.retrieve(MODEL)
    assert (model.id, model.object) == (MODEL, "model")
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("no-such-model")
    assert info.value.code == "model_not_found"
    assert "`no-such-model` does not exist" in info.value.message


# -- errors: typed exceptions, never 5xx (§2.6) -------------------------------------------------


def test_bad_request_missing_model(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.post("/chat/completions", body={"messages": HI}, cast_to=httpx.Response)
    err = info.value
    assert err.status_code == 400 and err.param == "model"
    assert "you must provide a model parameter" in err.message
    assert err.body == {"message": "you must provide a model parameter",
                        "type": "invalid_request_error", "param": "model", "code": None}
    assert err.request_id and err.request_id.startswith("req_")


@pytest.mark.parametrize(("call", "param", "code"), [
    (lambda c: c.chat.completions.create(model=MODEL, messages=[]), "messages", "empty_array"),
    (lambda c: c.chat.completions.create(model=MODEL, messages=[{"role": "bot",
                                                                 "content": "x"}]),
     "messages[0].role", "invalid_value"),
    (lambda c: c.chat.completions.create(model=MODEL, messages=HI, n=0), "n",
     "integer_below_min_value"),
    (lambda c: c.chat.completions.create(model=MODEL, messages=HI,
                                         stream_options={"include_usage": True}),
     "stream_options", None),
    (lambda c: c.chat.completions.create(model=MODEL, messages=HI, stream=True,
                                         stop=["a", "b", "c", "d", "e"]),
     "stop", "array_above_max_length"),
    (lambda c: c.completions.create(model=MODEL, prompt=5), "prompt", "invalid_type"),
    (lambda c: c.responses.create(model=MODEL, input="x", max_output_tokens=5),
     "max_output_tokens", "integer_below_min_value"),
    (lambda c: c.responses.create(model=MODEL, input=[{"role": "user"}], stream=True),
     "input[0].content", "missing_required_parameter"),
], ids=["empty-messages", "role", "n", "stream_options", "stop", "prompt", "max_output",
        "input"])
def test_bad_requests_are_typed(client: OpenAI, call: Any, param: str, code: str | None
                                ) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        call(client)
    assert (info.value.status_code, info.value.param, info.value.code) == (400, param, code)
    assert isinstance(info.value.body, dict) and set(info.value.body) == {
        "message", "type", "param", "code"}


ROUTES = ("/mock/v1/chat/completions", "/mock/v1/completions", "/mock/v1/responses")


def assert_openai_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return dict(body["error"])


@pytest.mark.parametrize("route", ROUTES)
def test_raw_bad_bodies(url: str, route: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as http:
        err = assert_openai_error(http.post(route, content=b"{not json",
                                            headers={"content-type": "application/json"}), 400)
        assert err["type"] == "invalid_request_error"
        assert "could not parse the JSON body" in err["message"]
        err = assert_openai_error(http.post(route, content=b'{"model": "\xff"}',
                                            headers={"content-type": "application/json"}), 400)
        assert "UTF-8" in err["message"]
        err = assert_openai_error(http.post(route, content=b"{}",
                                            headers={"content-type": "text/plain"}), 400)
        assert "Content-Type" in err["message"]
        assert_openai_error(http.post(route, content=b"[1]",
                                      headers={"content-type": "application/json"}), 400)
        assert_openai_error(http.post(route, content=b"",
                                      headers={"content-type": "application/json"}), 400)
        err = assert_openai_error(http.get(route), 405)
        assert err["code"] == "method_not_allowed"


@pytest.mark.parametrize("route", ROUTES)
def test_oversize_body(route: str) -> None:
    with serve(create_app(delay=0, max_body_size=2048), "werkzeug") as base, httpx.Client(
            base_url=base, timeout=10) as http:
        big = json.dumps({"model": MODEL, "input": "x" * 3000, "prompt": "x",
                          "messages": [{"role": "user", "content": "x" * 3000}]})
        err = assert_openai_error(http.post(route, content=big,
                                            headers={"content-type": "application/json"}), 413)
        assert err["code"] == "request_too_large"
        # The SDK sees it as an APIStatusError with the status and our message.
        with make_client(base) as c, pytest.raises(openai.APIStatusError) as info:
            c.chat.completions.create(model=MODEL, messages=[{"role": "user",
                                                              "content": "x" * 3000}])
        assert info.value.status_code == 413 and "too large" in info.value.message


def test_require_api_key() -> None:
    with serve(create_app(delay=0, require_api_key=True), "werkzeug") as base:
        with httpx.Client(base_url=base, timeout=10) as http:
            for route in ROUTES:
                response = http.post(route, json={"model": MODEL, "messages": HI})
                err = assert_openai_error(response, 401)
                assert err["code"] == "invalid_api_key"
        with make_client(base) as c:  # the SDK always sends its key
            assert c.chat.completions.create(model=MODEL, messages=HI).choices
        with make_client(base) as c, pytest.raises(openai.AuthenticationError) as info:
            # The SDK will not go without a key; `omit` drops its Authorization header.
            c.chat.completions.create(model=MODEL, messages=HI,
                                      extra_headers={"Authorization": openai.omit})
        assert info.value.status_code == 401 and "Missing API key" in info.value.message


def test_rate_limit_fault(client: OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model=MODEL, messages=HI, stream=True,
                                       extra_headers={"X-Mock-Fault": "rate_limit:0.01"})
    headers = info.value.response.headers
    assert headers["retry-after"] == "1" and headers["retry-after-ms"] == "10"
    assert info.value.code == "rate_limit_exceeded"
    assert "Rate limit reached" in info.value.message


def test_bad_control_is_a_400(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=HI,
                                       extra_headers={"X-Mock-Fault": "nonsense"})
    assert info.value.param == "fault"


def test_error_after_raises_mid_stream(client: OpenAI) -> None:
    """§2.6: after two content deltas, a data-level error object → openai.APIError."""
    got: list[str] = []
    with pytest.raises(openai.APIError) as info:
        with client.chat.completions.create(model=MODEL, messages=HI, stream=True,
                                            extra_headers={"X-Mock-Fault": "error_after:2"}
                                            ) as stream:
            for chunk in stream:
                got.append(chunk.choices[0].delta.content or "")
    assert not isinstance(info.value, openai.APIStatusError)
    assert "".join(got) == "".join(tokenize(REPLY)[:2])
    assert info.value.type == "server_error"
    assert "mocked by sse_mock" in info.value.message


def test_disconnect_after_drops_the_connection(url: str) -> None:
    """The connection drops mid-stream: the SDK's loop raises a connection error (openai 3.x
    wraps the incomplete chunked read), not a timeout; what came before is intact."""
    got: list[str] = []
    with make_client(url) as c, pytest.raises(openai.APIConnectionError) as info:
        with c.chat.completions.create(model=MODEL, messages=HI, stream=True, extra_headers={
                "X-Mock-Fault": "disconnect_after:3", "X-Mock-Delay": "0.001"}) as stream:
            for chunk in stream:
                got.append(chunk.choices[0].delta.content or "")
    assert not isinstance(info.value, openai.APITimeoutError)
    assert 1 <= len(got) <= 4 and "".join(got) == "".join(tokenize(REPLY)[: len(got) - 1])


@pytest.mark.parametrize("delay", ["0", "0.001"])
def test_disconnect_after_delivers_n_events(url: str, delay: str) -> None:
    got: list[str] = []
    with OpenAI(base_url=url + "/mock/v1", api_key="x", max_retries=0, timeout=2) as c, \
            pytest.raises(openai.APIConnectionError) as info:
        with c.chat.completions.create(model=MODEL, messages=HI, stream=True, extra_headers={
                "X-Mock-Fault": "disconnect_after:2", "X-Mock-Delay": delay}) as stream:
            for chunk in stream:
                got.append(chunk.choices[0].delta.content or "")
    assert not isinstance(info.value, openai.APITimeoutError)
    assert "".join(got) == "".join(tokenize(REPLY)[:2])


def test_error_after_completions_raises(client: OpenAI) -> None:
    with pytest.raises(openai.APIError), client.completions.create(
            model=MODEL, prompt="x", stream=True,
            extra_headers={"X-Mock-Fault": "error_after:1"}) as stream:
        for _ in stream:
            pass


def test_error_after_responses_is_an_error_event(client: OpenAI) -> None:
    """§3.4: the real `event: error`; openai-python yields it and does not raise."""
    with client.responses.create(model=MODEL, input="Hi", stream=True,
                                 extra_headers={"X-Mock-Fault": "error_after:2"}) as stream:
        events = list(stream)
    assert [e.type for e in events][-3:] == ["response.output_text.delta"] * 2 + ["error"]
    error = events[-1]
    assert error.type == "error" and error.code == "server_error"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    with client.responses.stream(model=MODEL, input="Hi",
                                 extra_headers={"X-Mock-Fault": "error_after:2"}) as helper:
        assert [e.type for e in helper][-1] == "error"
        with pytest.raises(RuntimeError, match="response.completed"):
            helper.get_final_response()


# -- the WSGI contract on every OpenAI route (PEP 3333, §5.4) ---------------------------------

BODIES: dict[str, dict[str, Any]] = {
    "/mock/v1/chat/completions": {"model": MODEL, "messages": HI},
    "/mock/v1/completions": {"model": MODEL, "prompt": "Hi"},
    "/mock/v1/responses": {"model": MODEL, "input": "Hi"},
}


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize("route", ROUTES)
def test_wsgi_validate(route: str, stream: bool) -> None:
    app = validated(create_app(delay=0, rules=WEATHER_RULES))
    client = Client(app)
    for content in ("Hi", "What is the weather?"):
        body = dict(BODIES[route], stream=stream)
        if "messages" in body:
            body["messages"] = [{"role": "user", "content": content}]
        else:
            body["prompt" if "prompt" in body else "input"] = content
        response = client.post(route, json=body, buffered=False)
        try:
            data = b"".join(response.iter_encoded())
        finally:
            response.close()
        assert response.status_code == 200
        if stream:
            assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
            assert "Content-Length" not in response.headers
            events = parse(data)
            assert events
            if route == "/mock/v1/responses":
                assert json.loads(events[-1].data)["type"] == "response.completed"
            else:
                assert events[-1].data == "[DONE]"
        else:
            assert response.headers["Content-Type"] == "application/json"
            assert int(response.headers["Content-Length"]) == len(data)
            assert json.loads(data)["model"] == MODEL
    # An error answer goes through the same checks.
    response = client.post(route, json={"stream": stream}, buffered=False)
    try:
        assert response.status_code == 400
        assert json.loads(b"".join(response.iter_encoded()))["error"]["param"] == "model"
    finally:
        response.close()
