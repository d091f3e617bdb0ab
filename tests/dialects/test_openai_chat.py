"""The Chat Completions dialect, pure: a Reply in, bytes out, parsed back (PROTOCOLS.md §2)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sse_mock._parser import parse
from sse_mock.dialects import DIALECTS
from sse_mock.dialects.base import Frame, MockError, Prompt, Reply, StreamContext, ToolCall, Usage
from sse_mock.dialects.openai_chat import (
    OpenAIChatDialect,
    argument_fragments,
    reply_tokens,
    token_frame,
)
from sse_mock.tokens import count_tokens, tokenize

D = OpenAIChatDialect()
MODEL = "gpt-4o-mini"
ID = "chatcmpl-AbCdEfGhIjKlMnOpQrStUvWxYz012"
FP = "fp_0123456789"
CREATED = 1727346168
WEATHER = ToolCall("get_weather", '{"city":"New York City"}', "call_4XzlGBLtUe9dy3GVNV4jhq7h")


def body(**extra: Any) -> dict[str, Any]:
    b: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": "Hi there"}]}
    b.update(extra)
    return b


def ctx() -> StreamContext:
    c = StreamContext(id=ID, created=CREATED, model=MODEL)
    c.extra["system_fingerprint"] = FP
    return c


def frames(reply: Reply, **extra: Any) -> list[Frame]:
    return list(D.stream(reply, D.parse(body(stream=True, **extra)), ctx()))


def raw(reply: Reply, **extra: Any) -> bytes:
    return b"".join(f.data for f in frames(reply, **extra))


def chunks(reply: Reply, **extra: Any) -> list[Any]:
    """The JSON of every event; `[DONE]` must be the last one and is dropped."""
    events = parse(raw(reply, **extra))
    assert all(e.type == "message" for e in events)
    assert events[-1].data == "[DONE]"
    return [json.loads(e.data) for e in events[:-1]]


def deltas(cs: list[Any], index: int = 0) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in cs
            if c["choices"] and c["choices"][0]["index"] == index]


def test_registered() -> None:
    mine = [d for d in DIALECTS if d.name == "openai-chat"]
    assert len(mine) == 1
    assert mine[0].path == "/v1/chat/completions" and mine[0].family == "openai"


# -- the stream: exact bytes (§2.5) -----------------------------------------------------------

HEAD = ('data: {"id":"chatcmpl-AbCdEfGhIjKlMnOpQrStUvWxYz012","object":"chat.completion.chunk",'
        '"created":1727346168,"model":"gpt-4o-mini","system_fingerprint":"fp_0123456789",'
        '"choices":[')
# Content and argument chunks: the required envelope only (openai_chunks.py, Divergence #1).
LEAN = ('data: {"id":"chatcmpl-AbCdEfGhIjKlMnOpQrStUvWxYz012","object":"chat.completion.chunk",'
        '"created":1727346168,"model":"gpt-4o-mini","choices":[')


def test_text_stream_exact() -> None:
    """The canonical §2.5 example, byte for byte."""
    expected = (
        HEAD + '{"index":0,"delta":{"role":"assistant","content":"","refusal":null},'
        '"logprobs":null,"finish_reason":null}]}\n\n'
        + LEAN + '{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}\n\n'
        + LEAN + '{"index":0,"delta":{"content":" world"},"finish_reason":null}]}\n\n'
        + HEAD + '{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n\n'
        "data: [DONE]\n\n"
    )
    assert raw(Reply("Hello world")) == expected.encode()


def test_tool_call_stream_exact() -> None:
    """The §2.5 tool-call capture's shape: whole header chunk, lean argument chunks."""
    expected = (
        HEAD + '{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,'
        '"id":"call_4XzlGBLtUe9dy3GVNV4jhq7h","type":"function","function":{"name":'
        '"get_weather","arguments":""}}],"refusal":null},"logprobs":null,"finish_reason":null}]}'
        "\n\n"
        + "".join(LEAN + '{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":'
                  + json.dumps(piece) + '}}]},"finish_reason":null}]}\n\n'
                  for piece in ['{"', "city", '":"', "New", " York", " City", '"}'])
        + HEAD + '{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}]}\n\n'
        "data: [DONE]\n\n"
    )
    assert raw(Reply("", tool_calls=(WEATHER,), finish="tool_calls")) == expected.encode()


def test_include_usage_stream_exact() -> None:
    """§2.4 R4: "usage":null on every chunk, then a choices-less usage chunk, then [DONE]."""
    got = raw(Reply("Hello world"), stream_options={"include_usage": True}).decode()
    events = got.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    for event in events[:4]:
        assert event.endswith('}],"usage":null}')
    assert events[4] == (
        'data: {"id":"chatcmpl-AbCdEfGhIjKlMnOpQrStUvWxYz012","object":"chat.completion.chunk",'
        '"created":1727346168,"model":"gpt-4o-mini","system_fingerprint":"fp_0123456789",'
        '"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":2,"total_tokens":4,'
        '"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},'
        '"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,'
        '"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}')
    assert len(events) == 7


def test_without_include_usage_no_usage_key() -> None:
    for c in chunks(Reply("Hello world")):
        assert "usage" not in c


def test_only_data_lines() -> None:
    """§5.2: no id:, retry:, event: lines and no data-less events in an OpenAI stream."""
    text = raw(Reply("a b c", tool_calls=(WEATHER,)), n=2,
               stream_options={"include_usage": True}).decode()
    for line in text.split("\n"):
        assert line == "" or line.startswith("data: ")
    assert "\r" not in text and "\n\n\n" not in text


def test_frames_are_whole_events_and_tokens_marked() -> None:
    fs = frames(Reply("Hello, this is it."), stream_options={"include_usage": True})
    assert all(f.data.endswith(b"\n\n") and f.data.startswith(b"data: ") for f in fs)
    assert [f.token for f in fs] == [False, True, True, True, True, False, False, False]
    for f in fs:
        assert not f.paced and f.pause == 0.0


@pytest.mark.parametrize("usage", [False, True])
def test_same_envelope_in_every_chunk(usage: bool) -> None:
    """§2.3: the required envelope in every chunk; the optional fingerprint in the first and
    the last (where openai-python's stream helper reads it), not in the middle ones."""
    cs = chunks(Reply("Hello there, friend"), stream_options={"include_usage": usage})
    for c in cs:
        assert (c["id"], c["object"], c["created"], c["model"]) == (
            ID, "chat.completion.chunk", CREATED, MODEL)
    assert [c.get("system_fingerprint") for c in cs] == [FP, None, None, None, FP] + (
        [FP] if usage else [])


@given(st.text(max_size=60))
def test_deltas_concatenate_to_the_reply(text: str) -> None:
    """R2: whitespace, unicode, control characters and line separators survive exactly."""
    cs = chunks(Reply(text))
    ds = deltas(cs)
    assert ds[0] == {"role": "assistant", "content": "", "refusal": None}
    assert ds[-1] == {}
    assert "".join(d["content"] for d in ds[1:-1]) == text
    assert [d["content"] for d in ds[1:-1]] == tokenize(text)
    assert all(set(d) == {"content"} for d in ds[1:-1])


def test_non_ascii_is_escaped_on_the_wire() -> None:
    """§1.8 F-13: U+2028 raw in a line would break splitlines() clients."""
    data = raw(Reply("caf\u00e9 \u2028 \U0001f600"))
    assert data.isascii()


def test_finish_and_role_only_once() -> None:
    cs = chunks(Reply("one two three"))
    assert sum("role" in d for d in deltas(cs)) == 1
    finishes = [c["choices"][0]["finish_reason"] for c in cs]
    assert finishes == [None, None, None, None, "stop"]
    assert all(c["choices"][0].get("logprobs") is None for c in cs)
    assert ["logprobs" in c["choices"][0] for c in cs] == [True, False, False, False, True]


@pytest.mark.parametrize(("neutral", "openai"), [
    ("stop", "stop"), ("stop_sequence", "stop"), ("length", "length"),
    ("tool_calls", "tool_calls"), ("content_filter", "content_filter"),
])
def test_finish_reasons(neutral: str, openai: str) -> None:
    cs = chunks(Reply("x", finish=neutral))
    assert cs[-1]["choices"][0]["finish_reason"] == openai
    obj = D.complete(Reply("x", finish=neutral), D.parse(body()), ctx())
    assert obj["choices"][0]["finish_reason"] == openai


def test_empty_reply() -> None:
    ds = deltas(chunks(Reply("")))
    assert ds == [{"role": "assistant", "content": "", "refusal": None}, {}]


def test_n_choices() -> None:
    """R8: each choice its own role and finish chunk; one choice per chunk; indices 0..n-1."""
    text = "Hi there you"
    cs = chunks(Reply(text), n=3)
    assert all(len(c["choices"]) == 1 for c in cs)
    assert {c["choices"][0]["index"] for c in cs} == {0, 1, 2}
    for i in range(3):
        ds = deltas(cs, i)
        assert ds[0] == {"role": "assistant", "content": "", "refusal": None}
        assert ds[-1] == {}
        assert "".join(d["content"] for d in ds[1:-1]) == text
    fs = frames(Reply(text), n=3)
    # The n chunks of one token position leave together, as one token frame.
    assert sum(f.token for f in fs) == len(tokenize(text))
    assert all(f.data.count(b"data: ") == 3 for f in fs[:-1])


# -- tool calls (§2.4 R6/R7) ------------------------------------------------------------------


def test_tool_call_only_stream() -> None:
    """The §2.5 capture: header in the role delta, then argument pieces with index only."""
    cs = chunks(Reply(tool_calls=(WEATHER,)))
    ds = deltas(cs)
    assert ds[0] == {"role": "assistant", "content": None, "refusal": None, "tool_calls": [
        {"index": 0, "id": WEATHER.id, "type": "function",
         "function": {"name": "get_weather", "arguments": ""}}]}
    pieces = ds[1:-1]
    assert [p["tool_calls"][0]["function"]["arguments"] for p in pieces] == [
        '{"', "city", '":"', "New", " York", " City", '"}']
    for p in pieces:
        assert p == {"tool_calls": [{"index": 0, "function": {"arguments": AnyString()}}]}
    assert ds[-1] == {}
    assert cs[-1]["choices"][0]["finish_reason"] == "tool_calls"
    # The role chunk's exact key order follows the capture.
    assert b'"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":' in raw(
        Reply(tool_calls=(WEATHER,)))


class AnyString:
    """Equal to any str (a placeholder in the comparisons above)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str)


def test_text_then_parallel_tool_calls() -> None:
    calls = (ToolCall("get_weather", '{"city": "Paris"}'), ToolCall("get_time", "{}"))
    ds = deltas(chunks(Reply("Let me check.", tool_calls=calls)))
    assert ds[0] == {"role": "assistant", "content": "", "refusal": None}
    text = [d for d in ds if "content" in d and "role" not in d]
    assert "".join(d["content"] for d in text) == "Let me check."
    tool = [d["tool_calls"][0] for d in ds if "tool_calls" in d]
    headers = [t for t in tool if "id" in t]
    assert [h["index"] for h in headers] == [0, 1]
    assert [h["function"]["name"] for h in headers] == ["get_weather", "get_time"]
    for h in headers:
        assert re.fullmatch(r"call_[A-Za-z0-9]{24}", h["id"])
        assert h["type"] == "function" and h["function"]["arguments"] == ""
    for k, call in enumerate(calls):
        args = "".join(t["function"]["arguments"] for t in tool if t["index"] == k)
        assert args == call.arguments
        assert json.loads(args) == json.loads(call.arguments)
    # Text first, then the calls (never interleaved).
    kinds = ["text" if "content" in d else "tool" for d in ds[1:-1]]
    assert kinds == sorted(kinds, key=lambda k: k == "tool")


def test_tool_call_ids_differ_per_choice() -> None:
    cs = chunks(Reply(tool_calls=(ToolCall("f", "{}"),)), n=2)
    ids = [d["tool_calls"][0].get("id") for i in (0, 1) for d in deltas(cs, i)
           if "tool_calls" in d]
    ids = [i for i in ids if i is not None]
    assert len(ids) == len(set(ids)) == 2


@given(st.text(max_size=40))
def test_argument_fragments_concatenate(text: str) -> None:
    assert "".join(argument_fragments(text)) == text


# -- usage ------------------------------------------------------------------------------------


def test_usage_counts() -> None:
    b = body(messages=[{"role": "developer", "content": "Be brief."},
                       {"role": "user", "content": [{"type": "text", "text": "Hi there"},
                                                    {"type": "image_url", "image_url": {}}]}])
    prompt = D.parse(b)
    reply = Reply("One two three", tool_calls=(WEATHER,))
    usage = D.complete(reply, prompt, ctx())["usage"]
    assert usage["prompt_tokens"] == count_tokens(["Be brief.", "Hi there"]) == 4
    assert usage["completion_tokens"] == 3 + len(argument_fragments(WEATHER.arguments))
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_usage_override_and_n() -> None:
    prompt = D.parse(body(n=2))
    assert D.complete(Reply("a b c"), prompt, ctx())["usage"]["completion_tokens"] == 6
    u = D.complete(Reply("a b c", usage=Usage(-1, 7)), prompt, ctx())["usage"]
    assert (u["prompt_tokens"], u["completion_tokens"], u["total_tokens"]) == (2, 7, 9)
    u = D.complete(Reply("a", usage=Usage(100, -1)), prompt, ctx())["usage"]
    assert (u["prompt_tokens"], u["completion_tokens"]) == (100, 2)


# -- the non-streaming object (§2.7) ------------------------------------------------------------


def test_complete_exact() -> None:
    obj = D.complete(Reply("Hello world"), D.parse(body()), ctx())
    assert obj == {
        "id": ID, "object": "chat.completion", "created": CREATED, "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello world",
                                             "refusal": None, "annotations": []},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4,
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                "accepted_prediction_tokens": 0,
                                                "rejected_prediction_tokens": 0}},
        "service_tier": "default",
        "system_fingerprint": FP,
    }


def test_complete_tool_calls_and_n() -> None:
    obj = D.complete(Reply(tool_calls=(WEATHER, ToolCall("g", "{}"))), D.parse(body(n=2)), ctx())
    assert [c["index"] for c in obj["choices"]] == [0, 1]
    message = obj["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"][0] == {"id": WEATHER.id, "type": "function", "function": {
        "name": "get_weather", "arguments": WEATHER.arguments}}
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", message["tool_calls"][1]["id"])
    assert obj["choices"][0]["finish_reason"] == "tool_calls"


def test_new_context() -> None:
    c = D.new_context(D.parse(body(model="my-model")))
    assert re.fullmatch(r"chatcmpl-[A-Za-z0-9]{29}", c.id)
    assert c.model == "my-model"
    assert re.fullmatch(r"fp_[0-9a-f]{10}", c.extra["system_fingerprint"])
    assert D.new_context(D.parse(body())).id != c.id


# -- errors in the stream (§2.6) ----------------------------------------------------------------


def test_in_band_error_exact() -> None:
    err = MockError(500, "The server had an error.", kind="server_error")
    assert D.in_band_error(err, ctx()) == (
        b'data: {"error":{"message":"The server had an error.","type":"server_error",'
        b'"param":null,"code":null}}\n\n')
    assert D.end_of_stream(ctx()) == b"data: [DONE]\n\n"


# -- parse: what is accepted --------------------------------------------------------------------


def test_parse_defaults() -> None:
    p = D.parse(body())
    assert p == Prompt(route="openai-chat", model=MODEL, messages=p.messages, body=body())
    assert (p.stream, p.n, p.max_tokens, p.stop, p.include_usage, p.tools) == (
        False, 1, None, (), False, ())
    assert p.last_user == "Hi there"


def test_parse_options() -> None:
    p = D.parse(body(stream=True, n=3, max_tokens=10, stop="END",
                     stream_options={"include_usage": True},
                     tools=[{"type": "function", "function": {"name": "get_weather"}}]))
    assert (p.stream, p.n, p.max_tokens, p.stop, p.include_usage, p.tools) == (
        True, 3, 10, ("END",), True, ("get_weather",))
    p = D.parse(body(max_tokens=10, max_completion_tokens=5, stop=["a", "b"]))
    assert p.max_tokens == 5 and p.stop == ("a", "b")
    # null means "not given", as the real API treats it.
    p = D.parse(body(stream=None, n=None, max_tokens=None, stop=None, stream_options=None))
    assert (p.stream, p.n, p.max_tokens, p.stop) == (False, 1, None, ())


def test_parse_messages_roles_and_tool_results() -> None:
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "developer", "content": [{"type": "text", "text": "dev"}]},
        {"role": "user", "content": "What is the weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "x"}]},
    ]
    p = D.parse(body(messages=messages))
    assert [m.role for m in p.messages] == ["system", "system", "user", "assistant", "tool",
                                             "tool"]
    assert p.system == "sys\ndev"
    assert p.has_tool_results
    assert not D.parse(body()).has_tool_results


BAD: list[tuple[dict[str, Any], str | None, str | None, str]] = [
    ({"model": None}, "model", None, "you must provide a model parameter"),
    ({"model": ""}, "model", None, "you must provide a model parameter"),
    ({"model": 4}, "model", "invalid_type", "Invalid type for 'model': expected a string, but "
     "got an integer instead."),
    ({"messages": None}, "messages", "missing_required_parameter",
     "Missing required parameter: 'messages'."),
    ({"messages": "hi"}, "messages", "invalid_type", "expected an array of objects, but got a "
     "string instead"),
    ({"messages": []}, "messages", "empty_array", "Invalid 'messages': empty array."),
    ({"messages": ["hi"]}, "messages[0]", "invalid_type", "expected an object"),
    ({"messages": [{"content": "x"}]}, "messages[0].role", "missing_required_parameter", ""),
    ({"messages": [{"role": 1, "content": "x"}]}, "messages[0].role", "invalid_type", ""),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "x"}]},
     "messages[1].role", "invalid_value", "Invalid value: 'bot'. Supported values are: "
     "'system', 'assistant', 'user', 'function', 'tool', and 'developer'."),
    ({"messages": [{"role": "user"}]}, "messages[0].content", "missing_required_parameter", ""),
    ({"messages": [{"role": "user", "content": None}]}, "messages[0].content", "invalid_type",
     "but got null instead"),
    ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content", "invalid_type", ""),
    ({"messages": [{"role": "user", "content": []}]}, "messages[0].content", "empty_array", ""),
    ({"messages": [{"role": "user", "content": [{"text": "a"}]}]},
     "messages[0].content[0].type", "missing_required_parameter", ""),
    ({"messages": [{"role": "user", "content": [{"type": "txt", "text": "a"}]}]},
     "messages[0].content[0].type", "invalid_value", "Invalid value: 'txt'."),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
     "messages[0].content[0].text", "invalid_type", ""),
    ({"messages": [{"role": "assistant", "content": None}]}, "messages[0].content",
     "invalid_type", ""),
    ({"messages": [{"role": "assistant", "content": None, "tool_calls": "x"}]},
     "messages[0].tool_calls", "invalid_type", ""),
    ({"messages": [{"role": "assistant", "content": None, "tool_calls": [{"type": "function"}]}]},
     "messages[0].tool_calls[0].id", "missing_required_parameter", ""),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "tool", "content": "x"}]},
     "messages.[1].tool_call_id", None, "Missing parameter 'tool_call_id': messages with role "
     "'tool' must have a 'tool_call_id'."),
    ({"messages": [{"role": "user", "content": "a"},
                   {"role": "tool", "content": "x", "tool_call_id": "c"}]},
     "messages.[1].role", None, "Invalid parameter: messages with role 'tool' must be a "
     "response to a preceeding message with 'tool_calls'."),
    ({"stream": "yes"}, "stream", "invalid_type", "Invalid type for 'stream': expected a "
     "boolean, but got a string instead."),
    ({"n": 0}, "n", "integer_below_min_value", "Invalid 'n': integer below minimum value. "
     "Expected a value >= 1, but got 0 instead."),
    ({"n": 129}, "n", "integer_above_max_value", "Expected a value <= 128, but got 129"),
    ({"n": 1.5}, "n", "invalid_type", "expected an integer, but got a decimal instead"),
    ({"n": True}, "n", "invalid_type", "but got a boolean instead"),
    ({"max_tokens": 0}, "max_tokens", "integer_below_min_value", ""),
    ({"max_completion_tokens": "5"}, "max_completion_tokens", "invalid_type", ""),
    ({"stop": 5}, "stop", "invalid_type", ""),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "array_above_max_length",
     "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an "
     "array with length 5 instead."),
    ({"stop": ["a", 1]}, "stop[1]", "invalid_type", ""),
    ({"stream_options": {"include_usage": True}}, "stream_options", None,
     "The 'stream_options' parameter is only allowed when 'stream' is enabled."),
    ({"stream": False, "stream_options": {}}, "stream_options", None, "only allowed"),
    ({"stream": True, "stream_options": []}, "stream_options", "invalid_type", ""),
    ({"stream": True, "stream_options": {"include_usage": "yes"}},
     "stream_options.include_usage", "invalid_type", ""),
    ({"tools": {}}, "tools", "invalid_type", ""),
    ({"tools": []}, "tools", "empty_array", ""),
    ({"tools": [{"function": {"name": "f"}}]}, "tools[0].type", "missing_required_parameter",
     ""),
    ({"tools": [{"type": "retrieval"}]}, "tools[0].type", "invalid_value", ""),
    ({"tools": [{"type": "function"}]}, "tools[0].function", "missing_required_parameter", ""),
    ({"tools": [{"type": "function", "function": {}}]}, "tools[0].function.name",
     "missing_required_parameter", ""),
    ({"tools": [{"type": "function", "function": {"name": "get weather"}}]},
     "tools[0].function.name", "invalid_value", "string does not match pattern"),
]


@pytest.mark.parametrize(("change", "param", "code", "message"), BAD,
                         ids=[b[1] or "none" for b in BAD])
def test_parse_errors(change: dict[str, Any], param: str | None, code: str | None,
                      message: str) -> None:
    b = body(**change)
    for key, value in change.items():
        if value is None:
            del b[key]
    with pytest.raises(MockError) as info:
        D.parse(b)
    err = info.value
    assert (err.status, err.kind, err.param, err.code) == (400, "invalid_request", param, code)
    assert message in err.message


def test_unknown_parameters_are_accepted() -> None:
    """Divergence #4: provider extensions pass."""
    assert D.parse(body(top_k=5, repetition_penalty=1.1)).model == MODEL


# -- the fast token frame ---------------------------------------------------------------------


def test_token_frame_reads_like_a_frame() -> None:
    fast = token_frame(b"data: x\n\n")
    slow = Frame(b"data: x\n\n", token=True)
    assert isinstance(fast, Frame)
    assert fast == slow


@given(st.text(max_size=30))
def test_reply_tokens_is_tokenize(text: str) -> None:
    assert list(reply_tokens(text)) == tokenize(text)
    assert list(reply_tokens(text)) == tokenize(text)  # remembered: same answer
    long = text + " x" * 9000
    assert list(reply_tokens(long)) == tokenize(long)


@pytest.mark.parametrize("n", [1, 3])
def test_short_and_long_streams_render_the_same_frames(
    monkeypatch: pytest.MonkeyPatch, n: int
) -> None:
    # openai_chunks Divergence #3: a short stream renders its token frames when it starts, a
    # long one as they leave; the frames are the same either way, repeated tokens included.
    from sse_mock.dialects import openai_chunks

    reply = Reply("Hello, hello, world! Hello again, world.")
    eager = frames(reply, n=n)
    monkeypatch.setattr(openai_chunks, "EAGER_PIECES", 0)
    lazy = frames(reply, n=n)
    assert [(f.data, f.token) for f in eager] == [(f.data, f.token) for f in lazy]
    assert sum(f.token for f in eager) == len(tokenize(reply.text))
