"""When each event leaves: first-token delay, token interval, jitter, heartbeats.

The pacer alone knows the clock (injectable, so unit tests never sleep). Every due time is
computed on an absolute monotonic timeline — ``start + first_token_delay + Σ intervals`` — and
never by accumulating ``sleep()`` calls, so a long stream does not drift: a late wake-up makes
the next event leave sooner, not every later one later.

Frames that are due together leave in one write (one ``yield``), so a zero-delay stream costs one
write per batch, not one per event; a batch never splits an event (PROTOCOLS.md §1.8 F-14).

Divergence #1: a heartbeat is followed by two more keep-alive lines, 0.1 s apart. A server
    learns that the client left only when a write fails, and the first write after the client
    left usually succeeds (the peer's RST comes back afterwards): werkzeug and gunicorn notice on
    the second write, waitress (which flushes in another thread) raises on the third. Without
    the probes a stream abandoned during a stall stayed open for two or three heartbeats; with
    them its cleanup runs within one heartbeat interval plus 0.2 s on every server (issue 9).
Divergence #2: the pacer's generator is what the WSGI server iterates, with no generator of the
    middleware's around it: the middleware hands it a :class:`Tally` (the journal entry's side)
    instead. It counts events and bytes in its own locals and tells the tally at the end, or
    after every write only when the tally listens live (a journal that lists streams in
    progress). A server holds thousands of paced streams and each write finds their memory
    cold: every other object a write touched (a wrapping generator, the entry's counters) cost
    about a microsecond, more than the rest of the write (bench/bench_open_streams.py, issue 13).
Divergence #3: a :class:`~sse_mock.dialects.base.Steady` stream (token bytes between untimed
    head and tail frames: a chat answer's text) has a loop of its own, when it needs no jitter,
    no keep-alive (no silence longer than the heartbeat) and no write split at MAX_BATCH. It
    gives the writes the general loop gives the same frames, at the same times
    (tests/test_pacing.py compares the two), without a Frame object per token or the general
    loop's per-frame tests: a paced write executed 126 bytecode instructions of the pacer's,
    now about 60 (bench/bench_opcodes.py). The one difference: it does not read the clock again
    between taking the next token from its list and deciding whether the token is due.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from .dialects.base import Frame, Steady

__all__ = ["FIRST_CHUNK", "HEARTBEAT", "Pacer", "Tally", "Timing", "tally_ended"]

#: The first chunk of every stream: a bare comment line, so WSGI servers send the headers at
#: once (PEP 3333 holds them until the first non-empty write; PROTOCOLS.md §5.4). Not ``retry:``
#: or ``id:``, which make openai-python call json.loads("") (§5.2).
FIRST_CHUNK = b": ok\n"

#: The heartbeat: one comment line and no blank line (§1.8 F-11, §0 rule 20).
HEARTBEAT = b": ping\n"

#: After each heartbeat, this many more keep-alive writes, PROBE_GAP seconds apart (Divergence
#: #1): a client that left during a long silence is noticed within one heartbeat interval.
PROBES = 2
PROBE_GAP = 0.1

#: Largest write when many events are due at once (zero delay, or a late wake-up).
MAX_BATCH = 32 * 1024


@dataclass(frozen=True)
class Timing:
    """How fast one stream goes. All values in seconds; ``jitter`` is a fraction (0–1)."""

    interval: float = 0.5
    first_token_delay: float = 0.0
    jitter: float = 0.0
    heartbeat: float = 15.0
    seed: int = 0


class Tally(Protocol):
    """Who hears what a paced stream wrote and how it ended (:meth:`Pacer.pace`'s `tally`).

    ``live``: :meth:`sent` is called after every write; otherwise the counts come only with
    :meth:`ended` (Divergence #2).
    """

    live: bool

    def sent(self, events: int, size: int) -> None:
        """The totals so far: token frames and bytes written."""

    def ended(self, events: int, size: int, error: BaseException | None) -> BaseException | None:
        """Called once, when the stream ends: ``error`` is None when every frame was written,
        else what ended it (``GeneratorExit``: the server closed the stream, e.g. the client
        left). Returns the exception the stream raises in its place (`error` itself: no
        change; ignored when `error` is None)."""


class Pacer:
    """Turns frames into timed writes.

    :param clock: a monotonic clock (``time.monotonic``); tests pass a fake.
    :param sleep: blocks for the given seconds; by default ``time.sleep`` looked up when each
        stream starts, so gevent's monkey-patching applies even if it ran after this import.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.clock = clock
        self.sleep = sleep

    def pace(
        self,
        frames: Iterable[Frame],
        timing: Timing,
        first: bytes = FIRST_CHUNK,
        keepalive: bytes = HEARTBEAT,  # the framing's heartbeat (NDJSON: a space, §9.2)
        tally: Tally | None = None,
    ) -> Iterator[bytes]:
        """The writes of one stream, to hand to the WSGI server as they are.

        `tally`, when given, hears what was written and how the stream ended (:class:`Tally`):
        the pacer is then the only generator between the server and the frames, and a write
        touches nothing outside its own frame unless the tally listens live (Divergence #2).
        A :class:`~sse_mock.dialects.base.Steady` stream that needs no jitter, keep-alive or
        batch limit is sent from its bytes (Divergence #3): the same writes at the same times.
        """
        if type(frames) is Steady and not timing.jitter and (
                not timing.heartbeat
                or max(timing.first_token_delay, timing.interval) <= timing.heartbeat):
            head, tokens, tail = frames.head, frames.tokens, frames.tail
            if (len(first) + sum(map(len, head)) + sum(map(len, tokens))
                    + sum(map(len, tail))) <= MAX_BATCH:
                return self._steady(first + b"".join(head), tokens, b"".join(tail), timing,
                                    tally)
        return self._frames(frames, timing, first, keepalive, tally)

    def _steady(
        self, head: bytes, tokens: list[bytes], tail: bytes, timing: Timing, tally: Tally | None
    ) -> Iterator[bytes]:
        """:meth:`pace` for a Steady stream (Divergence #3): `head` leaves now, each token when
        it is due, `tail` with the last token; tokens due at once share a write."""
        clock, sleep = self.clock, self.sleep or time.sleep
        interval = timing.interval
        live = tally is not None and tally.live
        now = clock()
        due = now + timing.first_token_delay  # the next token's due time
        pending: bytes = head  # the write being gathered, with `queued` tokens; or `batch`
        batch: list[bytes] | None = None
        queued = events = sent = 0
        try:
            for data in tokens:
                # `now` was read after the last sleep: a list's next item takes no time.
                if due > now:  # not due yet: what is gathered leaves, then wait
                    out = pending if batch is None else b"".join(batch)
                    batch = None
                    if out:
                        events += queued
                        sent += len(out)
                        if live:
                            tally.sent(events, sent)  # type: ignore[union-attr]
                        yield out
                    now = clock()
                    while now < due:
                        sleep(due - now)
                        now = clock()
                    pending, queued = data, 1
                elif batch is None:
                    batch, queued = [pending, data], queued + 1
                else:
                    batch.append(data)
                    queued += 1
                due += interval
            out = (pending if batch is None else b"".join(batch)) + tail
            if out:
                events += queued
                sent += len(out)
                yield out
        except BaseException as error:
            # The server closed the stream (GeneratorExit: the client left), or it failed.
            instead = tally_ended(tally, events, sent, error)
            if instead is None:
                raise
            raise instead from None
        if tally is not None:
            tally.ended(events, sent, None)

    def _frames(
        self,
        frames: Iterable[Frame],
        timing: Timing,
        first: bytes,
        keepalive: bytes,
        tally: Tally | None,
    ) -> Iterator[bytes]:
        """:meth:`pace` for any frames."""
        clock, sleep = self.clock, self.sleep or time.sleep
        rng = random.Random(timing.seed) if timing.jitter else None
        interval, jitter, heartbeat = timing.interval, timing.jitter, timing.heartbeat
        live = tally is not None and tally.live
        start = clock()
        last_write = start
        next_token = start + timing.first_token_delay  # due time of the next paced frame
        cursor = start  # nothing may leave before the frames ahead of it
        now = start  # the clock's last reading: a frame due by then needs no new one
        # The write being gathered: `pending` alone (a paced stream's write is one frame, which
        # leaves as it is), or `batch` once more frames are due at once (`size` bytes), with
        # `tokens` token frames.
        pending, batch, size, tokens = first, None, 0, 0
        events = sent = 0  # token frames and bytes written so far, for the tally
        try:
            try:
                for frame in frames:
                    if frame.pause:
                        # A stall shifts everything after it, spacing kept.
                        cursor = max(cursor, clock()) + frame.pause
                        next_token = max(next_token, cursor)
                    token = frame.token
                    if token or frame.paced:
                        due = next_token if next_token > cursor else cursor
                        step = interval
                        if rng is not None and step:
                            step *= 1.0 + jitter * (2.0 * rng.random() - 1.0)
                        next_token = due + step
                    else:
                        due = cursor
                    cursor = due
                    if due > now:
                        now = clock()
                    # The gathered write leaves when this frame is not due yet, or when it has
                    # reached MAX_BATCH bytes (this frame then starts the next write).
                    if due > now or (batch is not None and size >= MAX_BATCH):
                        if pending:
                            out = pending if batch is None else b"".join(batch)
                            pending, batch = b"", None
                            events += tokens
                            sent += len(out)
                            tokens = 0
                            if live:
                                tally.sent(events, sent)  # type: ignore[union-attr]
                            yield out
                            last_write, now = now, clock()
                        if heartbeat and due - last_write > heartbeat:
                            last_write, written = yield from _keepalives(
                                clock, sleep, due, last_write, heartbeat, keepalive)
                            sent += written
                            now = clock()
                        while now < due:
                            sleep(due - now)
                            now = clock()
                    data = frame.data
                    tokens += token
                    if not pending:
                        pending = data
                        continue
                    if batch is None:
                        batch, size = [pending, data], len(pending) + len(data)
                    else:
                        batch.append(data)
                        size += len(data)
            except Exception:
                # A fault that drops the connection (faults.StreamAbort) or a bug: what is
                # already due still leaves first, so the client gets every event before it.
                if pending:
                    out = pending if batch is None else b"".join(batch)
                    events += tokens
                    sent += len(out)
                    yield out
                raise
            if pending:
                out = pending if batch is None else b"".join(batch)
                events += tokens
                sent += len(out)
                yield out
        except BaseException as error:
            # The server closed the stream (GeneratorExit: the client left), or it failed.
            instead = tally_ended(tally, events, sent, error)
            if instead is None:
                raise
            raise instead from None
        if tally is not None:
            tally.ended(events, sent, None)


def tally_ended(
    tally: Tally | None, events: int, sent: int, error: BaseException
) -> BaseException | None:
    """Tell `tally` (if any) that `error` ended its stream after `events` token frames and
    `sent` bytes: the exception the stream raises in its place, or None when it re-raises
    `error` itself (a bare ``raise`` keeps its traceback)."""
    if tally is None:
        return None
    instead = tally.ended(events, sent, error)
    return None if instead is error else instead


def _keepalives(
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    due: float,
    last_write: float,
    heartbeat: float,
    keepalive: bytes,
) -> Generator[bytes, None, tuple[float, int]]:
    """The keep-alives of a silence that lasts until `due` and is longer than `heartbeat`: one
    every `heartbeat` seconds of it, each followed by PROBES more, PROBE_GAP apart (Divergence
    #1). Returns once the rest of the silence needs none: when the last one left, and the bytes
    written. Its own generator, which only such a silence enters: the pacer's loop stays short.
    """
    written = 0
    probes, last_probe = 0, last_write
    while True:
        now = clock()
        if now >= due:
            break
        if probes:
            probe_at = last_probe + PROBE_GAP
            if probe_at < due:
                if probe_at > now:
                    sleep(probe_at - now)
                written += len(keepalive)
                yield keepalive
                probes -= 1
                last_probe = clock()
                continue
            probes = 0  # the next event comes first and is the probe
        if due - last_write <= heartbeat:
            break
        beat_at = last_write + heartbeat
        if beat_at > now:
            sleep(beat_at - now)
        written += len(keepalive)
        yield keepalive
        last_write = last_probe = clock()
        probes = PROBES
    return last_write, written
