"""SSEFormatter: the byte-exact vectors of PROTOCOLS.md §1.9, its errors, and round trips."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sse_mock._parser import Event, SSEParser, parse
from sse_mock.formatter import SSEFormatter

fmt = SSEFormatter()

# PROTOCOLS.md §1.9: (id, call, exact bytes, events a conforming parser yields).
FORMAT_VECTORS: list[tuple[str, Callable[[SSEFormatter], bytes], bytes, list[Event]]] = [
    ("F01", lambda f: f.format(data="hello"), b"data: hello\n\n", [Event(data="hello")]),
    ("F02", lambda f: f.format(data=""), b"data:\n\n", [Event(data="")]),
    ("F04", lambda f: f.format(data="a\nb"), b"data: a\ndata: b\n\n", [Event(data="a\nb")]),
    ("F05", lambda f: f.format(data="a\n"), b"data: a\ndata:\n\n", [Event(data="a\n")]),
    ("F06", lambda f: f.format(data="\n"), b"data:\ndata:\n\n", [Event(data="\n")]),
    ("F07", lambda f: f.format(data="a\r\nb"), b"data: a\ndata: b\n\n", [Event(data="a\nb")]),
    ("F08", lambda f: f.format(data="a\rb"), b"data: a\ndata: b\n\n", [Event(data="a\nb")]),
    ("F09", lambda f: f.format(data=" lead"), b"data:  lead\n\n", [Event(data=" lead")]),
    ("F10", lambda f: f.format(data="  two"), b"data:   two\n\n", [Event(data="  two")]),
    ("F11", lambda f: f.format(data=":colon"), b"data: :colon\n\n", [Event(data=":colon")]),
    (
        "F12",
        lambda f: f.format(data="x", event="token"),
        b"event: token\ndata: x\n\n",
        [Event(type="token", data="x")],
    ),
    ("F13", lambda f: f.format(data="x", event=""), b"data: x\n\n", [Event(data="x")]),
    (
        "F14",
        lambda f: f.format(data="x", event="message"),
        b"event: message\ndata: x\n\n",
        [Event(data="x")],
    ),
    (
        "F15",
        lambda f: f.format(data="x", event=" padded"),
        b"event:  padded\ndata: x\n\n",
        [Event(type=" padded", data="x")],
    ),
    (
        "F16",
        lambda f: f.format(data="x", event="a:b"),
        b"event: a:b\ndata: x\n\n",
        [Event(type="a:b", data="x")],
    ),
    (
        "F18",
        lambda f: f.format(data="x", id="42"),
        b"id: 42\ndata: x\n\n",
        [Event("message", "x", "42")],
    ),
    ("F19", lambda f: f.format(data="x", id=""), b"id:\ndata: x\n\n", [Event(data="x", id="")]),
    ("F22", lambda f: f.format(id="7"), b"id: 7\n\n", []),
    ("F23", lambda f: f.format(retry=3000), b"retry: 3000\n\n", []),
    (
        "F24",
        lambda f: f.format(data="x", retry=0),
        b"retry: 0\ndata: x\n\n",
        [Event(data="x", retry=0)],
    ),
    (
        "F28",
        lambda f: f.format(data="a\u2028b\x0bc\x85d"),
        b"data: a\xe2\x80\xa8b\x0bc\xc2\x85d\n\n",
        [Event(data="a\u2028b\x0bc\x85d")],
    ),
    ("F29", lambda f: f.format(data="\x00"), b"data: \x00\n\n", [Event(data="\x00")]),
    (
        "F30",
        lambda f: f.format(data="\ufeffx"),
        b"data: \xef\xbb\xbfx\n\n",
        [Event(data="\ufeffx")],
    ),
    ("F32", lambda f: f.format(data="[DONE]"), b"data: [DONE]\n\n", [Event(data="[DONE]")]),
    ("F33", lambda f: f.comment(""), b":\n", []),
    ("F34", lambda f: f.comment("ping"), b": ping\n", []),
    ("F35", lambda f: f.comment("a\nb"), b": a\n: b\n", []),
    (
        "F36",
        lambda f: f.format(data='{"a":1}', event="x", id="1", retry=10),
        b'event: x\nid: 1\nretry: 10\ndata: {"a":1}\n\n',
        [Event(type="x", data='{"a":1}', id="1", retry=10)],
    ),
    (
        "F37",
        lambda f: f.comment("ping") + f.format(data="x"),
        b": ping\ndata: x\n\n",
        [Event(data="x")],
    ),
    ("F38", lambda f: f.comment("ping", blank_line=True), b": ping\n\n", []),
]


@pytest.mark.parametrize(
    ("call", "expected", "events"),
    [pytest.param(call, raw, events, id=vid) for vid, call, raw, events in FORMAT_VECTORS],
)
def test_format_vectors(
    call: Callable[[SSEFormatter], bytes], expected: bytes, events: list[Event]
) -> None:
    raw = call(SSEFormatter())
    assert raw == expected
    # The "conforming parser yields" column of §1.9.
    assert parse(raw) == events


def test_f22_id_only_block_sets_last_event_id() -> None:
    parser = SSEParser()
    assert parser.feed(SSEFormatter().format(id="7")) == []
    assert parser.last_event_id == "7"


def test_f23_retry_only_block_sets_reconnection_time() -> None:
    parser = SSEParser()
    assert parser.feed(SSEFormatter().format(retry=3000)) == []
    assert parser.retry == 3000


# PROTOCOLS.md §1.9: the vectors that must raise ValueError.
ERROR_VECTORS: list[tuple[str, Callable[[SSEFormatter], bytes]]] = [
    ("F03", lambda f: f.format()),
    ("F17", lambda f: f.format(data="x", event="bad\nname")),
    ("F20", lambda f: f.format(data="x", id="a\x00b")),
    ("F21", lambda f: f.format(data="x", id="a\rb")),
    ("F25", lambda f: f.format(data="x", retry=-1)),
    ("F26", lambda f: f.format(data="x", retry=True)),
    ("F27", lambda f: f.format(data="x", retry=1.5)),  # type: ignore[arg-type]
    ("F31", lambda f: f.format(data="\ud800")),
]


@pytest.mark.parametrize("call", [pytest.param(c, id=vid) for vid, c in ERROR_VECTORS])
def test_error_vectors(call: Callable[[SSEFormatter], bytes]) -> None:
    with pytest.raises(ValueError):
        call(SSEFormatter())


def test_vector_table_is_complete() -> None:
    """F01-F38 are all here: the error vectors in ERROR_VECTORS, the others in FORMAT_VECTORS."""
    ids = sorted([v[0] for v in FORMAT_VECTORS] + [v[0] for v in ERROR_VECTORS])
    assert ids == [f"F{n:02d}" for n in range(1, 39)]


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda f: f.format(event=""), id="empty-event-only"),
        pytest.param(lambda f: f.format(data="x", event="bad\rname"), id="event-cr"),
        pytest.param(lambda f: f.format(data="x", event="a\r\nb"), id="event-crlf"),
        pytest.param(lambda f: f.format(data="x", id="a\nb"), id="id-lf"),
        pytest.param(lambda f: f.format(data="x", retry=False), id="retry-false"),
        pytest.param(lambda f: f.format(data="x", retry="10"), id="retry-str"),
        pytest.param(lambda f: f.format(retry=-5), id="retry-negative-alone"),
        pytest.param(lambda f: f.format(data="a\nb\ud800"), id="surrogate-multiline"),
        pytest.param(lambda f: f.format(data="x", event="\udfff"), id="surrogate-event"),
        pytest.param(lambda f: f.format(data="x", id="\ud800"), id="surrogate-id"),
        pytest.param(lambda f: f.comment("\ud800"), id="surrogate-comment"),
        pytest.param(lambda f: f.json("\ud800"), id="surrogate-json"),
        pytest.param(lambda f: f.json("x", event="a\nb"), id="json-event-lf"),
    ],
)
def test_more_value_errors(call: Callable[[SSEFormatter], bytes]) -> None:
    with pytest.raises(ValueError):
        call(SSEFormatter())


def test_lone_surrogate_raises_unicode_encode_error() -> None:
    # PROTOCOLS.md §1.8 F-8: strict UTF-8, never a silent replacement.
    with pytest.raises(UnicodeEncodeError):
        SSEFormatter().format("\ud800")


@pytest.mark.parametrize(
    ("call", "name"),
    [
        pytest.param(lambda f: f.format(b"x"), "data", id="data-bytes"),
        pytest.param(lambda f: f.format(1), "data", id="data-int"),
        pytest.param(lambda f: f.format(b"a\nb", event="e"), "data", id="data-bytes-general"),
        pytest.param(lambda f: f.format("x", event=b"e"), "event", id="event-bytes"),
        pytest.param(lambda f: f.format("x", id=42), "id", id="id-int"),
        pytest.param(lambda f: f.format(id=b"1"), "id", id="id-bytes"),
        pytest.param(lambda f: f.comment(None), "text", id="comment-none"),
    ],
)
def test_type_errors(call: Callable[[SSEFormatter], bytes], name: str) -> None:
    with pytest.raises(TypeError, match=rf"^{name} must be a str, got "):
        call(SSEFormatter())


def test_event_without_data_is_written_but_fires_nothing() -> None:
    # PROTOCOLS.md §1.8 F-4, §1.5 step 2: no data line, so no event, and the type is forgotten.
    raw = SSEFormatter().format(event="token")
    assert raw == b"event: token\n\n"
    assert parse(raw + SSEFormatter().format("x")) == [Event(data="x")]


def test_retry_accepts_int_subclass_as_plain_digits() -> None:
    class Millis(int):
        def __str__(self) -> str:
            return "not digits"

    assert SSEFormatter().format(retry=Millis(25)) == b"retry: 25\n\n"


def test_str_subclass_data_is_accepted() -> None:
    class Text(str):
        pass

    assert SSEFormatter().format(Text("hi")) == b"data: hi\n\n"


def test_comment_crlf_and_cr_split_like_data() -> None:
    assert SSEFormatter().comment("a\r\nb\rc\n") == b": a\n: b\n: c\n:\n"
    assert SSEFormatter().comment("a\nb", blank_line=True) == b": a\n: b\n\n"


def test_comment_does_not_split_on_other_line_separators() -> None:
    assert SSEFormatter().comment("a\u2028b\x0cc") == b": a\xe2\x80\xa8b\x0cc\n"


@pytest.mark.parametrize(
    ("obj", "event", "expected"),
    [
        ({"a": 1, "b": [1, 2]}, None, b'data: {"a":1,"b":[1,2]}\n\n'),
        ({"t": "é\n\r"}, None, b'data: {"t":"\xc3\xa9\\n\\r"}\n\n'),
        ("\u2028", "x", b'event: x\ndata: "\xe2\x80\xa8"\n\n'),
        (None, "ping", b"event: ping\ndata: null\n\n"),
    ],
)
def test_json(obj: object, event: str | None, expected: bytes) -> None:
    # PROTOCOLS.md §1.8 F-13: compact, UTF-8, always one data line.
    assert SSEFormatter().json(obj, event=event) == expected


def test_formatter_keeps_no_state() -> None:
    f = SSEFormatter()
    assert f.format("x", id="1") == f.format("x", id="1") == b"id: 1\ndata: x\n\n"
    assert f.format("x") == b"data: x\n\n"


# Round trip ---------------------------------------------------------------------------------

_SCALAR = st.characters(exclude_categories=["Cs"])  # any Unicode scalar value
# Characters that matter to SSE, drawn often so the interesting cases are not rare.
_SPECIAL = st.sampled_from(["\r", "\n", "\r\n", " ", ":", "\x00", "\ufeff", "\u2028", "\x85"])
data_text = st.lists(st.one_of(_SPECIAL, st.text(_SCALAR, max_size=5))).map("".join)
event_names = st.none() | st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\r\n")
)
ids = st.none() | st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\x00"))
retries = st.none() | st.integers(min_value=0)


@given(data=data_text, event=event_names, id_=ids, retry=retries)
def test_round_trip(data: str, event: str | None, id_: str | None, retry: int | None) -> None:
    raw = fmt.format(data, event=event, id=id_, retry=retry)
    expected = Event(
        type=event or "message",  # §1.5: "" is the default type
        data=re.sub(r"\r\n|\r", "\n", data),  # §1.8 F-3: CR cannot be represented
        id=id_ or "",
        retry=retry,
    )
    assert parse(raw) == [expected]


@given(data=data_text)
def test_fast_path_matches_general_path(data: str) -> None:
    # format() takes its fast path for plain one-line str data; _format() is the general path.
    assert fmt.format(data) == fmt._format(data, None, None, None)


# Lone surrogates included (st.characters() allows them): both paths must raise alike.
any_text = st.lists(st.one_of(st.just("\udc80"), _SPECIAL, st.text(st.characters()))).map("".join)


@given(data=any_text)
def test_fast_path_matches_general_path_any_text(data: str) -> None:
    def run(call: Callable[[], bytes]) -> bytes | type[BaseException]:
        try:
            return call()
        except ValueError as exc:
            return type(exc)

    assert run(lambda: fmt.format(data)) == run(lambda: fmt._format(data, None, None, None))


@given(data=data_text)
def test_comment_then_event_parses_as_the_event(data: str) -> None:
    # PROTOCOLS.md §1.9 F37: comment lines before (or between) events are ignored.
    raw = fmt.comment(data) + fmt.format(data)
    assert parse(raw) == [Event(data=re.sub(r"\r\n|\r", "\n", data))]
