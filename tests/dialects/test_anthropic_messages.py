"""The Anthropic Messages dialect, pure: a Reply in, bytes out, parsed back (PROTOCOLS.md §4)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sse_mock._parser import Event, parse
from sse_mock.dialects import DIALECTS
from sse_mock.dialects.anthropic_messages import (
    FRAGMENT,
    PING,
    AnthropicMessagesDialect,
    fragments,
)
from sse_mock.dialects.base import Message, MockError, Reply, StreamContext, ToolCall, Usage
from sse_mock.dialects.shapes import AnthropicShape
from sse_mock.formatter import SSEFormatter
from sse_mock.tokens import tokenize

D = AnthropicMessagesDialect()
MODEL = "claude-3-opus-latest"


def body(**extra: Any) -> dict[str, Any]:
    b: dict[str, Any] = {"model": MODEL, "max_tokens": 100,
                         "messages": [{"role": "user", "content": "Hi there you"}]}
    b.update(extra)
    return b


def ctx() -> StreamContext:
    return StreamContext(id="msg_4QpJur2dWWDjF6C758FbBw5v", created=0, model=MODEL)


def raw(reply: Reply, **extra: Any) -> bytes:
    prompt = D.parse(body(stream=True, **extra))
    return b"".join(f.data for f in D.stream(reply, prompt, ctx()))


def events(reply: Reply, **extra: Any) -> list[tuple[str, Any]]:
    return [(e.type, json.loads(e.data)) for e in parse(raw(reply, **extra))]


def test_registered() -> None:
    mine = [d for d in DIALECTS if d.name == "anthropic-messages"]
    assert len(mine) == 1
    assert mine[0].path == "/v1/messages" and mine[0].family == "anthropic"


# -- the stream -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "Hello there!", "Hello, hello, world! Hello again."])
def test_a_short_text_stream_is_steady_and_the_same_frames_as_a_long_ones(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    # Divergence #5: a short text answer is a Steady stream (the pacer sends it from its
    # bytes); past EAGER_PIECES tokens the frames come from a generator. Same frames either way.
    from sse_mock.dialects import openai_chunks
    from sse_mock.dialects.base import Steady

    prompt = D.parse(body(stream=True, stop_sequences=["again"]))
    reply = Reply(text, finish="stop_sequence" if "again" in text else None)
    steady = D.stream(reply, prompt, ctx())
    assert isinstance(steady, Steady)
    monkeypatch.setattr(openai_chunks, "EAGER_PIECES", 0)
    frames = D.stream(reply, prompt, ctx())
    assert not isinstance(frames, Steady) or not text  # no token is not more than 0
    assert [(f.data, f.token, f.paced, f.pause) for f in steady] == [
        (f.data, f.token, f.paced, f.pause) for f in frames]
    assert sum(f.token for f in steady) == len(tokenize(text))


def test_text_stream_exact() -> None:
    """The recorded example of §4.3, with the mock's token split and counts."""
    got = events(Reply("Hello there!"))
    assert got == [
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_4QpJur2dWWDjF6C758FbBw5v", "type": "message", "role": "assistant",
            "content": [], "model": MODEL, "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": "Hello"}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": " there!"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": 2}}),
        ("message_stop", {"type": "message_stop"}),
    ]


def test_text_stream_bytes_exact() -> None:
    """LF only, compact JSON, the ping with its recorded space, no id/retry/[DONE] (§4.3)."""
    assert raw(Reply("Hi")) == (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":'
        b'"msg_4QpJur2dWWDjF6C758FbBw5v","type":"message","role":"assistant","content":[],'
        b'"model":"claude-3-opus-latest","stop_reason":null,"stop_sequence":null,'
        b'"usage":{"input_tokens":3,"output_tokens":1}}}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"text","text":""}}\n\n'
        b'event: ping\ndata: {"type": "ping"}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"Hi"}}\n\n'
        b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":'
        b'"end_turn","stop_sequence":null},"usage":{"output_tokens":1}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )


@pytest.mark.parametrize("text", ["", "a", "Hello there!", "é \u2028 \U0001f600 \"q\" \\ \n x",
                                  " lead", "trail ", "\x00\x1f"])
def test_every_event_named_by_its_type(text: str) -> None:
    """§4.6: an `event:` line on every event, the same `type` in its JSON; no ids."""
    data = raw(Reply(text, tool_calls=(ToolCall("f", '{"a": [1, 2]}'),)))
    assert b"[DONE]" not in data and b"\nid:" not in data and b"\r" not in data
    assert data.isascii()  # ensure_ascii: no raw U+2028 or U+0085 in a data line (§1.8 F-13)
    evs = parse(data)
    for e in evs:
        assert e.type == json.loads(e.data)["type"]
        assert e.id == "" and e.retry is None
        assert "\n" not in e.data  # one data line per event
    # Every event is whole and the frames split nowhere else: the raw text has exactly one
    # empty line per event.
    assert data.count(b"\n\n") == len(evs)


def test_frames_are_whole_events_and_tokens_are_marked() -> None:
    prompt = D.parse(body(stream=True))
    reply = Reply("one two three", tool_calls=(ToolCall("f", '{"city":"Paris, France"}'),))
    frames = list(D.stream(reply, prompt, ctx()))
    for f in frames:
        assert f.data.endswith(b"\n\n") and f.data.startswith(b"event: ")
    tokens = [f for f in frames if f.token]
    for f in tokens:
        assert len(parse(f.data)) == 1 and parse(f.data)[0].type == "content_block_delta"
    # Divergence #3: output_tokens == number of content deltas (the empty fragment excluded).
    delta = json.loads(parse(frames[-1].data)[0].data)
    assert delta["usage"]["output_tokens"] == len(tokens) == 3 + len(fragments(
        reply.tool_calls[0].arguments))


def test_prerendered_delta_matches_formatter() -> None:
    """The hot-path bytes are exactly what SSEFormatter would write for the same JSON."""
    fmt = SSEFormatter()
    for token in tokenize("Hello, wörld \u2028 \"x\" \\n \U0001f600"):
        obj = {"type": "content_block_delta", "index": 0,
               "delta": {"type": "text_delta", "text": token}}
        data = raw(Reply(token))
        expected = fmt.format(json.dumps(obj, separators=(",", ":")), event="content_block_delta")
        assert expected in data


@given(st.text())
def test_text_round_trips(text: str) -> None:
    """Whatever the text (control characters, surrogates aside), the deltas join back to it."""
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        return
    prompt = D.parse(body(stream=True))
    data = b"".join(f.data for f in D.stream(Reply(text), prompt, ctx()))
    evs = parse(data)
    joined = "".join(json.loads(e.data)["delta"]["text"] for e in evs
                     if e.type == "content_block_delta")
    assert joined == text
    assert [e.type for e in evs][-2:] == ["message_delta", "message_stop"]


def test_tool_use_stream() -> None:
    args = json.dumps({"city": "Paris", "unit": "celsius"})
    got = events(Reply("Let me check.", tool_calls=(ToolCall("get_weather", args),)))
    types = [t for t, _ in got]
    assert types[:3] == ["message_start", "content_block_start", "ping"]
    assert types.count("ping") == 1
    start = next(o for t, o in got if t == "content_block_start" and o["index"] == 1)
    block = start["content_block"]
    assert block["type"] == "tool_use" and block["name"] == "get_weather"
    assert block["input"] == {}
    assert re.fullmatch(r"toolu_[A-Za-z0-9]{24}", block["id"])
    parts = [o["delta"]["partial_json"] for t, o in got
             if t == "content_block_delta" and o["index"] == 1]
    assert parts[0] == ""  # §4.3: the first fragment is ""
    assert all(0 < len(p) <= FRAGMENT for p in parts[1:])
    assert json.loads("".join(parts)) == {"city": "Paris", "unit": "celsius"}
    assert all(o["delta"]["type"] == "input_json_delta" for t, o in got
               if t == "content_block_delta" and o["index"] == 1)
    stops = [o["index"] for t, o in got if t == "content_block_stop"]
    assert stops == [0, 1]
    delta = got[-2][1]
    assert delta["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] == 3 + len(fragments(args))


def test_tool_only_stream_starts_at_index_0_with_ping_and_given_id() -> None:
    got = events(Reply(tool_calls=(ToolCall("a", '{"x":1}', id="toolu_given"),
                                   ToolCall("b", "{}"))))
    types = [t for t, _ in got]
    assert types == ["message_start",
                     "content_block_start", "ping", "content_block_delta", "content_block_delta",
                     "content_block_stop",
                     "content_block_start", "content_block_delta", "content_block_delta",
                     "content_block_stop",
                     "message_delta", "message_stop"]
    starts = [o for t, o in got if t == "content_block_start"]
    assert [s["index"] for s in starts] == [0, 1]
    assert starts[0]["content_block"]["id"] == "toolu_given"
    assert starts[1]["content_block"]["id"] != "toolu_given"


def test_empty_reply_has_an_empty_text_block() -> None:
    """Divergence #2: get_final_text() then returns "" rather than raising."""
    got = events(Reply(""))
    assert [t for t, _ in got] == ["message_start", "content_block_start", "ping",
                                   "content_block_stop", "message_delta", "message_stop"]
    assert got[-2][1]["usage"] == {"output_tokens": 0}


@pytest.mark.parametrize(("finish", "reason"), [
    (None, "end_turn"), ("stop", "end_turn"), ("length", "max_tokens"),
    ("tool_calls", "tool_use"), ("content_filter", "refusal"),
    ("stop_sequence", "stop_sequence"),
])
def test_finish_mapping(finish: str | None, reason: str) -> None:
    reply = Reply("a b", finish=finish)
    assert events(reply)[-2][1]["delta"]["stop_reason"] == reason
    prompt = D.parse(body())
    assert D.complete(reply, prompt, ctx())["stop_reason"] == reason


def test_stop_sequence_names_the_first_stop() -> None:
    """Divergence #1."""
    reply = Reply("a b", finish="stop_sequence")
    got = events(reply, stop_sequences=["", "END", "STOP"])
    assert got[-2][1]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}
    prompt = D.parse(body(stop_sequences=["END"]))
    assert D.complete(reply, prompt, ctx())["stop_sequence"] == "END"
    assert events(reply)[-2][1]["delta"]["stop_sequence"] is None  # no stop_sequences given


def test_usage_counts_and_overrides() -> None:
    extra = {"system": "Be brief.", "messages": [
        {"role": "user", "content": "one two"},
        {"role": "assistant", "content": [{"type": "text", "text": "three"}]},
        {"role": "user", "content": [{"type": "text", "text": "four five six"}]}]}
    got = events(Reply("x y"), **extra)
    assert got[0][1]["message"]["usage"] == {"input_tokens": 8, "output_tokens": 1}
    assert got[-2][1]["usage"] == {"output_tokens": 2}
    # A field of -1 is "not overridden".
    got = events(Reply("x y", usage=Usage(40, -1)), **extra)
    assert got[0][1]["message"]["usage"]["input_tokens"] == 40
    assert got[-2][1]["usage"] == {"output_tokens": 2}
    got = events(Reply("x y", usage=Usage(-1, 99)), **extra)
    assert got[0][1]["message"]["usage"]["input_tokens"] == 8
    assert got[-2][1]["usage"] == {"output_tokens": 99}


# -- non-streaming ----------------------------------------------------------------------------


def test_complete_exact() -> None:
    prompt = D.parse(body())
    assert D.complete(Reply("Hello there!"), prompt, ctx()) == {
        "id": "msg_4QpJur2dWWDjF6C758FbBw5v", "type": "message", "role": "assistant",
        "model": MODEL, "content": [{"type": "text", "text": "Hello there!"}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 2}}


def test_complete_with_tools() -> None:
    prompt = D.parse(body())
    reply = Reply("Checking.", tool_calls=(ToolCall("get_weather", '{"city": "Paris"}'),
                                           ToolCall("noop", "not json", id="toolu_x")))
    msg = D.complete(reply, prompt, ctx())
    assert msg["content"][0] == {"type": "text", "text": "Checking."}
    first = msg["content"][1]
    assert set(first) == {"type", "id", "name", "input"}
    assert first["type"] == "tool_use" and first["name"] == "get_weather"
    assert first["input"] == {"city": "Paris"}
    assert re.fullmatch(r"toolu_[A-Za-z0-9]{24}", first["id"])
    assert msg["content"][2] == {"type": "tool_use", "id": "toolu_x", "name": "noop", "input": {}}
    assert msg["stop_reason"] == "tool_use"
    msg = D.complete(Reply(tool_calls=(ToolCall("f"),)), prompt, ctx())
    assert [b["type"] for b in msg["content"]] == ["tool_use"]


# -- errors -----------------------------------------------------------------------------------


def test_in_band_error_bytes() -> None:
    """§4.3: `event: error`, `{"type":"error","error":{type, message}}`, then nothing."""
    err = MockError(500, "boom", kind="server_error")
    assert D.in_band_error(err, ctx()) == (
        b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"boom"}}\n\n')
    assert D.end_of_stream(ctx()) == b""
    over = parse(D.in_band_error(MockError(529, "Overloaded", kind="overloaded"), ctx()))
    assert over == [Event(type="error", data=json.dumps(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        separators=(",", ":")))]


BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
     "model", "model: Field required"),
    (body(model=3), "model", "model: Input should be a valid string"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}]},
     "max_tokens", "max_tokens: Field required"),
    (body(max_tokens="5"), "max_tokens", "max_tokens: Input should be a valid integer"),
    (body(max_tokens=True), "max_tokens", "max_tokens: Input should be a valid integer"),
    (body(max_tokens=2.5), "max_tokens", "max_tokens: Input should be a valid integer"),
    (body(max_tokens=0), "max_tokens", "max_tokens: Input should be greater than or equal to 1"),
    ({"model": "m", "max_tokens": 5}, "messages", "messages: Field required"),
    (body(messages={}), "messages", "messages: Input should be a valid list"),
    (body(messages=[]), "messages", "messages: at least one message is required"),
    (body(messages=["hi"]), "messages.0", "messages.0: Input should be a valid dictionary"),
    (body(messages=[{"content": "x"}]), "messages.0.role", "messages.0.role: Field required"),
    (body(messages=[{"role": "system", "content": "x"}]), "messages.0.role",
     "messages.0.role: Input should be 'user' or 'assistant'"),
    (body(messages=[{"role": "user"}]), "messages.0.content",
     "messages.0.content: Field required"),
    (body(messages=[{"role": "user", "content": 5}]), "messages.0.content",
     "messages.0.content: Input should be a valid string or a list of content blocks"),
    (body(messages=[{"role": "user", "content": ["x"]}]), "messages.0.content.0",
     "messages.0.content.0: Input should be a valid dictionary"),
    (body(messages=[{"role": "user", "content": [{"text": "x"}]}]), "messages.0.content.0.type",
     "messages.0.content.0.type: Field required"),
    (body(messages=[{"role": "user", "content": [{"type": "text", "text": 1}]}]),
     "messages.0.content.0.text", "messages.0.content.0.text: Input should be a valid string"),
    (body(messages=[{"role": "user", "content": "x"},
                    {"role": "user", "content": [{"type": "tool_result"}]}]),
     "messages.1.content.0.tool_use_id", "messages.1.content.0.tool_use_id: Field required"),
    (body(system=5), "system", "system: Input should be a valid string or a list of text blocks"),
    (body(system=[{"type": "image"}]), "system.0", "system.0: Input should be a text block"),
    (body(stream="yes"), "stream", "stream: Input should be a valid boolean"),
    (body(stop_sequences="END"), "stop_sequences",
     "stop_sequences: Input should be a valid list of strings"),
    (body(stop_sequences=[1]), "stop_sequences",
     "stop_sequences: Input should be a valid list of strings"),
    (body(tools={}), "tools", "tools: Input should be a valid list"),
    (body(tools=["f"]), "tools.0", "tools.0: Input should be a valid dictionary"),
    (body(tools=[{"input_schema": {}}]), "tools.0.name", "tools.0.name: Field required"),
]


@pytest.mark.parametrize(("bad", "param", "message"), BAD)
def test_parse_rejects(bad: dict[str, Any], param: str, message: str) -> None:
    with pytest.raises(MockError) as info:
        D.parse(bad)
    err = info.value
    assert (err.status, err.kind, err.param, err.message) == (400, "invalid_request", param,
                                                              message)
    # §4.5: rendered in Anthropic's shape.
    shaped = json.loads(AnthropicShape().error_body(err, "req_1"))
    assert shaped == {"type": "error", "error": {"type": "invalid_request_error",
                                                 "message": message}, "request_id": "req_1"}


def test_parse_full_request() -> None:
    prompt = D.parse({
        "model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": True,
        "system": [{"type": "text", "text": "You are"}, {"type": "text", "text": "terse."}],
        "stop_sequences": ["END"], "temperature": 0.2, "thinking": {"type": "disabled"},
        "tools": [{"name": "get_weather", "input_schema": {"type": "object"}},
                  {"type": "web_search_20250305", "name": "web_search"}],
        "messages": [
            {"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "data": "AA=="}},
                {"type": "text", "text": "What's the weather"},
                {"type": "text", "text": "in Paris?"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                 "input": {"city": "Paris"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1",
                 "content": [{"type": "text", "text": "sunny"}]}]},
        ],
    })
    assert prompt.route == "anthropic-messages"
    assert prompt.model == "claude-sonnet-4-5"
    assert prompt.stream is True and prompt.max_tokens == 1024
    assert prompt.stop == ("END",)
    assert prompt.tools == ("get_weather", "web_search")
    assert prompt.has_tool_results is True
    assert prompt.messages == (
        Message("system", "You are\nterse."),
        Message("user", "What's the weather\nin Paris?"),
        Message("assistant", "Checking."),
        Message("tool", "sunny"),
    )
    assert prompt.system == "You are\nterse."
    assert prompt.last_user == "What's the weather\nin Paris?"
    assert prompt.turn == 1


def test_parse_minimal_and_nulls() -> None:
    prompt = D.parse(body(stream=None, system=None, stop_sequences=None, tools=None))
    assert prompt.stream is False and prompt.stop == () and prompt.tools == ()
    assert prompt.has_tool_results is False
    assert prompt.messages == (Message("user", "Hi there you"),)
    tool_result_string = D.parse(body(messages=[
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t",
                                      "content": "42"}, {"type": "text", "text": "and?"}]}]))
    assert tool_result_string.messages == (Message("tool", "42"), Message("user", "and?"))
    assert tool_result_string.has_tool_results


def test_new_context() -> None:
    c = D.new_context(D.parse(body()))
    assert re.fullmatch(r"msg_[A-Za-z0-9]{24}", c.id)
    assert c.model == MODEL
    assert D.new_context(D.parse(body())).id != c.id


def test_ping_constant() -> None:
    assert parse(PING) == [Event(type="ping", data='{"type": "ping"}')]
