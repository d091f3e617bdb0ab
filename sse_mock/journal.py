"""The journal: what each intercepted request asked and how its answer ended.

A façade over the state seam (:mod:`sse_mock.state`): records live in the backend — one process
with ``state = "memory"``, every worker of every host with Redis — bounded by entries and bytes.
Requests still in progress are listed from the process serving them (their ``events`` and
``bytes`` counting up); their record is written to the backend when they end. Read it with
``middleware.journal.entries()`` or ``GET <prefix>/_journal``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .state import MemoryState, State, StateUnavailable

__all__ = ["Entry", "Journal", "body_record", "last_user_text", "measure"]

log = logging.getLogger("sse_mock")

#: Requests in progress a process lists at most (each ends, normally, within its stream).
MAX_LIVE = 100_000


@dataclass
class Entry:
    """One intercepted request. ``outcome`` is set when the answer ends: ``completed``,
    ``client went away``, ``fault`` (an error answer or an injected stream fault),
    ``error`` (a 4xx for bad input) or ``in progress``."""

    id: int
    time: float
    method: str
    path: str
    route: str
    status: int = 0
    request_id: str = ""
    body: Any = None
    rule: str | None = None
    fault: str | None = None
    events: int = 0  # content events (tokens) sent
    bytes: int = 0
    outcome: str = "in progress"
    duration: float = 0.0
    session: str = ""  # X-Mock-Session / ?session= / sse_mock_session cookie ("" = default)
    query: str = ""  # the query string (EventSource requests carry their prompt there)
    # What the resilience verdict (verdict.py) reads: the client's retry bookkeeping and the
    # answer's retry hints (PROTOCOLS.md §1.7, §2.6).
    retry_count: int | None = None  # x-stainless-retry-count: the SDKs' attempt number
    idempotency_key: str | None = None  # Idempotency-Key
    last_event_id: str | None = None  # Last-Event-ID: a reconnecting EventSource (§1.7)
    retry_after: float | None = None  # seconds the answer asked to wait (retry-after-ms, else …)
    should_retry: bool | None = None  # x-should-retry on the answer
    sse_retry: int | None = None  # the stream's `retry:` field, in milliseconds (§1.4)
    # Record and replay (sse_mock.upstream): who answered instead of the scenario — "replay" (a
    # cassette), "recording" (the upstream, written to `cassette`) or "upstream" (passed through).
    source: str | None = None
    cassette: str | None = None  # the cassette's file name
    # What of the reply does not fit the request's JSON Schemas (sse_mock.schema): a rule's fixed
    # tool arguments or JSON reply; None when there was nothing to check or everything fits.
    schema_errors: list[str] | None = None
    _start: float = field(default=0.0, repr=False)
    _journal: Journal | None = field(default=None, repr=False, compare=False)
    _size: int = field(default=0, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _PUBLIC}

    @property
    def listed(self) -> bool:
        """The journal keeps this entry and lists it while its answer is in progress."""
        return self._journal is not None


_PUBLIC = tuple(f.name for f in fields(Entry) if not f.name.startswith("_"))


def measure(record: dict[str, Any]) -> int:
    """The byte size a record counts for against the journal's byte bound."""
    return len(json.dumps(record, default=str, separators=(",", ":")))


# -- what the journal keeps of a request body (issue 9: memory bounded in bytes) ----------------

#: A request body larger than this (bytes) is journaled as a summary, never whole.
BODY_KEPT_WHOLE = 8 * 1024
#: How much of the last user message a summary keeps (characters).
SUMMARY_TEXT = 200


def body_record(body: Any, size: int | None = None, rejected: str | None = None) -> Any:
    """What the journal keeps of a request body: the body itself when it was accepted and is at
    most :data:`BODY_KEPT_WHOLE` bytes, else a summary — ``{"summary": true, "size": bytes,
    "model": …, "last_user": the first 200 characters of the last user message, "rejected":
    why}``. `size` is the body's length on the wire (``Content-Length``), when known.

    The cost is bounded too: a large body is never serialised to measure it.
    """
    if body is None and not size:
        return None
    if isinstance(body, dict) and body.get("summary") is True and "size" in body:
        return body  # already a summary
    if size is None:
        size = _bounded_size(body, BODY_KEPT_WHOLE + 1)
    if rejected is None and size <= BODY_KEPT_WHOLE:
        return body
    summary: dict[str, Any] = {"summary": True, "size": size}
    if isinstance(body, dict):
        model = body.get("model")
        if isinstance(model, str):
            summary["model"] = model[:100]
        text = last_user_text(body, SUMMARY_TEXT)
        if text is not None:
            summary["last_user"] = text[:SUMMARY_TEXT] + ("…" if len(text) > SUMMARY_TEXT else "")
    if rejected is not None:
        summary["rejected"] = rejected[:300]
    return summary


def _bounded_size(obj: Any, limit: int) -> int:
    """About the JSON size of `obj`, counted only until it passes `limit` (no recursion)."""
    total, stack = 0, [obj]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, dict):
            total += 2 + 2 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            total += 2 + len(item)
            stack.extend(item)
        else:
            total += 5
    return total


def _text_of(content: Any, limit: int | None) -> str | None:
    """A message's text: a string, or the text parts of a list of content parts joined by
    spaces; with a `limit`, reading stops once it has more than `limit` characters."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        length = 0
        for part in content:
            text = part if isinstance(part, str) else (
                part.get("text") if isinstance(part, Mapping) else None)
            if isinstance(text, str):
                texts.append(text if limit is None else text[: limit + 1])
                length += len(texts[-1])
                if limit is not None and length > limit:
                    break
        return " ".join(texts) if texts else None
    return None


def last_user_text(body: Mapping[str, Any], limit: int | None = None) -> str | None:
    """The last user message of any provider's request body (chat ``messages``, Responses
    ``input``, Completions / Ollama ``prompt``, Gemini ``contents``), or None. With a `limit`,
    a message of many parts is read only until it has more than `limit` characters (the
    summary of a large body); the journal's readers (:func:`sse_mock.calls.said`) read it all.
    """
    for key in ("messages", "input", "contents"):
        items = body.get(key)
        if isinstance(items, str):
            return items
        if isinstance(items, list):
            for item in reversed(items):
                if isinstance(item, str):
                    return item
                if isinstance(item, Mapping) and item.get("role", "user") == "user":
                    return _text_of(item.get("content", item.get("parts")), limit)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and prompt:
        prompt = prompt[-1]
    return prompt if isinstance(prompt, str) else None


class Journal:
    """Thread-safe journal of :class:`Entry` over a :class:`~sse_mock.state.State`.

    :param size: entries kept when no `state` is given (an in-memory one; 0 keeps nothing).
    :param state: the backend; its own bounds apply.
    """

    def __init__(self, size: int = 1000, state: State | None = None) -> None:
        self.size = size
        self.state: State = state if state is not None else MemoryState(size)
        self._live: dict[int, Entry] = {}  # id(entry) → entry, this process's requests in progress

    def start(self, method: str, path: str, route: str, keep: bool = True,
              session: str = "") -> Entry:
        """A new entry; ``keep=False`` makes one that is not recorded (reads of the journal)."""
        entry = Entry(id=0, time=time.time(), method=method, path=path, route=route,
                      session=session, _start=time.monotonic())
        if keep and self.size:
            record = entry.to_dict()
            entry._size = self._weigh(record)
            entry.id = self.state.journal_start(session, record, entry._size)
            entry._journal = self
            if len(self._live) >= MAX_LIVE:  # a stream never started nor closed: forget it
                self._live.pop(next(iter(self._live)), None)
            self._live[id(entry)] = entry
        return entry

    def _weigh(self, record: dict[str, Any]) -> int:
        """The size handed to the backend: 0 when it weighs records itself."""
        return 0 if self.state.measures_records else measure(record)

    @staticmethod
    def end(entry: Entry, outcome: str) -> None:
        """Record how the answer ended; the record is written to the backend now."""
        entry.outcome = outcome
        entry.duration = round(time.monotonic() - entry._start, 6)
        journal = entry._journal
        if journal is None:
            return
        entry._journal = None
        journal._live.pop(id(entry), None)
        entry.body = body_record(entry.body)
        record = entry.to_dict()
        entry._size = journal._weigh(record)  # what it weighs now, body or summary included
        try:
            entry.id = journal.state.journal_finish(entry.session, entry.id, record, entry._size)
        except StateUnavailable as exc:  # a stream in flight still finishes (issue 10, 5)
            log.warning("sse_mock: journal entry of %s not recorded: %s", entry.path, exc)

    def entries(self, session: str = "") -> list[Entry]:
        """A snapshot of one session's entries, oldest first."""
        if not self.size:
            return []
        live = [e for e in list(self._live.values()) if e.session == session]
        by_id = {e.id: e for e in live if e.id}
        out = [by_id.get(r["id"]) or _entry(r) for r in self.state.journal_entries(session)]
        pending = [e for e in live if not e.id]
        if pending:  # in progress, not yet in the backend (Divergence #1 of sse_mock.state.base)
            out = sorted(out + pending, key=lambda e: e.time)
        return out

    def clear(self, session: str = "") -> None:
        self.state.journal_clear(session)

    def __len__(self) -> int:
        return len(self.entries())


def _entry(record: dict[str, Any]) -> Entry:
    return Entry(**{k: v for k, v in record.items() if k in _PUBLIC})
