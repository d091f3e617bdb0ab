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
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from .dialects.base import Frame

__all__ = ["FIRST_CHUNK", "HEARTBEAT", "Pacer", "Timing"]

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
        count: Callable[[int], None] | None = None,
    ) -> Iterator[bytes]:
        """The writes of one stream. `count`, when given, is told how many token frames each
        write holds, just before it leaves (the journal's event count, without a generator
        layer per frame)."""
        clock, sleep = self.clock, self.sleep or time.sleep
        rng = random.Random(timing.seed) if timing.jitter else None
        interval, jitter, heartbeat = timing.interval, timing.jitter, timing.heartbeat
        start = clock()
        last_write = start
        next_token = start + timing.first_token_delay  # due time of the next paced frame
        cursor = start  # nothing may leave before the frames ahead of it
        now = start  # the clock's last reading: a frame due by then needs no new one
        # The write being gathered: its parts, bytes and token frames. A paced stream's write
        # is usually one frame, which leaves as it is (no copy).
        parts, size, tokens = ([first], len(first), 0) if first else ([], 0, 0)
        it = iter(frames)
        while True:
            try:
                frame = next(it)
            except StopIteration:
                break
            except Exception:
                # A fault that drops the connection (faults.StreamAbort) or a bug: what is
                # already due still leaves first, so the client gets every event before it.
                if parts:
                    if count is not None and tokens:
                        count(tokens)
                    yield parts[0] if len(parts) == 1 else b"".join(parts)
                raise
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
            if due > now:
                if parts:
                    if count is not None and tokens:
                        count(tokens)
                    yield parts[0] if len(parts) == 1 else b"".join(parts)
                    parts, size, tokens = [], 0, 0
                    last_write = clock()
                # Wait for the due time; a comment line every `heartbeat` seconds of silence,
                # each followed by PROBES more, PROBE_GAP apart (Divergence #1).
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
                            yield keepalive
                            probes -= 1
                            last_probe = clock()
                            continue
                        probes = 0  # the next event comes first and is the probe
                    if heartbeat and due - last_write > heartbeat:
                        beat_at = last_write + heartbeat
                        if beat_at > now:
                            sleep(beat_at - now)
                        yield keepalive
                        last_write = last_probe = clock()
                        probes = PROBES
                        continue
                    sleep(due - now)
            data = frame.data
            parts.append(data)
            size += len(data)
            tokens += token
            if size >= MAX_BATCH:
                if count is not None and tokens:
                    count(tokens)
                yield b"".join(parts)
                parts, size, tokens = [], 0, 0
                last_write = now = clock()
        if parts:
            if count is not None and tokens:
                count(tokens)
            yield parts[0] if len(parts) == 1 else b"".join(parts)
