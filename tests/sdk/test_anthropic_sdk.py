"""The official ``anthropic`` SDK against the mock over a real socket (PROTOCOLS.md §4, §4.6).

Every request goes through the werkzeug threaded server; bad input must come back as the SDK's
typed exception (a 4xx in Anthropic's error shape, §4.5), never as a 5xx or a hang.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from conftest import serve, validated
from werkzeug.test import Client

from sse_mock import create_app
from sse_mock._parser import parse
from sse_mock.tokens import count_tokens

REPLY = "Hello, this is a mocked chatbot. How can I help you?"
MODEL = "claude-sonnet-4-6"
HI = [{"role": "user", "content": "Hi there"}]

WEATHER_RULES: list[dict[str, Any]] = [
    # The tool result first, so the second request of the loop ends it.
    {"match": {"has_tool_result": True}, "reply": "It is sunny in Paris."},
    {"match": {"contains": "weather"},
     "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
]
WEATHER_TOOL = {"name": "get_weather", "description": "Weather of a city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve(create_app(delay=0), "werkzeug") as base:
        yield base


@pytest.fixture(scope="module")
def weather_url() -> Iterator[str]:
    with serve(create_app(delay=0, rules=WEATHER_RULES), "werkzeug") as base:
        yield base


def make_client(base: str, **kw: Any) -> anthropic.Anthropic:
    kw.setdefault("api_key", "x")
    return anthropic.Anthropic(base_url=base + "/mock", max_retries=0, timeout=10, **kw)


@pytest.fixture
def client(url: str) -> Iterator[anthropic.Anthropic]:
    with make_client(url) as c:
        yield c


def reply_header(text: str) -> dict[str, str]:
    return {"X-Mock-Reply": urllib.parse.quote(text)}


# -- streaming --------------------------------------------------------------------------------


def test_create_stream_event_order(client: anthropic.Anthropic) -> None:
    stream = client.messages.create(model=MODEL, max_tokens=100, messages=HI, stream=True)
    with stream:
        events = list(stream)
    types = [e.type for e in events]
    n = count_tokens(REPLY)
    # §4.3: the ping is dropped by the SDK.
    assert types == ["message_start", "content_block_start", *["content_block_delta"] * n,
                     "content_block_stop", "message_delta", "message_stop"]
    start = events[0]
    assert start.type == "message_start"
    assert re.fullmatch(r"msg_[A-Za-z0-9]{24}", start.message.id)
    assert start.message.model == MODEL
    assert start.message.usage.input_tokens == count_tokens("Hi there")
    text = "".join(e.delta.text for e in events
                   if e.type == "content_block_delta" and e.delta.type == "text_delta")
    assert text == REPLY


def test_stream_helper_final_text_and_usage(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HI,
                                system="Be nice.") as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
        text = stream.get_final_text()
    assert "".join(pieces) == text == REPLY
    assert final.stop_reason == "end_turn" and final.stop_sequence is None
    assert final.usage.input_tokens == count_tokens(["Be nice.", "Hi there"])
    assert final.usage.output_tokens == count_tokens(REPLY)
    assert final.role == "assistant" and final.model == MODEL
    assert re.fullmatch(r"req_[A-Za-z0-9]{24}", stream.response.headers["request-id"])
    assert stream.response.headers["content-type"] == "text/event-stream; charset=utf-8"


@pytest.mark.parametrize("text", ["Bonjour à tous", "  spaced   out  ", "日本語 🎉 emoji",
                                  "line\nbreak \u2028 sep", "100% \"quoted\" + plus"])
def test_per_request_reply(client: anthropic.Anthropic, text: str) -> None:
    with client.messages.stream(model=MODEL, max_tokens=1000, messages=HI,
                                extra_headers=reply_header(text)) as stream:
        assert stream.get_final_text() == text
        assert stream.get_final_message().usage.output_tokens == count_tokens(text)


def test_max_tokens_cuts_the_stream(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model=MODEL, max_tokens=3, messages=HI) as stream:
        final = stream.get_final_message()
        text = stream.get_final_text()
    assert final.stop_reason == "max_tokens"
    assert text == "Hello, this is"
    assert final.usage.output_tokens == 3


def test_stop_sequences(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HI,
                                stop_sequences=["chatbot"]) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "stop_sequence" and final.stop_sequence == "chatbot"
    assert stream.get_final_text() == "Hello, this is a mocked "


# -- not streamed -----------------------------------------------------------------------------


def test_create_not_streamed(client: anthropic.Anthropic) -> None:
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=100, messages=HI)
    assert raw.headers["content-type"] == "application/json"
    message = raw.parse()
    assert isinstance(message, anthropic.types.Message)
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].type == "text" and message.content[0].text == REPLY
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens == 2
    assert message.usage.output_tokens == count_tokens(REPLY)
    assert message.model == MODEL
    assert re.fullmatch(r"msg_[A-Za-z0-9]{24}", message.id)


def test_max_tokens_not_streamed(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model=MODEL, max_tokens=3, messages=HI)
    assert message.stop_reason == "max_tokens"
    assert message.content[0].type == "text" and message.content[0].text == "Hello, this is"


# -- tool use ---------------------------------------------------------------------------------


def test_tool_use_round_trip(weather_url: str) -> None:
    messages: list[Any] = [{"role": "user", "content": "What's the weather in Paris?"}]
    with make_client(weather_url) as client:
        with client.messages.stream(model=MODEL, max_tokens=200, messages=messages,
                                    tools=[WEATHER_TOOL]) as stream:
            first = stream.get_final_message()
        assert first.stop_reason == "tool_use"
        [block] = [b for b in first.content if b.type == "tool_use"]
        assert block.name == "get_weather" and block.input == {"city": "Paris"}
        assert re.fullmatch(r"toolu_[A-Za-z0-9]{24}", block.id)
        assert first.usage.output_tokens > 0

        # The conversation goes on with the tool's result (§4.1 tool_result block).
        messages += [
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block.id,
                                          "content": "sunny, 24 °C"}]},
        ]
        with client.messages.stream(model=MODEL, max_tokens=200, messages=messages,
                                    tools=[WEATHER_TOOL]) as stream:
            second = stream.get_final_message()
        assert second.stop_reason == "end_turn"
        assert stream.get_final_text() == "It is sunny in Paris."

        # Not streamed: the same answer as a Message with a parsed `input`.
        message = client.messages.create(model=MODEL, max_tokens=200, tools=[WEATHER_TOOL],
                                          messages=messages[:1])
        assert message.stop_reason == "tool_use"
        assert [b.type for b in message.content] == ["tool_use"]
        assert message.content[0].type == "tool_use"
        assert message.content[0].input == {"city": "Paris"}


# -- bad input: typed exceptions, never 5xx ---------------------------------------------------


def test_missing_max_tokens(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model=MODEL, messages=HI, max_tokens=anthropic.omit)
    err = info.value
    assert err.status_code == 400
    assert err.body == {"type": "error", "error": {"type": "invalid_request_error",
                                                   "message": "max_tokens: Field required"},
                        "request_id": err.request_id}
    assert re.fullmatch(r"req_[A-Za-z0-9]{24}", err.request_id or "")


@pytest.mark.parametrize(("kw", "message"), [
    ({"max_tokens": 0}, "max_tokens: Input should be greater than or equal to 1"),
    ({"messages": []}, "messages: at least one message is required"),
    ({"messages": [{"role": "robot", "content": "x"}]},
     "messages.0.role: Input should be 'user' or 'assistant'"),
])
def test_bad_requests_through_the_sdk(client: anthropic.Anthropic, kw: dict[str, Any],
                                      message: str) -> None:
    args: dict[str, Any] = {"model": MODEL, "max_tokens": 10, "messages": HI, **kw}
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(**args)
    assert info.value.body["error"]["message"] == message  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError):
        with client.messages.stream(**args) as stream:
            stream.get_final_message()


def anthropic_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """Assert the §4.5 shape; return the inner error object."""
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"type", "error", "request_id"}
    assert body["type"] == "error"
    assert set(body["error"]) == {"type", "message"}
    assert body["request_id"] == response.headers["request-id"]
    inner: dict[str, Any] = body["error"]
    return inner


@pytest.mark.parametrize(("content", "ctype", "status", "etype", "words"), [
    (b'{"model": "x", ', "application/json", 400, "invalid_request_error", "parse the JSON"),
    (b"model=x", "application/x-www-form-urlencoded", 400, "invalid_request_error",
     "Content-Type"),
    (b'{"model": "\xff\xfe"}', "application/json", 400, "invalid_request_error", "UTF-8"),
    (b"[1, 2]", "application/json", 400, "invalid_request_error", "JSON object"),
    (b"", "application/json", 400, "invalid_request_error", "empty"),
])
def test_raw_bad_bodies(url: str, content: bytes, ctype: str, status: int, etype: str,
                        words: str) -> None:
    r = httpx.post(url + "/mock/v1/messages", content=content,
                   headers={"content-type": ctype, "x-api-key": "x",
                            "anthropic-version": "2023-06-01"})
    error = anthropic_error(r, status)
    assert error["type"] == etype and words in error["message"]
    assert r.headers["anthropic-version"] == "2023-06-01"


def test_oversize_body() -> None:
    with serve(create_app(delay=0, max_body_size=2048), "werkzeug") as base:
        big = {"model": MODEL, "max_tokens": 5,
               "messages": [{"role": "user", "content": "x" * 5000}]}
        r = httpx.post(base + "/mock/v1/messages", json=big)
        assert anthropic_error(r, 413)["type"] == "request_too_large"
        with make_client(base) as client, pytest.raises(anthropic.APIStatusError) as info:
            client.messages.create(**big)
        assert info.value.status_code == 413
        # anthropic 2.14: ContentTooLargeError (RequestTooLargeError is its alias, §4.5).
        assert isinstance(info.value, anthropic.ContentTooLargeError)
        assert info.value.type == "request_too_large"


def test_require_api_key() -> None:
    with serve(create_app(delay=0, require_api_key=True), "werkzeug") as base:
        r = httpx.post(base + "/mock/v1/messages",
                       json={"model": MODEL, "max_tokens": 5, "messages": HI})
        assert anthropic_error(r, 401)["type"] == "authentication_error"
        # The SDK refuses to send without a key, unless the header is explicitly omitted.
        omitted = {"X-Api-Key": anthropic.Omit(), "Authorization": anthropic.Omit()}
        no_key = make_client(base, api_key=None, default_headers=omitted)
        with no_key, pytest.raises(anthropic.AuthenticationError) as info:
            no_key.messages.create(model=MODEL, max_tokens=5, messages=HI)
        assert info.value.status_code == 401 and info.value.type == "authentication_error"
        with make_client(base) as ok:
            assert ok.messages.create(model=MODEL, max_tokens=50, messages=HI).content


# -- faults (§4.5, §4.6) ----------------------------------------------------------------------


def test_rate_limit(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.RateLimitError) as info:
        client.messages.create(model=MODEL, max_tokens=10, messages=HI,
                               extra_headers={"X-Mock-Fault": "rate_limit:0.01"})
    err = info.value
    assert err.status_code == 429 and err.type == "rate_limit_error"
    assert err.response.headers["retry-after"] == "1"
    assert err.response.headers["retry-after-ms"] == "10"
    assert err.request_id == err.response.headers["request-id"]


def test_rate_limit_retried_then_served(url: str) -> None:
    """`*2` fails twice; the SDK's two default retries (honouring retry-after-ms) succeed."""
    with anthropic.Anthropic(base_url=url + "/mock", api_key="x", max_retries=2,
                             timeout=10) as client:
        start = time.monotonic()
        with client.messages.stream(model=MODEL, max_tokens=100, messages=HI,
                                    extra_headers={"X-Mock-Fault": "rate_limit:0.01*2"}) as s:
            assert s.get_final_text() == REPLY
        assert time.monotonic() - start < 5


def test_overloaded(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.OverloadedError) as info:
        with client.messages.stream(model=MODEL, max_tokens=10, messages=HI,
                                    extra_headers={"X-Mock-Fault": "overloaded"}) as stream:
            stream.get_final_text()
    assert info.value.status_code == 529 and info.value.type == "overloaded_error"
    assert info.value.body == {"type": "error", "error": {
        "type": "overloaded_error", "message": "Overloaded"}, "request_id": info.value.request_id}


def test_unauthorized_fault(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.AuthenticationError):
        client.messages.create(model=MODEL, max_tokens=10, messages=HI,
                               extra_headers={"X-Mock-Fault": "unauthorized"})


def test_error_after_mid_stream(client: anthropic.Anthropic) -> None:
    got: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as info:
        with client.messages.stream(model=MODEL, max_tokens=100, messages=HI,
                                    extra_headers={"X-Mock-Fault": "error_after:2"}) as stream:
            for text in stream.text_stream:
                got.append(text)
    err = info.value
    # §4.6: a plain APIStatusError with the stream's 200 status, typed by error.type.
    assert type(err) is anthropic.APIStatusError
    assert err.status_code == 200 and err.type == "api_error"
    assert err.body == {"type": "error", "error": {"type": "api_error", "message": (
        "The server had an error while processing your request (mocked by sse_mock).")}}
    assert "".join(got) == "Hello, this"


def test_error_after_with_create(client: anthropic.Anthropic) -> None:
    stream = client.messages.create(model=MODEL, max_tokens=100, messages=HI, stream=True,
                                    extra_headers={"X-Mock-Fault": "error_after:0"})
    seen = []
    with stream, pytest.raises(anthropic.APIStatusError) as info:
        for event in stream:
            seen.append(event.type)
    assert seen == ["message_start", "content_block_start"]
    assert info.value.status_code == 200 and info.value.type == "api_error"


# -- WSGI compliance (PEP 3333 via wsgiref.validate; no hop-by-hop headers, §5.4) -------------


@pytest.mark.parametrize("stream", [True, False])
def test_wsgi_validate(stream: bool) -> None:
    app = create_app(delay=0)
    client = Client(validated(app))
    body = {"model": MODEL, "max_tokens": 100, "messages": HI, "stream": stream}
    response = client.post("/mock/v1/messages", json=body, buffered=False,
                           headers={"x-api-key": "x", "anthropic-version": "2023-06-01"})
    try:
        data = b"".join(response.response)
    finally:
        response.close()
    assert response.status_code == 200
    if stream:
        assert "Content-Length" not in response.headers  # §5.3
        assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        events = parse(data)
        assert [e.type for e in events][0] == "message_start"
        assert [e.type for e in events][-1] == "message_stop"
    else:
        assert json.loads(data)["content"][0]["text"] == REPLY
    assert app.journal.entries()[-1].outcome == "completed"


def test_wsgi_validate_errors_and_faults() -> None:
    app = create_app(delay=0)
    client = Client(validated(app))
    for headers, body, status in [
        ({}, {"model": MODEL, "messages": HI}, 400),
        ({"X-Mock-Fault": "overloaded"}, {"model": MODEL, "max_tokens": 5, "messages": HI}, 529),
        ({"X-Mock-Fault": "error_after:1"},
         {"model": MODEL, "max_tokens": 5, "messages": HI, "stream": True}, 200),
    ]:
        response = client.post("/mock/v1/messages", json=body, headers=headers, buffered=False)
        try:
            data = b"".join(response.response)
        finally:
            response.close()
        assert response.status_code == status
        if status == 200:
            assert parse(data)[-1].type == "error"
        else:
            assert json.loads(data)["type"] == "error"
