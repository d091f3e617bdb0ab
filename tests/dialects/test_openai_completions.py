"""The legacy Completions dialect, pure: a Reply in, bytes out, parsed back (PROTOCOLS.md §2.8)."""

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
from sse_mock.dialects.openai_completions import OpenAICompletionsDialect
from sse_mock.scenario import fit_reply
from sse_mock.tokens import tokenize

D = OpenAICompletionsDialect()
MODEL = "gpt-3.5-turbo-instruct"
ID = "cmpl-7iA7iJjj8V2zOkCGvWF2hAkDWBQZe"
FP = "fp_44709d6fcb"
CREATED = 1690759702


def body(**extra: Any) -> dict[str, Any]:
    b: dict[str, Any] = {"model": MODEL, "prompt": "Say this is a test"}
    b.update(extra)
    return b


def ctx() -> StreamContext:
    c = StreamContext(id=ID, created=CREATED, model=MODEL)
    c.extra["system_fingerprint"] = FP
    return c


def raw(reply: Reply, **extra: Any) -> bytes:
    prompt = D.parse(body(stream=True, **extra))
    return b"".join(f.data for f in D.stream(reply, prompt, ctx()))


def chunks(reply: Reply, **extra: Any) -> list[Any]:
    events = parse(raw(reply, **extra))
    assert all(e.type == "message" for e in events)
    assert events[-1].data == "[DONE]"
    return [json.loads(e.data) for e in events[:-1]]


def test_registered() -> None:
    mine = [d for d in DIALECTS if d.name == "openai-completions"]
    assert len(mine) == 1
    assert mine[0].path == "/v1/completions" and mine[0].family == "openai"


def test_stream_exact() -> None:
    """§2.8: the official chunk's layout, one chunk per token, a finish chunk, [DONE]."""
    def chunk(text: str, finish: str = "null") -> str:
        return (f'data: {{"id":"{ID}","object":"text_completion","created":{CREATED},'
                f'"choices":[{{"text":{json.dumps(text)},"index":0,"logprobs":null,'
                f'"finish_reason":{finish}}}],"model":"{MODEL}","system_fingerprint":"{FP}"}}'
                "\n\n")
    assert raw(Reply("This is")) == (
        chunk("This") + chunk(" is") + chunk("", '"stop"') + "data: [DONE]\n\n").encode()


def test_stream_and_object_have_the_same_shape() -> None:
    cs = chunks(Reply("This is"))
    obj = D.complete(Reply("This is"), D.parse(body()), ctx())
    for c in cs:
        assert set(c) == set(obj) - {"usage"}
        assert set(c["choices"][0]) == set(obj["choices"][0])


def test_include_usage() -> None:
    cs = chunks(Reply("This is"), stream_options={"include_usage": True})
    assert all(c["usage"] is None for c in cs[:-1])
    assert cs[-1]["choices"] == []
    assert cs[-1]["usage"] == {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}


@given(st.text(max_size=50))
def test_texts_concatenate(text: str) -> None:
    cs = chunks(Reply(text))
    assert "".join(c["choices"][0]["text"] for c in cs) == text
    assert len(cs) == len(tokenize(text)) + 1


def test_complete_exact() -> None:
    obj = D.complete(Reply("This is indeed a test", finish="length"), D.parse(body()), ctx())
    assert obj == {
        "id": ID, "object": "text_completion", "created": CREATED, "model": MODEL,
        "system_fingerprint": FP,
        "choices": [{"text": "This is indeed a test", "index": 0, "logprobs": None,
                     "finish_reason": "length"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
    }


def test_usage_override() -> None:
    obj = D.complete(Reply("a", usage=Usage(9, -1)), D.parse(body()), ctx())
    assert obj["usage"] == {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}


@pytest.mark.parametrize(("neutral", "legacy"), [
    ("stop", "stop"), ("stop_sequence", "stop"), ("length", "length"),
    ("content_filter", "content_filter"), ("tool_calls", "stop"),
])
def test_finish_reasons(neutral: str, legacy: str) -> None:
    assert chunks(Reply("x", finish=neutral))[-1]["choices"][0]["finish_reason"] == legacy


def test_tool_calls_are_not_spoken_here() -> None:
    cs = chunks(Reply("hi", tool_calls=(ToolCall("f"),)))
    assert "".join(c["choices"][0]["text"] for c in cs) == "hi"
    assert cs[-1]["choices"][0]["finish_reason"] == "stop"


def test_echo() -> None:
    cs = chunks(Reply(" Yes."), echo=True)
    assert "".join(c["choices"][0]["text"] for c in cs) == "Say this is a test Yes."
    obj = D.complete(Reply(" Yes."), D.parse(body(echo=True)), ctx())
    assert obj["choices"][0]["text"] == "Say this is a test Yes."
    assert obj["usage"]["completion_tokens"] == 1  # the echo is prompt, not completion


def test_prompt_list_and_n() -> None:
    """Every prompt gets n choices, indexed prompt * n + j."""
    b = {"prompt": ["A", "B"], "n": 2, "echo": True}
    cs = chunks(Reply(" x y"), **b)
    texts: dict[int, str] = {}
    for c in cs:
        assert len(c["choices"]) == 1
        ch = c["choices"][0]
        texts[ch["index"]] = texts.get(ch["index"], "") + ch["text"]
    assert texts == {0: "A x y", 1: "A x y", 2: "B x y", 3: "B x y"}
    obj = D.complete(Reply(" x y"), D.parse(body(**b)), ctx())
    assert [c["text"] for c in obj["choices"]] == ["A x y", "A x y", "B x y", "B x y"]
    assert obj["usage"] == {"prompt_tokens": 2, "completion_tokens": 8, "total_tokens": 10}


def test_token_array_prompts() -> None:
    p = D.parse(body(prompt=[1, 2, 3]))
    assert D.complete(Reply("a"), p, ctx())["usage"]["prompt_tokens"] == 3
    p = D.parse(body(prompt=[[1, 2], [3]]))
    obj = D.complete(Reply("a"), p, ctx())
    assert len(obj["choices"]) == 2 and obj["usage"]["prompt_tokens"] == 3


def test_max_tokens_defaults_to_16() -> None:
    """The real endpoint's default: a long answer is cut at 16 tokens with "length"."""
    p = D.parse(body())
    assert p.max_tokens == 16
    fitted = fit_reply(Reply(" ".join(["word"] * 40)), p)
    assert len(tokenize(fitted.text)) == 16 and fitted.finish == "length"
    assert D.parse(body(max_tokens=100)).max_tokens == 100
    assert D.parse(body(max_tokens=None)).max_tokens == 16


def test_parse() -> None:
    p = D.parse(body(stream=True, stop=["\n"], n=2, stream_options={"include_usage": True}))
    assert (p.route, p.model, p.stream, p.stop, p.n, p.include_usage) == (
        "openai-completions", MODEL, True, ("\n",), 2, True)
    assert p.last_user == "Say this is a test"


def test_new_context() -> None:
    c = D.new_context(D.parse(body()))
    assert re.fullmatch(r"cmpl-[A-Za-z0-9]{29}", c.id)
    assert re.fullmatch(r"fp_[0-9a-f]{10}", c.extra["system_fingerprint"])


def test_in_band_error() -> None:
    err = MockError(500, "boom", kind="server_error")
    assert D.in_band_error(err, ctx()) == (
        b'data: {"error":{"message":"boom","type":"server_error","param":null,"code":null}}\n\n')
    assert D.end_of_stream(ctx()) == b"data: [DONE]\n\n"


BAD: list[tuple[dict[str, Any], str, str | None]] = [
    ({"model": None}, "model", None),
    ({"model": []}, "model", "invalid_type"),
    ({"prompt": None}, "prompt", "missing_required_parameter"),
    ({"prompt": 5}, "prompt", "invalid_type"),
    ({"prompt": []}, "prompt", "invalid_type"),
    ({"prompt": ["a", 1]}, "prompt", "invalid_type"),
    ({"stream": 1}, "stream", "invalid_type"),
    ({"echo": "yes"}, "echo", "invalid_type"),
    ({"max_tokens": -1}, "max_tokens", "integer_below_min_value"),
    ({"n": 0}, "n", "integer_below_min_value"),
    ({"logprobs": 6}, "logprobs", "integer_above_max_value"),
    ({"stop": ["a"] * 5}, "stop", "array_above_max_length"),
    ({"stream_options": {"include_usage": True}}, "stream_options", None),
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
