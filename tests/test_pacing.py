"""The pacer against a fake clock: due times on an absolute timeline, batching, heartbeats."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest

from sse_mock.dialects.base import Frame, Steady
from sse_mock.pacing import FIRST_CHUNK, HEARTBEAT, MAX_BATCH, Pacer, Timing


class FakeClock:
    """A monotonic clock that only moves when slept on (plus an optional per-sleep lag)."""

    def __init__(self, lag: float = 0.0) -> None:
        self.now = 100.0
        self.lag = lag
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds + self.lag


def run(frames: list[Frame], timing: Timing, lag: float = 0.0) -> list[tuple[float, bytes]]:
    fake = FakeClock(lag)
    out = []
    for chunk in Pacer(fake.clock, fake.sleep).pace(frames, timing):
        out.append((round(fake.now - 100.0, 6), chunk))
    return out


def tokens(n: int) -> list[Frame]:
    return [Frame(f"data: {i}\n\n".encode(), token=True) for i in range(n)]


def test_first_chunk_is_immediate_and_alone_when_the_first_token_is_not_due() -> None:
    out = run(tokens(2), Timing(interval=0.5, first_token_delay=1.0))
    assert out[0] == (0.0, FIRST_CHUNK)
    assert out[1] == (1.0, b"data: 0\n\n")
    assert out[2] == (1.5, b"data: 1\n\n")


def test_frames_due_at_once_share_one_write() -> None:
    frames = [Frame(b"data: start\n\n"), *tokens(3), Frame(b"data: [DONE]\n\n")]
    out = run(frames, Timing(interval=0.0))
    assert out == [(0.0, FIRST_CHUNK + b"data: start\n\ndata: 0\n\ndata: 1\n\ndata: 2\n\n"
                    b"data: [DONE]\n\n")]


def test_unpaced_frames_follow_the_frame_before_them() -> None:
    frames = [*tokens(2), Frame(b"data: end\n\n")]
    out = run(frames, Timing(interval=0.5))
    assert out == [(0.0, FIRST_CHUNK + b"data: 0\n\n"), (0.5, b"data: 1\n\ndata: end\n\n")]


def test_paced_non_token_frame_is_spaced_like_a_token() -> None:
    frames = [*tokens(2), Frame(b"data: [DONE]\n\n", paced=True)]
    out = run(frames, Timing(interval=0.5))
    assert [t for t, _ in out] == [0.0, 0.5, 1.0]


def test_schedule_is_absolute_so_late_wakeups_do_not_accumulate() -> None:
    # Every sleep overshoots by 10 ms; 200 tokens at 50 ms must still end at ~10 s.
    out = run(tokens(200), Timing(interval=0.05), lag=0.01)
    last = out[-1][0]
    assert last == pytest.approx(199 * 0.05, abs=0.02)


def test_heartbeat_comments_fill_long_silences() -> None:
    out = run(tokens(1), Timing(interval=0.1, first_token_delay=35, heartbeat=15))
    # Each heartbeat is followed by two probes, 0.1 s apart (pacing.py, Divergence #1).
    assert [(round(t, 6), c) for t, c in out] == [
        (0.0, FIRST_CHUNK), (15.0, HEARTBEAT), (15.1, HEARTBEAT), (15.2, HEARTBEAT),
        (30.0, HEARTBEAT), (30.1, HEARTBEAT), (30.2, HEARTBEAT), (35.0, b"data: 0\n\n")]


def test_heartbeat_off() -> None:
    out = run(tokens(1), Timing(first_token_delay=35, heartbeat=0))
    assert [c for _, c in out] == [FIRST_CHUNK, b"data: 0\n\n"]


def test_pause_shifts_everything_after_it() -> None:
    frames = tokens(3)
    frames[2] = Frame(frames[2].data, token=True, pause=2.0)
    out = run(frames, Timing(interval=0.5, heartbeat=0))
    assert [t for t, _ in out] == [0.0, 0.5, 2.5]


def test_jitter_is_seeded_and_bounded() -> None:
    a = run(tokens(50), Timing(interval=0.1, jitter=0.5, seed=7))
    b = run(tokens(50), Timing(interval=0.1, jitter=0.5, seed=7))
    c = run(tokens(50), Timing(interval=0.1, jitter=0.5, seed=8))
    assert a == b
    assert a != c
    gaps = [y[0] - x[0] for x, y in zip(a, a[1:], strict=False)]
    assert all(0.05 - 1e-9 <= g <= 0.15 + 1e-9 for g in gaps)
    assert len(set(gaps)) > 10


def test_no_empty_writes() -> None:
    out = Pacer().pace([], Timing(interval=0), first=b"")
    assert list(out) == []


def test_an_exception_from_the_frames_still_sends_what_was_due_first() -> None:
    class Boom(Exception):
        pass

    def frames() -> Iterator[Frame]:
        yield from tokens(3)
        raise Boom

    fake = FakeClock()
    out = []
    with pytest.raises(Boom):
        for chunk in Pacer(fake.clock, fake.sleep).pace(frames(), Timing(interval=0)):
            out.append(chunk)
    assert out == [FIRST_CHUNK + b"data: 0\n\ndata: 1\n\ndata: 2\n\n"]


def test_default_sleep_is_looked_up_per_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    # gevent patches time.sleep in the worker, possibly after sse_mock was imported.
    slept: list[float] = []
    now = [0.0]

    def patched_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer()
    monkeypatch.setattr("time.sleep", patched_sleep)
    pacer.clock = lambda: now[0]
    list(pacer.pace(tokens(1), Timing(first_token_delay=1.0, heartbeat=0)))
    assert slept == [1.0]


def test_jitter_keeps_the_mean_interval_and_spans_both_sides() -> None:
    # Jitter spreads each interval around its value: ±jitter, uniform, so the average rate is
    # the configured one. A one-sided spread (only longer, or only shorter intervals) stays
    # within the bounds above but shifts the mean by jitter/2 (here 25 %).
    n, interval, jitter = 2000, 0.1, 0.5
    out = run(tokens(n + 1), Timing(interval=interval, jitter=jitter, seed=3, heartbeat=0))
    gaps = [y[0] - x[0] for x, y in zip(out, out[1:], strict=False)]
    assert len(gaps) == n
    mean = sum(gaps) / n
    # the standard error of the mean of n uniform draws is interval·jitter/√(3n) ≈ 0.065 %;
    # 2 % is 30 of them, and a quarter of the shift a one-sided spread makes
    assert mean == pytest.approx(interval, rel=0.02)
    # both sides reached: the spread is ±jitter, not a narrower or one-sided one
    assert min(gaps) < interval * (1 - 0.9 * jitter)
    assert max(gaps) > interval * (1 + 0.9 * jitter)
    assert sum(g < interval for g in gaps) == pytest.approx(n / 2, rel=0.1)


def test_a_large_batch_due_at_once_is_split_into_writes_of_at_most_32_kib() -> None:
    # Zero delay: every frame is due at once. The batch is cut after the frame that reaches
    # 32 KiB (never inside a frame, §1.8 F-14), so one write stays bounded in bytes.
    frame = b"data: " + b"x" * 994 + b"\n\n"  # 1 KiB
    frames = [Frame(frame, token=True) for _ in range(200)]  # 200 KiB in all
    out = run(frames, Timing(interval=0.0))
    chunks = [c for _, c in out]
    assert b"".join(chunks) == FIRST_CHUNK + frame * 200
    assert len(chunks) == 7  # ⌈(200 KiB + 5 B) / 32 KiB⌉
    for chunk in chunks:
        assert len(chunk) <= 32 * 1024 + len(frame)  # a write ends with the frame that filled it
        assert chunk.endswith(b"\n\n")  # whole events only
    assert all(len(c) >= 32 * 1024 for c in chunks[:-1])  # and is not cut smaller either


class RecordingTally:
    """A Tally that records every call, to compare the pacer's two loops."""

    def __init__(self, live: bool) -> None:
        self.live = live
        self.calls: list[tuple[object, ...]] = []

    def sent(self, events: int, size: int) -> None:
        self.calls.append(("sent", events, size))

    def ended(self, events: int, size: int, error: BaseException | None) -> BaseException | None:
        self.calls.append(("ended", events, size, type(error).__name__))
        return error


def paced_run(frames: Iterable[Frame], timing: Timing, lag: float, live: bool,
              stop_after: int | None = None) -> tuple[object, ...]:
    """The writes (with their fake times), the sleeps and the tally's calls of one stream;
    `stop_after`: the server closes the stream after that many writes (the client left)."""
    fake = FakeClock(lag)
    tally = RecordingTally(live)
    stream = Pacer(fake.clock, fake.sleep).pace(frames, timing, tally=tally)
    out = []
    for chunk in stream:
        out.append((round(fake.now - 100.0, 9), chunk))
        if stop_after is not None and len(out) == stop_after:
            stream.close()  # type: ignore[attr-defined]
            break
    return out, fake.sleeps, tally.calls


STEADY_SHAPES = [
    ((b"data: role\n\n",), 0, (b"data: end\n\n", b"data: [DONE]\n\n")),
    ((), 1, ()),
    ((b"data: role\n\n",), 3, ()),
    ((b"a\n\n", b"b\n\n"), 10, (b"data: [DONE]\n\n",)),
]


@pytest.mark.parametrize("shape", STEADY_SHAPES)
@pytest.mark.parametrize("timing", [
    Timing(interval=0.5, first_token_delay=1.0), Timing(interval=0.5),
    Timing(interval=0.0), Timing(interval=0.0, first_token_delay=2.0),
    Timing(interval=1.0, first_token_delay=1.0, heartbeat=0.0)])
@pytest.mark.parametrize("lag", [0.0, 0.3, 1.2])
@pytest.mark.parametrize("live", [False, True])
def test_a_steady_stream_is_sent_as_its_frames_would_be(
    shape: tuple[tuple[bytes, ...], int, tuple[bytes, ...]], timing: Timing, lag: float,
    live: bool,
) -> None:
    # pacing.py Divergence #3: the loop for a Steady stream's bytes gives the same writes, at
    # the same times, after the same sleeps, with the same tally calls, as the general loop
    # given its frames; late wake-ups (lag > interval) gather the tokens due at once alike.
    head, n, tail = shape
    steady = Steady(head, [f"data: {i}\n\n".encode() for i in range(n)], tail)
    fast = Pacer().pace(steady, timing)
    assert fast.gi_code.co_name == "_steady"  # type: ignore[attr-defined]  # not vacuous
    fast.close()  # type: ignore[attr-defined]
    general = paced_run(iter(steady), timing, lag, live)
    assert paced_run(steady, timing, lag, live) == general
    for stop in range(1, len(general[0]) + 1):  # the client leaves after each write
        assert (paced_run(steady, timing, lag, live, stop)
                == paced_run(iter(steady), timing, lag, live, stop))


def test_a_steady_stream_that_needs_keepalives_jitter_or_a_split_takes_the_general_loop(
) -> None:
    steady = Steady((b"data: role\n\n",), [b"data: 0\n\n"], ())
    pacer = Pacer()
    for timing in (Timing(interval=0.1, first_token_delay=20.0, heartbeat=15.0),
                   Timing(interval=20.0, heartbeat=15.0), Timing(jitter=0.5)):
        stream = pacer.pace(steady, timing)
        assert stream.gi_code.co_name == "_frames"  # type: ignore[attr-defined]
        stream.close()  # type: ignore[attr-defined]
    big = Steady((), [b"x" * 1024] * 40, ())  # 40 KiB: a write must split at MAX_BATCH
    stream = pacer.pace(big, Timing(interval=0.0))
    assert stream.gi_code.co_name == "_frames"  # type: ignore[attr-defined]
    assert max(len(w) for w in stream) <= MAX_BATCH + 1024


@pytest.mark.parametrize(("path", "body", "loop"), [
    ("/mock/v1/chat/completions", {"model": "gpt-4o-mini", "stream": True,
                                   "messages": [{"role": "user", "content": "hi"}]}, "_steady"),
    ("/mock/v1/messages", {"model": "claude-sonnet-4-6", "max_tokens": 50, "stream": True,
                           "messages": [{"role": "user", "content": "hi"}]}, "_steady"),
    ("/mock/v1/chat/completions?fault=error_after:2", {
        "model": "gpt-4o-mini", "stream": True,
        "messages": [{"role": "user", "content": "hi"}]}, "_frames"),
])
def test_the_server_iterates_the_steady_loop_for_a_plain_text_answer(
    path: str, body: dict[str, object], loop: str
) -> None:
    # pacing.py Divergence #3 through the middleware: what a WSGI server iterates for a chat or
    # Anthropic text answer is the pacer's Steady loop (the performance of issue 13 rests on
    # it); a stream fault wraps the frames, so the general loop sends them.
    from werkzeug.test import EnvironBuilder

    import sse_mock

    app = sse_mock.create_app({"reply": "one two three four", "delay": 0})
    environ = EnvironBuilder(path=path, method="POST", json=body,
                             headers={"Authorization": "Bearer x", "x-api-key": "x"}).get_environ()
    started: list[str] = []
    stream = app(environ, lambda status, headers, exc_info=None: started.append(status))
    try:
        assert started == ["200 OK"]
        assert stream.gi_code.co_name == loop  # type: ignore[attr-defined]
        assert b"".join(stream)
    finally:
        stream.close()  # type: ignore[attr-defined]
