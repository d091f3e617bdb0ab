"""The Responses API dialect, pure: a Reply in, bytes out, parsed back (PROTOCOLS.md §3)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sse_mock._parser import parse
from sse_mock.dialects import DIALECTS
from sse_mock.dialects.base import MockError, Reply, StreamContext, ToolCall, Usage
from sse_mock.dialects.openai_chat import argument_fragments
from sse_mock.dialects.openai_responses import OpenAIResponsesDialect
from sse_mock.faults import apply_stream_fault, parse_fault
from sse_mock.scenario import fit_reply
from sse_mock.tokens import tokenize

D = OpenAIResponsesDialect()
MODEL = "gpt-4o-mini"
ID = "resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654"
CREATED = 1741290958
HEX48 = r"[0-9a-f]{48}"

#: R of §3.3, for a request with only model and input
R: dict[str, Any] = {
    "id": ID, "object": "response", "created_at": CREATED, "status": "in_progress",
    "error": None, "incomplete_details": None, "instructions": None, "max_output_tokens": None,
    "model": MODEL, "output": [], "parallel_tool_calls": True, "previous_response_id": None,
    "reasoning": {"effort": None, "summary": None}, "store": True, "temperature": 1.0,
    "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [], "top_p": 1.0,
    "truncation": "disabled", "usage": None, "user": None, "metadata": {},
}


def body(**extra: Any) -> dict[str, Any]:
    b: dict[str, Any] = {"model": MODEL, "input": "Say hi"}
    b.update(extra)
    return b


def ctx() -> StreamContext:
    return StreamContext(id=ID, created=CREATED, model=MODEL)


def raw(reply: Reply, c: StreamContext | None = None, **extra: Any) -> bytes:
    prompt = D.parse(body(stream=True, **extra))
    return b"".join(f.data for f in D.stream(reply, prompt, c or ctx()))


def events(reply: Reply, **extra: Any) -> list[dict[str, Any]]:
    out = []
    for e in parse(raw(reply, **extra)):
        data = json.loads(e.data)
        assert e.type == data["type"]  # §3.1: the event: line repeats the JSON type
        out.append(data)
    return out


def test_registered() -> None:
    mine = [d for d in DIALECTS if d.name == "openai-responses"]
    assert len(mine) == 1
    assert mine[0].path == "/v1/responses" and mine[0].family == "openai"


def test_text_stream_exact() -> None:
    """§3.3: the canonical example, field for field (ids of items are random)."""
    evs = events(Reply("Hi there"))
    assert [e["type"] for e in evs] == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.content_part.added", "response.output_text.delta",
        "response.output_text.delta", "response.output_text.done",
        "response.content_part.done", "response.output_item.done", "response.completed"]
    assert [e["sequence_number"] for e in evs] == list(range(10))
    msg = evs[2]["item"]["id"]
    assert re.fullmatch("msg_" + HEX48, msg)
    ids = {"item_id": msg, "output_index": 0, "content_index": 0}
    part = {"type": "output_text", "text": "Hi there", "annotations": [], "logprobs": []}
    item = {"id": msg, "type": "message", "status": "completed", "role": "assistant",
            "content": [part]}
    usage = {"input_tokens": 2, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": 2, "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": 4}
    assert evs == [
        {"type": "response.created", "sequence_number": 0, "response": R},
        {"type": "response.in_progress", "sequence_number": 1, "response": R},
        {"type": "response.output_item.added", "sequence_number": 2, "output_index": 0,
         "item": {**item, "status": "in_progress", "content": []}},
        {"type": "response.content_part.added", "sequence_number": 3, **ids,
         "part": {**part, "text": ""}},
        {"type": "response.output_text.delta", "sequence_number": 4, **ids, "delta": "Hi",
         "logprobs": []},
        {"type": "response.output_text.delta", "sequence_number": 5, **ids, "delta": " there",
         "logprobs": []},
        {"type": "response.output_text.done", "sequence_number": 6, **ids, "text": "Hi there",
         "logprobs": []},
        {"type": "response.content_part.done", "sequence_number": 7, **ids, "part": part},
        {"type": "response.output_item.done", "sequence_number": 8, "output_index": 0,
         "item": item},
        {"type": "response.completed", "sequence_number": 9, "response": {
            **R, "status": "completed", "output": [item], "usage": usage}},
    ]


def test_wire_form() -> None:
    """§3.1: `event:` line then one `data:` line; type first, sequence_number second; no [DONE]."""
    text = raw(Reply("Hi there")).decode()
    blocks = text.split("\n\n")
    assert blocks[-1] == ""
    for block in blocks[:-1]:
        event, data = block.split("\n")
        name = event.removeprefix("event: ")
        assert data.startswith(f'data: {{"type":"{name}","sequence_number":')
    assert "[DONE]" not in text


def test_token_frames() -> None:
    fs = list(D.stream(Reply("a b c"), D.parse(body(stream=True)), ctx()))
    assert sum(f.token for f in fs) == 3
    assert all(f.data.count(b"\n\n") == 1 for f in fs)


@given(st.text(max_size=40))
def test_deltas_concatenate(text: str) -> None:
    evs = events(Reply(text))
    deltas = [e["delta"] for e in evs if e["type"] == "response.output_text.delta"]
    assert deltas == tokenize(text)
    assert "".join(deltas) == text
    assert evs[-1]["response"]["output"][0]["content"][0]["text"] == text


def test_echoed_request_fields() -> None:
    evs = events(Reply("ok"), instructions="Be brief.", max_output_tokens=50, temperature=0.5,
                 top_p=0.9, metadata={"a": "b"}, store=False, user="u1",
                 tools=[{"type": "function", "name": "f", "parameters": {}}],
                 previous_response_id="resp_1", tool_choice="required")
    r = evs[0]["response"]
    assert (r["instructions"], r["max_output_tokens"], r["temperature"], r["top_p"],
            r["metadata"], r["store"], r["user"], r["previous_response_id"],
            r["tool_choice"]) == ("Be brief.", 50, 0.5, 0.9, {"a": "b"}, False, "u1", "resp_1",
                                  "required")
    assert r["tools"] == [{"type": "function", "name": "f", "parameters": {}}]
    assert list(r) == list(R)
    # every lifecycle event carries the same response id (§3.5)
    assert {e["response"]["id"] for e in evs if "response" in e} == {ID}


def test_function_call_stream() -> None:
    call = ToolCall("get_weather", '{"city":"Paris"}')
    evs = events(Reply(tool_calls=(call,)))
    assert [e["type"] for e in evs] == [
        "response.created", "response.in_progress", "response.output_item.added",
        *["response.function_call_arguments.delta"] * len(argument_fragments(call.arguments)),
        "response.function_call_arguments.done", "response.output_item.done",
        "response.completed"]
    assert [e["sequence_number"] for e in evs] == list(range(len(evs)))
    added = evs[2]["item"]
    assert re.fullmatch("fc_" + HEX48, added["id"])
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", added["call_id"])
    assert added == {"id": added["id"], "type": "function_call", "status": "in_progress",
                     "call_id": added["call_id"], "name": "get_weather", "arguments": ""}
    deltas = [e for e in evs if e["type"] == "response.function_call_arguments.delta"]
    for d in deltas:
        assert set(d) == {"type", "sequence_number", "item_id", "output_index", "delta"}
        assert (d["item_id"], d["output_index"]) == (added["id"], 0)
    assert "".join(d["delta"] for d in deltas) == call.arguments
    done = evs[-3]
    assert (done["name"], done["arguments"], done["item_id"]) == (
        "get_weather", call.arguments, added["id"])
    final_item = {**added, "status": "completed", "arguments": call.arguments}
    assert evs[-2]["item"] == final_item
    assert evs[-1]["response"]["output"] == [final_item]


def test_text_and_calls_are_separate_items() -> None:
    calls = (ToolCall("a", "{}", "call_given"), ToolCall("b", '{"x": 1}'))
    evs = events(Reply("Checking.", tool_calls=calls))
    added = [e for e in evs if e["type"] == "response.output_item.added"]
    assert [(e["output_index"], e["item"]["type"]) for e in added] == [
        (0, "message"), (1, "function_call"), (2, "function_call")]
    assert added[1]["item"]["call_id"] == "call_given"
    output = evs[-1]["response"]["output"]
    assert [o["type"] for o in output] == ["message", "function_call", "function_call"]
    usage = evs[-1]["response"]["usage"]
    assert usage["output_tokens"] == 1 + 1 + len(argument_fragments('{"x": 1}'))


def test_incomplete_when_cut_by_max_output_tokens() -> None:
    """§3.4: response.incomplete with reason max_output_tokens is the terminal event."""
    prompt = D.parse(body(stream=True, max_output_tokens=16))
    reply = fit_reply(Reply(" ".join(["w"] * 30)), prompt)
    evs = [json.loads(e.data) for e in parse(b"".join(
        f.data for f in D.stream(reply, prompt, ctx())))]
    last = evs[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["status"] == "incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert last["response"]["output"][0]["status"] == "incomplete"
    assert last["response"]["usage"]["output_tokens"] == 16
    obj = D.complete(reply, prompt, ctx())
    assert obj["status"] == "incomplete"
    assert obj["incomplete_details"] == {"reason": "max_output_tokens"}


def test_content_filter_is_incomplete() -> None:
    assert events(Reply("x", finish="content_filter"))[-1]["response"]["incomplete_details"] == {
        "reason": "content_filter"}


def test_complete() -> None:
    obj = D.complete(Reply("Hi there"), D.parse(body(instructions="sys")), ctx())
    assert list(obj) == list(R)
    assert obj["status"] == "completed" and obj["instructions"] == "sys"
    assert "output_text" not in obj
    assert obj["output"][0]["content"][0]["text"] == "Hi there"
    assert obj["usage"] == {"input_tokens": 3, "input_tokens_details": {"cached_tokens": 0},
                            "output_tokens": 2, "output_tokens_details": {"reasoning_tokens": 0},
                            "total_tokens": 5}
    obj = D.complete(Reply("x", usage=Usage(10, 20)), D.parse(body()), ctx())
    assert (obj["usage"]["input_tokens"], obj["usage"]["output_tokens"],
            obj["usage"]["total_tokens"]) == (10, 20, 30)


def test_new_context() -> None:
    c = D.new_context(D.parse(body()))
    assert re.fullmatch("resp_" + HEX48, c.id) and c.model == MODEL


def test_in_band_error_takes_the_held_delta_number() -> None:
    """error_after:2 → deltas 4 and 5, then the error as number 6; no [DONE], no gap."""
    c = ctx()
    prompt = D.parse(body(stream=True))
    frames = apply_stream_fault(D.stream(Reply("one two three four"), prompt, c),
                                parse_fault("error_after:2"), D, c)
    evs = parse(b"".join(f.data for f in frames))
    assert [e.type for e in evs][-3:] == ["response.output_text.delta"] * 2 + ["error"]
    err = json.loads(evs[-1].data)
    assert err == {"type": "error", "code": "server_error",
                   "message": "The server had an error while processing your request "
                              "(mocked by sse_mock).",
                   "param": None, "sequence_number": 6}
    assert [json.loads(e.data)["sequence_number"] for e in evs] == list(range(7))
    assert D.end_of_stream(c) == b""


def test_in_band_error_exact_bytes() -> None:
    err = MockError(500, "Something went wrong", kind="server_error")
    assert D.in_band_error(err, ctx()) == (
        b'event: error\ndata: {"type":"error","code":"server_error","message":'
        b'"Something went wrong","param":null,"sequence_number":0}\n\n')


# -- parse ------------------------------------------------------------------------------------


def test_parse_input_items() -> None:
    p = D.parse(body(instructions="Be nice.", input=[
        {"role": "developer", "content": "dev"},
        {"role": "user", "content": [{"type": "input_text", "text": "What's the "},
                                     {"type": "input_image", "image_url": "x"},
                                     {"type": "input_text", "text": "weather?"}]},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "Let me look."}]},
        {"type": "function_call", "call_id": "call_1", "name": "w", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {"type": "reasoning", "id": "rs_1", "summary": []},
    ], max_output_tokens=100))
    assert [m.role for m in p.messages] == ["system", "system", "user", "assistant",
                                             "assistant", "tool"]
    assert p.system == "Be nice.\ndev"
    assert p.last_user == "What's the weather?"
    assert p.has_tool_results and p.max_tokens == 100 and not p.stream
    assert not D.parse(body()).has_tool_results
    assert D.parse(body(tools=[{"type": "function", "name": "get_weather"},
                               {"type": "web_search"}])).tools == ("get_weather",)


BAD: list[tuple[dict[str, Any], str, str | None]] = [
    ({"model": None}, "model", None),
    ({"input": None}, "input", "missing_required_parameter"),
    ({"input": 3}, "input", "invalid_type"),
    ({"input": []}, "input", "empty_array"),
    ({"input": ["x"]}, "input[0]", "invalid_type"),
    ({"input": [{"content": "x"}]}, "input[0].type", "missing_required_parameter"),
    ({"input": [{"role": "bot", "content": "x"}]}, "input[0].role", "invalid_value"),
    ({"input": [{"role": "user"}]}, "input[0].content", "missing_required_parameter"),
    ({"input": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]},
     "input[0].content[0].type", "invalid_value"),
    ({"input": [{"role": "user", "content": [{"type": "input_text"}]}]},
     "input[0].content[0].text", "missing_required_parameter"),
    ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id",
     "missing_required_parameter"),
    ({"instructions": 5}, "instructions", "invalid_type"),
    ({"stream": "true"}, "stream", "invalid_type"),
    ({"max_output_tokens": 10}, "max_output_tokens", "integer_below_min_value"),
    ({"temperature": 3}, "temperature", "decimal_above_max_value"),
    ({"metadata": []}, "metadata", "invalid_type"),
    ({"tools": [{"type": "function"}]}, "tools[0].name", "missing_required_parameter"),
    ({"stream_options": {}}, "stream_options", None),
]


@pytest.mark.parametrize(("change", "param", "code"), BAD, ids=[b[1] for b in BAD])
def test_parse_errors(change: dict[str, Any], param: str, code: str | None) -> None:
    b = body(**change)
    for key, value in change.items():
        if value is None:
            del b[key]
    with pytest.raises(MockError) as info:
        D.parse(b)
    assert (info.value.status, info.value.param, info.value.code) == (400, param, code)


def test_max_output_tokens_message() -> None:
    """The real API's words (a minimum of 16)."""
    with pytest.raises(MockError) as info:
        D.parse(body(max_output_tokens=10))
    assert info.value.message == ("Invalid 'max_output_tokens': integer below minimum value. "
                                  "Expected a value >= 16, but got 10 instead.")
