"""Record and replay, the pure parts: cutting streams into whole events (PROTOCOLS.md §1.1–1.3),
the cassette file, redaction, fingerprints and the strict-mode diff, the folder store, and the
replay clock (a fake one: these tests never sleep)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from sse_mock.dialects.base import Frame
from sse_mock.faults import StreamAbort, apply_stream_fault, parse_fault
from sse_mock.upstream.cassette import Cassette, CassetteError, Redactor, Request, differences
from sse_mock.upstream.events import EventSplitter, is_content
from sse_mock.upstream.replay import closing, frames, timed
from sse_mock.upstream.store import CassetteStore

# -- the splitter: whole units, same bytes -----------------------------------------------------

STREAM = (b": ok\n"
          b"data: {\"a\":1}\n\n"
          b"event: x\r\ndata: two\r\ndata: lines\r\n\r\n"
          b": ping\n"
          b"id: 3\rdata: cr\r\r"
          b"data: [DONE]\n\n")
UNITS = [b": ok\n", b"data: {\"a\":1}\n\n", b"event: x\r\ndata: two\r\ndata: lines\r\n\r\n",
         b": ping\n", b"id: 3\rdata: cr\r\r", b"data: [DONE]\n\n"]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_splitter_cuts_at_event_boundaries_whatever_the_chunks(size: int) -> None:
    splitter = EventSplitter()
    out: list[bytes] = []
    for i in range(0, len(STREAM), size):
        out += splitter.feed(STREAM[i:i + size])
    assert out == UNITS
    assert splitter.close() == b""


def test_splitter_holds_a_final_cr_until_the_next_byte() -> None:
    # §1.2 step 2: "data: a\r" + "\n\n" is one line end then the empty line, not two empties.
    splitter = EventSplitter()
    assert splitter.feed(b"data: a\r") == []
    assert splitter.feed(b"\n") == []
    assert splitter.feed(b"\n") == [b"data: a\r\n\n"]


def test_splitter_comment_inside_an_event_stays_with_it() -> None:
    splitter = EventSplitter()
    assert splitter.feed(b"data: a\n: note\ndata: b\n\n") == [b"data: a\n: note\ndata: b\n\n"]


def test_splitter_returns_an_unfinished_event_at_close() -> None:
    splitter = EventSplitter()
    assert splitter.feed(b"data: a\n\ndata: cut") == [b"data: a\n\n"]
    assert splitter.close() == b"data: cut"


def test_ndjson_splitter_cuts_lines() -> None:
    splitter = EventSplitter(ndjson=True)
    assert splitter.feed(b' {"a":1}\n{"b"') == [b' {"a":1}\n']
    assert splitter.feed(b':2}\n') == [b'{"b":2}\n']


@pytest.mark.parametrize(("unit", "content"), [
    (b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n', True),
    (b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n', False),
    (b'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0}]}}]}\n\n', True),
    (b'data: {"choices":[{"index":0,"text":"Hi"}]}\n\n', True),
    (b"data: [DONE]\n\n", False),
    (b'event: content_block_delta\ndata: {"type":"content_block_delta"}\n\n', True),
    (b'event: message_stop\ndata: {"type":"message_stop"}\n\n', False),
    (b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta"}\n\n', True),
    (b": ping\n", False),
    (b"data: Hello\n\n", True),
    (b'{"message":{"content":"Hi"},"done":false}\n', True),
    (b'{"done":true}\n', False),
])
def test_content_events_are_told_apart(unit: bytes, content: bool) -> None:
    assert is_content(unit) is content


# -- requests: redaction, fingerprint, name ----------------------------------------------------

SECRET = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123"


def build(body: dict[str, Any], fields: tuple[str, ...] = ("*",), query: str = "",
          redactor: Redactor | None = None, path: str = "/v1/chat/completions") -> Request:
    return Request.build(route="openai-chat", family="openai", method="POST", path=path,
                         query_string=query,
                         headers={"authorization": f"Bearer {SECRET}", "x-api-key": SECRET,
                                  "anthropic-version": "2023-06-01", "user-agent": "x"},
                         body=body, model=str(body.get("model", "")),
                         stream=bool(body.get("stream")), fields=fields,
                         redactor=redactor or Redactor(), drop_params={"fault"})


BODY = {"model": "gpt-4o-mini", "stream": True, "temperature": 0.5,
        "messages": [{"role": "system", "content": "Be brief"},
                     {"role": "user", "content": "Hi"},
                     {"role": "assistant", "content": "Hello"},
                     {"role": "user", "content": "How are you?"}]}


def test_request_keeps_no_credentials_and_no_mock_controls() -> None:
    body = {**BODY, "user": f"my key is {SECRET}"}
    request = build(body, query=f"key=AIza{'x' * 35}&fault=rate_limit&alt=sse",
                    redactor=Redactor(patterns=[r"hunter\d"]))
    text = json.dumps(request.to_json())
    assert SECRET not in text and "AIza" not in text and "fault" not in text
    assert request.query == (("alt", "sse"),)
    assert request.headers == {"anthropic-version": "2023-06-01"}
    assert request.body["user"] == "my key is [REDACTED]"
    assert Redactor(patterns=[r"hunter\d"]).text("pw hunter2!") == "pw [REDACTED]!"
    assert not Redactor(headers=["X-Org"]).keeps_header("x-org")


def test_fingerprint_follows_the_match_fields() -> None:
    a = build(BODY)
    assert a.name == f"openai-chat--gpt-4o-mini--{a.fingerprint[:10]}.json"
    assert build(dict(BODY)).fingerprint == a.fingerprint  # same body, same cassette
    warmer = {**BODY, "temperature": 0.9}
    assert build(warmer).fingerprint != a.fingerprint
    narrow = ("model", "messages")
    assert build(warmer, narrow).fingerprint == build(BODY, narrow).fingerprint
    nested = ("model", "messages.3.content", "nope.deep")
    assert build({**BODY, "x": {"y": 1}}, ("x.y",)).selected() == {"x.y": 1}
    assert build(BODY, nested).selected() == {"model": "gpt-4o-mini"}  # lists: no dotted index
    assert build(BODY, path="/v1/responses").fingerprint != a.fingerprint
    assert build(BODY, query="alt=sse").fingerprint != a.fingerprint
    # Streamed or not always counts, whatever the match fields.
    assert build({**BODY, "stream": False}, narrow).fingerprint != build(BODY, narrow).fingerprint


def test_model_names_are_made_safe_for_file_names() -> None:
    request = build({**BODY, "model": "../../etc/passwd x"})
    assert "/" not in request.name and " " not in request.name
    assert request.name.startswith("openai-chat--etc_passwd_x--")
    assert build({"messages": []}).name.startswith("openai-chat--no-model--")


def test_differences_name_the_first_place() -> None:
    other = json.loads(json.dumps(BODY))
    other["messages"][2]["content"] = "Hey"
    assert differences(BODY, other) == ["messages[2].content"]
    assert differences({"a": [1, 2]}, {"a": [1]}) == ["a[1]"]
    assert differences({"a": 1}, {"b": 1}) == ["a", "b"]
    assert differences(1, 1.0) == ["(the whole request)"]  # same value, other type


# -- the file -----------------------------------------------------------------------------------

EVENTS = [(0.1, b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n'),
          (0.25, b": ping\n"),
          (0.3, "data: caf\u00e9 \u2028\n\n".encode()),
          (0.4, b"data: \xff\xfe broken\n\n"),
          (0.5, b"data: [DONE]\n\n")]


def test_cassette_round_trips_byte_exact_and_reads_like_a_transcript() -> None:
    cassette = Cassette(build(BODY), 200, "text/event-stream", [("x-request-id", "req_1")],
                        events=list(EVENTS))
    text = cassette.dumps()
    back = Cassette.loads(text)
    assert back.events == EVENTS
    assert back.request == cassette.request
    assert back.headers == [("x-request-id", "req_1")]
    assert back.duration == 0.5
    # One line per event, readable text (not escaped bytes), the request on top.
    lines = text.splitlines()
    assert sum('"event":' in line for line in lines) == len(EVENTS)
    assert "café" in text
    assert text.index('"request"') < text.index('"events"')
    body = Cassette(build({**BODY, "stream": False}), 200, "application/json", [],
                    body=b'{"id":"x"}', body_at=0.2)
    again = Cassette.loads(body.dumps())
    assert again.body == b'{"id":"x"}' and again.body_at == 0.2 and not again.streamed


@pytest.mark.parametrize("text", ["", "[]", '{"sse_mock_cassette": 2}',
                                  '{"sse_mock_cassette": 1, "request": {}}'])
def test_bad_cassettes_say_so(text: str) -> None:
    with pytest.raises(CassetteError, match="f.json"):
        Cassette.loads(text, "f.json")


def test_store_finds_saves_atomically_and_sees_rewrites(tmp_path: Path) -> None:
    store = CassetteStore(tmp_path / "new")
    request = build(BODY)
    assert store.find(request) is None  # no folder yet
    cassette = Cassette(request, 200, "text/event-stream", [], events=EVENTS[:1])
    path = store.save(cassette)
    assert path.name == request.name
    assert [p.name for p in path.parent.iterdir()] == [request.name]  # no temporary left
    found = store.find(request)
    assert found is not None and found.events == EVENTS[:1]
    assert store.find(request) is found  # cached
    # Another worker re-records it: a new modification time and size.
    store2 = CassetteStore(tmp_path / "new")
    store2.save(Cassette(request, 200, "text/event-stream", [], events=EVENTS))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    again = store.find(request)
    assert again is not None and again.events == EVENTS
    path.write_text("{broken")
    with pytest.raises(CassetteError, match=request.name):
        store.find(request)


def test_store_cache_is_bounded_in_bytes(tmp_path: Path) -> None:
    store = CassetteStore(tmp_path, cache_bytes=3000)
    for i in range(10):
        request = build({**BODY, "seed": i})
        store.save(Cassette(request, 200, "text/event-stream", [], events=EVENTS))
        assert store.find(request) is not None
    assert store._cached <= 3000 and len(store._cache) < 10


def test_nearest_cassette_names_the_difference(tmp_path: Path) -> None:
    store = CassetteStore(tmp_path)
    assert store.nearest(build(BODY)) == f"no cassette for openai-chat in {tmp_path}"
    store.save(Cassette(build(BODY), 200, "text/event-stream", [], events=EVENTS))
    far = json.loads(json.dumps(BODY))
    far["messages"] = []
    store.save(Cassette(build(far), 200, "text/event-stream", [], events=EVENTS))
    asked = json.loads(json.dumps(BODY))
    asked["messages"][2]["content"] = "Hey"
    assert store.nearest(build(asked)) == (
        f"the nearest cassette, {build(BODY).name}, differs in messages[2].content")


# -- replay: frames and the clock ---------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds + 0.003  # every wake-up is late: the schedule must not drift


def run(stream: Any, clock: FakeClock, live: bool = False) -> list[tuple[float, bytes]]:
    out = []
    for chunk in timed(stream, live=live, clock=clock, sleep=clock.sleep):
        out.append((round(clock.now - 100.0, 6), chunk))
    return out


def test_replay_keeps_recorded_offsets_without_drift() -> None:
    cassette = Cassette(build(BODY), 200, "text/event-stream", [], events=list(EVENTS))
    clock = FakeClock()
    out = run(frames(cassette, 1.0), clock)
    assert out[0] == (0.0, b": ok\n")  # at once
    assert b"".join(c for _, c in out[1:]) == b"".join(e for _, e in EVENTS)
    # Each event leaves at its recorded offset (+ the 3 ms late wake-up, never accumulated).
    assert [t for t, _ in out[1:]] == [0.103, 0.253, 0.303, 0.403, 0.503]
    assert clock.sleeps == [0.1, 0.147, 0.047, 0.097, 0.097]


def test_replay_speed_scales_and_zero_sends_everything_at_once() -> None:
    cassette = Cassette(build(BODY), 200, "text/event-stream", [], events=list(EVENTS))
    clock = FakeClock()
    assert [t for t, _ in run(frames(cassette, 2.0), clock)][1:] == [
        0.053, 0.128, 0.153, 0.203, 0.253]
    clock = FakeClock()
    out = run(frames(cassette, 0), clock)
    assert clock.sleeps == [] and len(out) == 2  # ": ok" then one write of every event
    assert [f.token for f in frames(cassette, None)] == [True, False, True, True, False]


def test_live_frames_leave_one_by_one() -> None:
    clock = FakeClock()
    out = run([Frame(b"data: a\n\n"), Frame(b"data: b\n\n")], clock, live=True)
    assert [c for _, c in out] == [b": ok\n", b"data: a\n\n", b"data: b\n\n"]


def test_faults_compose_with_a_replay() -> None:
    events = [(0.1 * i, f'data: {{"choices":[{{"delta":{{"content":"{i}"}}}}]}}\n\n'.encode())
              for i in range(1, 6)]
    cassette = Cassette(build(BODY), 200, "text/event-stream", [], events=events)

    class Dialect:
        def in_band_error(self, error: Any, ctx: Any) -> bytes:
            return b'data: {"error":{}}\n\n'

        def end_of_stream(self, ctx: Any) -> bytes:
            return b"data: [DONE]\n\n"

    clock = FakeClock()
    dropped = apply_stream_fault(frames(cassette, 1.0), parse_fault("disconnect_after:3"),
                                 Dialect(), None)  # type: ignore[arg-type]
    sent: list[bytes] = []
    with pytest.raises(StreamAbort):
        for chunk in timed(dropped, clock=clock, sleep=clock.sleep):
            sent.append(chunk)
    assert b"".join(sent) == b": ok\n" + b"".join(e for _, e in events[:3])
    clock = FakeClock()
    errored = apply_stream_fault(frames(cassette, 1.0), parse_fault("error_after:2"),
                                 Dialect(), None)  # type: ignore[arg-type]
    out = b"".join(c for _, c in run(errored, clock))
    assert out.endswith(events[1][1] + b'data: {"error":{}}\n\ndata: [DONE]\n\n')


def test_closing_runs_close_even_if_never_iterated() -> None:
    closed: list[str] = []

    def gen() -> Any:
        try:
            yield b"x"
        finally:
            closed.append("generator")  # pragma: no cover - never started

    wrapper = closing(gen(), lambda: closed.append("upstream"))
    wrapper.close()
    assert closed == ["upstream"]
