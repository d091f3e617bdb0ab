"""The reference SSE parser: PROTOCOLS.md §1.10 vectors and the id/retry rules of §1.4-1.6."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sse_mock._parser import Event, SSEParser, parse


def msg(data: str, *, id: str = "", retry: int | None = None) -> Event:
    """A default-type ("message") event."""
    return Event(type="message", data=data, id=id, retry=retry)


# PROTOCOLS.md §1.10: (id, chunks of raw bytes, spec result).
PARSER_VECTORS: list[tuple[str, list[bytes], list[Event]]] = [
    ("P01", [b"data:hello\n\n"], [msg("hello")]),
    ("P02", [b"data:\thello\n\n"], [msg("\thello")]),
    ("P03", [b"data: a\r\ndata: b\r\n\r\n"], [msg("a\nb")]),
    ("P04", [b"data: a\rdata: b\r\r"], [msg("a\nb")]),
    ("P05", [b"data: a\r\ndata: b\rdata: c\n\n"], [msg("a\nb\nc")]),
    ("P06", [b"event: foo\n\ndata: x\n\n"], [msg("x")]),
    ("P07", [b"data: a\n: note\ndata: b\n\n"], [msg("a\nb")]),
    ("P08", [b"Data: x\ndata: y\n\n"], [msg("y")]),
    ("P09", [b" data: x\ndata: y\n\n"], [msg("y")]),
    ("P10", [b"id: 1\ndata: a\n\ndata: b\n\n"], [msg("a", id="1"), msg("b", id="1")]),
    ("P11", [b"id: 1\ndata: a\n\nid\ndata: b\n\n"], [msg("a", id="1"), msg("b", id="")]),
    ("P12", [b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n"], [msg("a", id="1"), msg("b", id="1")]),
    (
        "P13",
        [
            b"retry: 3000\nretry: 1000x\nretry: -1\nretry: +5\nretry:  10\nretry: 1.5\nretry\n"
            b"data: x\n\n"
        ],
        [msg("x", retry=3000)],
    ),
    ("P14", [b"data: a\n\ndata: b\n"], [msg("a")]),
    ("P15", [b"data: a\n\ndata: b"], [msg("a")]),
    ("P16", [b"\xef\xbb\xbfdata: a\n\n"], [msg("a")]),
    ("P17", [b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n"], [msg("b")]),
    ("P18", [b"data: \xff\xfe\n\n"], [msg("\ufffd\ufffd")]),
    (
        "P19",
        [
            b"data:\x00\ndata:  2\rData:1\ndata\x00:2\ndata:1\r\x00data:4\nda-ta:3\rdata_5\n"
            b"data:3\rdata:\r\n data:32\ndata:4\n\n"
        ],
        [msg("\x00\n 2\n1\n3\n\n4")],
    ),
    (
        "P20",
        [b"data:1\r:\x00\n:\r\ndata:2\n:xxx\rdata:3\n:data:fail\r:xxx\ndata:4\n\n"],
        [msg("1\n2\n3\n4")],
    ),
    ("P21", [b"data: a\r", b"\ndata: b\n\n"], [msg("a\nb")]),
]


def feed_all(chunks: list[bytes]) -> list[Event]:
    parser = SSEParser()
    events: list[Event] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events + parser.close()


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [pytest.param(chunks, events, id=vid) for vid, chunks, events in PARSER_VECTORS],
)
def test_parser_vectors(chunks: list[bytes], expected: list[Event]) -> None:
    assert feed_all(chunks) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [pytest.param(b"".join(chunks), events, id=vid) for vid, chunks, events in PARSER_VECTORS],
)
def test_parser_vectors_one_byte_at_a_time(raw: bytes, expected: list[Event]) -> None:
    assert feed_all([raw[i : i + 1] for i in range(len(raw))]) == expected
    assert parse(raw) == expected


def test_vector_table_is_complete() -> None:
    assert [v[0] for v in PARSER_VECTORS] == [f"P{n:02d}" for n in range(1, 22)]


# Line ends split across chunks (PROTOCOLS.md §1.2 step 2) ------------------------------------


def test_cr_then_empty_chunk_then_lf_is_one_line_end() -> None:
    assert feed_all([b"data: a\r", b"", b"\n", b"data: b\n\n"]) == [msg("a\nb")]


def test_cr_at_chunk_end_then_cr_is_two_line_ends() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\r") == [msg("a")]


def test_cr_at_chunk_end_dispatches_as_soon_as_the_empty_line_is_complete() -> None:
    # "data: a\r\r" -- the second CR is an empty line whatever follows it.
    parser = SSEParser()
    assert parser.feed(b"data: a\r\r") == [msg("a")]
    assert parser.feed(b"\ndata: b\n\n") == [msg("b")]  # that LF completed the CRLF


def test_lf_not_after_cr_is_a_line_end() -> None:
    assert feed_all([b"data: a\n", b"\n"]) == [msg("a")]


def test_crlf_as_the_empty_line_across_chunks() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\r\n\r") == [msg("a")]
    assert parser.feed(b"\ndata: b\r\n\r\n") == [msg("b")]


# Decoding and BOM (PROTOCOLS.md §1.2 step 1) ------------------------------------------------


def test_multibyte_character_split_across_chunks() -> None:
    raw = "data: é€😀\n\n".encode()
    assert feed_all([raw[:7], raw[7:9], raw[9:12], raw[12:]]) == [msg("é€😀")]


def test_bom_split_across_chunks_is_stripped() -> None:
    assert feed_all([b"\xef", b"\xbb", b"\xbfdata: a\n\n"]) == [msg("a")]


def test_bom_after_empty_first_chunk_is_stripped() -> None:
    assert feed_all([b"", b"\xef\xbb\xbfdata: a\n\n"]) == [msg("a")]


def test_bom_is_only_stripped_at_stream_start() -> None:
    # Not at the start of a later chunk: "\ufeffdata" is then an unknown field name.
    assert feed_all([b"data: a\n\n", b"\xef\xbb\xbfdata: b\n\n"]) == [msg("a")]


def test_truncated_utf8_at_end_of_stream_is_discarded_with_the_pending_data() -> None:
    assert feed_all([b"data: a\n\ndata: \xe2\x82"]) == [msg("a")]


def test_truncated_utf8_inside_an_event_becomes_replacement_character() -> None:
    assert parse(b"data: \xe2\x82\n\n") == [msg("\ufffd")]


# id persistence and reset (PROTOCOLS.md §1.4, §1.5 step 1, §1.6) ------------------------------


def test_id_only_block_updates_last_event_id_without_an_event() -> None:
    parser = SSEParser()
    assert parser.feed(b"id: 7\n\n") == []
    assert parser.last_event_id == "7"
    assert parser.feed(b"data: x\n\n") == [msg("x", id="7")]


def test_id_is_not_applied_before_the_block_ends() -> None:
    parser = SSEParser()
    assert parser.feed(b"id: 1\ndata: a\n") == []
    assert parser.last_event_id == ""
    assert parser.feed(b"\n") == [msg("a", id="1")]
    assert parser.last_event_id == "1"


def test_id_in_an_unterminated_last_block_is_discarded() -> None:
    # WPT format-data-before-final-empty-line: the id of the lost event is lost too.
    parser = SSEParser()
    assert parser.feed(b"data:test1\n\nid:test\ndata:test2") == [msg("test1")]
    assert parser.close() == []
    assert parser.last_event_id == ""


def test_empty_id_resets_last_event_id() -> None:
    parser = SSEParser()
    parser.feed(b"id: 5\ndata: a\n\n")
    assert parser.last_event_id == "5"
    assert parser.feed(b"id:\ndata: b\n\n") == [msg("b", id="")]
    assert parser.last_event_id == ""


def test_id_with_nul_is_ignored_and_keeps_the_previous_id() -> None:
    parser = SSEParser()
    parser.feed(b"id: 5\n\n")
    assert parser.feed(b"id: 6\x00\ndata: b\n\n") == [msg("b", id="5")]
    assert parser.last_event_id == "5"


def test_id_persists_and_the_last_id_field_of_a_block_wins() -> None:
    events = parse(b"id: 1\nid: 2\ndata: a\n\ndata: b\n\nid: 3\ndata: c\n\n")
    assert [e.id for e in events] == ["2", "2", "3"]


def test_id_set_by_a_data_less_event_block_carries_to_the_next_event() -> None:
    # The event type of that block is forgotten (§1.5 step 2); its id is not.
    assert parse(b"event: x\nid: 9\n\ndata: y\n\n") == [msg("y", id="9")]


def test_id_value_keeps_spaces_after_the_first() -> None:
    assert parse(b"id:  a b \ndata: x\n\n") == [msg("x", id=" a b ")]


# retry (PROTOCOLS.md §1.4) --------------------------------------------------------------------


def test_retry_is_none_until_set_and_recorded_per_event() -> None:
    parser = SSEParser()
    assert parser.retry is None
    assert parser.feed(b"data: a\n\nretry: 500\ndata: b\n\nretry: 0\n\ndata: c\n\n") == [
        msg("a"),
        msg("b", retry=500),
        msg("c", retry=0),
    ]
    assert parser.retry == 0


def test_retry_takes_effect_immediately_even_without_dispatch() -> None:
    parser = SSEParser()
    assert parser.feed(b"retry: 1234\n") == []
    assert parser.retry == 1234


@pytest.mark.parametrize("value", ["", " 5", "١٢", "²", "1_000", "0x10", "5 "])
def test_retry_needs_ascii_digits(value: str) -> None:
    parser = SSEParser()
    parser.feed(f"retry: 100\n\nretry: {value}\n\n".encode())  # one space is stripped
    assert parser.retry == 100


def test_retry_leading_zeros_and_big_values() -> None:
    assert parse(b"retry: 007\ndata: x\n\n") == [msg("x", retry=7)]
    assert parse(b"retry: 99999999999999999999\ndata: x\n\n")[0].retry == 99999999999999999999


# Field and dispatch rules (PROTOCOLS.md §1.3, §1.5) -------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(b"data\n\n", [msg("")], id="data-without-colon"),
        pytest.param(b"data:\n\n", [msg("")], id="data-colon-only"),
        pytest.param(b"data\ndata\n\n", [msg("\n")], id="two-empty-data-lines"),
        pytest.param(b"event: e\ndata: x\n\n", [Event(type="e", data="x")], id="event-type"),
        pytest.param(b"event:\ndata: x\n\n", [msg("x")], id="empty-event-is-message"),
        pytest.param(b"event: a\nevent: b\ndata: x\n\n", [Event(type="b", data="x")], id="last"),
        pytest.param(b"data:  x \n\n", [msg(" x ")], id="one-space-stripped"),
        pytest.param(b"data: a:b: c\n\n", [msg("a:b: c")], id="first-colon-splits"),
        pytest.param(b"foo: bar\n\n", [], id="unknown-field-no-data"),
        pytest.param(b"\n\n\n", [], id="empty-lines-only"),
        pytest.param(b": comment\n\n", [], id="comment-block"),
        pytest.param(b"", [], id="empty-stream"),
    ],
)
def test_fields_and_dispatch(raw: bytes, expected: list[Event]) -> None:
    assert parse(raw) == expected


def test_event_type_is_reset_after_each_dispatch() -> None:
    assert parse(b"event: e\ndata: 1\n\ndata: 2\n\n") == [Event(type="e", data="1"), msg("2")]


# close() ---------------------------------------------------------------------------------------


def test_close_returns_nothing_and_ends_the_stream() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\n\ndata: b\n") == [msg("a")]
    assert parser.close() == []
    assert parser.close() == []
    with pytest.raises(RuntimeError):
        parser.feed(b"\n")


def test_close_keeps_last_event_id_and_retry() -> None:
    parser = SSEParser()
    parser.feed(b"id: 3\nretry: 10\ndata: a\n\n")
    parser.close()
    assert (parser.last_event_id, parser.retry) == ("3", 10)


# Chunking never changes the result --------------------------------------------------------------

_PIECES = st.sampled_from(
    [b"data", b"data:", b": ", b"event: e", b"id: 1", b"id", b"retry: 5", b"\r", b"\n", b"\r\n"]
    + [b"\xef\xbb\xbf", b"\xc3\xa9", b"\xff", b"\x00", b"x", b"Data", b":"]
)


@given(
    pieces=st.lists(_PIECES, max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
def test_any_chunking_gives_the_same_events(pieces: list[bytes], cuts: list[int]) -> None:
    raw = b"".join(pieces)
    bounds = sorted({0, len(raw), *(c for c in cuts if c <= len(raw))})
    chunks = [raw[a:b] for a, b in pairwise(bounds)]
    assert feed_all(chunks) == parse(raw)
