"""When each event leaves: first-token delay, token interval, jitter, heartbeats.

The pacer alone knows the clock (injectable, so unit tests never sleep). Every due time is
computed on an absolute monotonic timeline — ``start + first_token_delay + Σ intervals`` — and
never by accumulating ``sleep()`` calls, so a long stream does not drift: a late wake-up makes
the next event leave sooner, not every later one later.

Frames that are due together leave in one write (one ``yield``), so a zero-delay stream costs one
write per batch, not one per event; a batch never splits an event (PROTOCOLS.md §1.8 F-14).
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
    ) -> Iterator[bytes]:
        clock, sleep = self.clock, self.sleep or time.sleep
        rng = random.Random(timing.seed) if timing.jitter else None
        interval, jitter, heartbeat = timing.interval, timing.jitter, timing.heartbeat
        start = clock()
        last_write = start
        next_token = start + timing.first_token_delay  # due time of the next paced frame
        cursor = start  # nothing may leave before the frames ahead of it
        batch = bytearray(first)
        it = iter(frames)
        while True:
            try:
                frame = next(it)
            except StopIteration:
                break
            except Exception:
                # A fault that drops the connection (faults.StreamAbort) or a bug: what is
                # already due still leaves first, so the client gets every event before it.
                if batch:
                    yield bytes(batch)
                raise
            if frame.pause:
                # A stall shifts everything after it, spacing kept.
                cursor = max(cursor, clock()) + frame.pause
                next_token = max(next_token, cursor)
            if frame.token or frame.paced:
                due = max(next_token, cursor)
                step = interval
                if rng is not None and step:
                    step *= 1.0 + jitter * (2.0 * rng.random() - 1.0)
                next_token = due + step
            else:
                due = cursor
            cursor = due
            now = clock()
            if due > now:
                if batch:
                    yield bytes(batch)
                    batch.clear()
                    last_write = clock()
                # Wait for the due time; a comment line every `heartbeat` seconds of silence.
                while True:
                    now = clock()
                    if now >= due:
                        break
                    if heartbeat and due - last_write > heartbeat:
                        beat_at = last_write + heartbeat
                        if beat_at > now:
                            sleep(beat_at - now)
                        yield keepalive
                        last_write = clock()
                        continue
                    sleep(due - now)
            batch += frame.data
            if len(batch) >= MAX_BATCH:
                yield bytes(batch)
                batch.clear()
                last_write = clock()
        if batch:
            yield bytes(batch)
