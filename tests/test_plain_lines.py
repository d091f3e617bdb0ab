"""``/mock/stream`` keeps line breaks (issue 12.7): a word followed by line breaks is one event
whose data carries them, as multi-line ``data:`` (PROTOCOLS.md §1.8 F-3); one event per word."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from werkzeug.test import Client

from sse_mock import create_app
from sse_mock.testing import read_events

MARKDOWN = "Shopping list:\n\n- apples\n- pears and plums\n\nThat is all."


def rebuild(datas: list[str]) -> str:
    """The documented way back: a space between events, none after one ending in a break."""
    out = ""
    for data in datas:
        out += data if data.endswith("\n") else data + " "
    return out.rstrip(" ")


@pytest.mark.parametrize("reply", [MARKDOWN, "one line only", "a\r\nb\rc", "x\n\n\ny"])
def test_the_reply_arrives_with_its_line_breaks(reply: str) -> None:
    client = Client(create_app(delay=0))
    events = read_events(client.get("/mock/stream?reply=" + quote(reply)))
    datas = [e.data for e in events]
    assert datas[-1] == "[DONE]"
    expected = reply.replace("\r\n", "\n").replace("\r", "\n")
    assert rebuild(datas[:-1]) == expected
    assert len(datas) - 1 == len(reply.split())  # one event per word: the pacing unit


def without_ids(body: bytes) -> bytes:
    return re.sub(rb"id: [^\n]*\n", b"", body)


def test_bytes_are_multi_line_data_and_unchanged_without_breaks() -> None:
    client = Client(create_app(delay=0, reply="Items:\n- one"))
    body = without_ids(client.get("/mock/stream").get_data())
    assert b"data: Items:\ndata:\n\ndata: -\n\ndata: one\n\ndata: [DONE]\n\n" in body
    body = without_ids(Client(create_app(delay=0, reply="a b")).get("/mock/stream").get_data())
    assert body.endswith(b"data: a\n\ndata: b\n\ndata: [DONE]\n\n")
