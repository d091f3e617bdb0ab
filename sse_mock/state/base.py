"""The state seam: everything that changes while the mock serves lives behind :class:`State`.

Two implementations: :class:`~sse_mock.state.memory.MemoryState` (one process, the default) and
:class:`~sse_mock.state.redis.RedisState` (``state = "redis://…"``: N workers on M hosts behave as
one mock). Callers never read-modify-write: each method is one atomic step of the backend.

Every method that holds per-session data takes the session name first (``""`` is the default
session). Keys (``key`` arguments) may be chosen by requests (e.g. a fault spec): backends bound
how many they keep.

Deliberate divergences:

Divergence #1: a journal record is written once, when its request ends (:meth:`journal_finish`);
    :meth:`journal_start` only reserves it. The Redis backend gives the id at the end (one round
    trip per request instead of two); in-progress requests are listed by the process that serves
    them (the :class:`~sse_mock.journal.Journal` façade keeps them), never lost.
Divergence #2: a chaos draw is a pure function of ``(seed, draw index)`` (:func:`unit_draw`), so
    any number of workers that share the index reproduce one process's sequence.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_KEYS", "MAX_QUEUE", "Bucket", "State", "StateUnavailable", "Taken", "unit_draw"]

#: How many distinct request-chosen keys (cycles, counters) a session keeps; beyond that the
#: oldest go (memory) or a random one goes (Redis), so ever-new fault specs cannot grow memory.
MAX_KEYS = 10_000
#: How many queued actions a session holds (issue "Tests drive the mock").
MAX_QUEUE = 1_000
#: How many distinct quota buckets (API keys, sessions) a process keeps (memory backend).
MAX_BUCKETS = 10_000


class StateUnavailable(Exception):
    """A shared backend cannot be reached; the middleware answers a provider-shaped 503."""


@dataclass(frozen=True)
class Bucket:
    """One token bucket to take from: `capacity` tokens, refilled at `refill_per_second`."""

    key: str
    capacity: float
    refill_per_second: float
    amount: float = 1.0


@dataclass(frozen=True)
class Taken:
    """What :meth:`State.take` found for one bucket.

    ``remaining``: tokens left after this request (when allowed) or now (when refused);
    ``retry_after``: seconds until `amount` tokens are there again (0 when allowed);
    ``reset``: seconds until the bucket is full again.
    """

    allowed: bool
    remaining: float
    retry_after: float
    reset: float

    @classmethod
    def at(cls, allowed: bool, bucket: Bucket, level: float) -> Taken:
        """The answer for `bucket` left at `level` tokens (after taking, when allowed)."""
        rate = bucket.refill_per_second
        wait = 0.0 if allowed or rate <= 0 else max(0.0, bucket.amount - level) / rate
        full = (bucket.capacity - level) / rate if rate > 0 else 0.0
        return cls(allowed, level, wait, full)


def unit_draw(seed: int, index: int) -> float:
    """A number in [0, 1) that depends only on `seed` and `index` (chaos draws, Divergence #2).

    >>> unit_draw(1, 0) == unit_draw(1, 0) and unit_draw(1, 0) != unit_draw(1, 1)
    True
    """
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class State(ABC):
    """The interface every backend implements. Methods raise :class:`StateUnavailable` when a
    shared backend is down; the in-memory backend never does."""

    #: Human words for messages ("memory", "redis://host:6379/0").
    name: str = "memory"
    #: True when every worker of every host sees the same state.
    shared: bool = False
    #: True when the backend weighs journal records itself: the `size` given to
    #: :meth:`journal_start` and :meth:`journal_finish` is then 0, and never computed.
    measures_records: bool = False

    # -- counters ------------------------------------------------------------------------------

    @abstractmethod
    def cycle(self, session: str, key: str, modulo: int) -> int:
        """Atomically take the current position of cycle `key` (0 … `modulo` - 1) and advance it
        by one, modulo `modulo`. ``*count`` faults and rule sequences. A position stored under
        another modulo (the configuration changed) is taken modulo the new one."""

    @abstractmethod
    def peek(self, session: str, key: str) -> int:
        """The position :meth:`cycle` would take next (0 for a new key), without advancing it."""

    @abstractmethod
    def incr(self, session: str, key: str) -> int:
        """Atomically add one to counter `key` and return the new value (1 the first time)."""

    # -- journal (Divergence #1) ---------------------------------------------------------------

    @abstractmethod
    def journal_start(self, session: str, record: dict[str, Any], size: int) -> int:
        """Reserve a journal record for a request that starts now; `size` is its byte measure.

        Returns its id, or 0 when the backend gives ids in :meth:`journal_finish`."""

    @abstractmethod
    def journal_finish(self, session: str, id: int, record: dict[str, Any], size: int) -> int:
        """Store the final `record` of the request reserved as `id`; returns its (final) id.

        ``record["time"]`` (the start, in seconds since the epoch) orders the journal."""

    @abstractmethod
    def journal_entries(self, session: str) -> list[dict[str, Any]]:
        """The session's records, oldest first, each with its ``id``."""

    @abstractmethod
    def journal_clear(self, session: str) -> None:
        """Forget the session's records."""

    # -- queued actions (issue "Tests drive the mock") -----------------------------------------

    @abstractmethod
    def queue_push(self, session: str, payload: str) -> bool:
        """Append `payload` to the session's queue; False when it already holds
        :data:`MAX_QUEUE` items (nothing is added)."""

    @abstractmethod
    def queue_items(self, session: str) -> list[str]:
        """The session's queued payloads, first in first."""

    @abstractmethod
    def queue_take(self, session: str, payload: str) -> bool:
        """Atomically remove the first item equal to `payload`; False if it is not there
        (another worker took it first)."""

    # -- quotas --------------------------------------------------------------------------------

    @abstractmethod
    def take(self, buckets: Sequence[Bucket]) -> list[Taken]:
        """Take each bucket's `amount`, all or nothing: when any bucket has too few tokens,
        nothing is taken from any. Buckets are global (not per session)."""

    # -- life cycle ----------------------------------------------------------------------------

    @abstractmethod
    def reset(self, session: str | None = None) -> None:
        """Forget one session's cycles, counters, journal and queue; None: everything,
        quotas included."""

    def ready(self) -> None:  # noqa: B027  (in-process backends are always ready)
        """Called before each mock request: raise :class:`StateUnavailable` while a shared
        backend is known to be down. No round trip while it is up."""

    def check(self) -> None:  # noqa: B027  (nothing to check for in-process backends)
        """Raise :class:`StateUnavailable` when the backend cannot be reached (start-up)."""

    def close(self) -> None:  # noqa: B027  (nothing to release for in-process backends)
        """Release connections."""
