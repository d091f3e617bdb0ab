"""The resilience verdict: what the clients did wrong with the faults the mock gave them.

A pure function over journal records (the dicts of ``GET <prefix>/_journal``), no clock and no
I/O: :func:`judge` groups the *attempts* of one logical call, then checks each group against what
a well-behaved client does (PROTOCOLS.md §2.6, §4.5 for the SDKs' retry policy; §1.7 for
``EventSource`` reconnection). Read it as ``middleware.verdict()``, ``GET <prefix>/_verdict`` or,
in pytest, ``sse_mock.assert_resilient()``.

Attempts of one call are grouped, in this order of evidence:

1. the same ``Idempotency-Key``;
2. a reconnect with ``Last-Event-ID`` to the same URL (an ``EventSource``, §1.7);
3. the same route, URL and body, sent again within ``window`` seconds of an attempt that
   failed (an error status, an injected fault, a dropped stream). The SDKs' own counter
   (``x-stainless-retry-count``) is recorded and shown, but an app that loops around an SDK
   call made with ``max_retries=0`` retries with the counter at 0 every time, so identical
   bodies after a failure are what groups.

What each finding means (``Finding.kind``):

``retried_before_retry_after``
    the answer said how long to wait (``retry-after-ms``, else ``retry-after``, §2.6) and the
    next attempt came sooner.
``no_backoff``
    a failure without a server-given delay was retried at once (less than ``min_backoff``,
    0.1 s; the SDKs wait 0.5 s × 2ⁿ, −25 % jitter, §2.6).
``retried_non_retryable``
    an error the SDKs never retry (4xx other than 408, 409, 429) or one that said
    ``x-should-retry: false`` was sent again.
``retry_storm``
    more than ``max_attempts`` (5) attempts at one call.
``gave_up``
    the last attempt failed with a retryable status (408, 409, 429, ≥ 500), nothing forbade a
    retry, and the client had retried fewer than ``min_retries`` (2, the SDKs' default) times.
``accepted_truncated_stream``
    a stream that ended without its terminator (``truncate_after``) was not retried: the client
    took a cut answer for a whole one.
``reconnected_without_last_event_id``
    a stream with event ids broke after some events and the client started it again without
    ``Last-Event-ID`` (§1.7), so the answer restarts from the beginning.
``ignored_sse_retry``
    the stream said ``retry: N`` and the client reconnected sooner than N ms (§1.4, §1.7).

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: stream faults other than ``truncate_after`` (``error_after``,
    ``disconnect_after``, ``malformed_after``) are not "gave up" when not retried: the client
    saw an error and the SDKs never retry mid-stream; whether to retry is the application's
    choice. A truncated stream looks complete to a careless client, so it is a finding.
Divergence #2: timings use each record's start (``time``) and length (``duration``); a retry's
    wait is measured from the end of the previous answer, with ``tolerance`` (0.05 s, at most
    a quarter of the asked delay) for clock steps and scheduling, so an SDK that waits exactly
    ``retry-after-ms`` passes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KINDS", "Finding", "Verdict", "judge"]

#: Every finding kind, with the words a report uses for it.
KINDS: dict[str, str] = {
    "retried_before_retry_after": "retried before retry-after",
    "no_backoff": "no backoff between retries",
    "retried_non_retryable": "retried a non-retryable error",
    "retry_storm": "retry storm",
    "gave_up": "gave up while retries were allowed",
    "accepted_truncated_stream": "accepted a truncated stream as complete",
    "reconnected_without_last_event_id": "reconnected without Last-Event-ID",
    "ignored_sse_retry": "ignored the stream's retry:",
}

#: §2.6 / §4.5: statuses the SDKs retry (besides every status ≥ 500).
RETRYABLE = frozenset({408, 409, 429})
#: Routes that are not calls of a client under test (besides every GET but the plain stream).
_NOT_CALLS = frozenset({"journal", "reset", "next", "verdict"})
#: §2.6: openai-python does not retry at all when the server asks for more than this.
_SDK_MAX_DELAY = 60.0


@dataclass(frozen=True)
class Finding:
    """One thing a client did wrong, with the journal ids of the requests it is based on."""

    kind: str
    message: str
    requests: tuple[int, ...]
    session: str = ""

    @property
    def title(self) -> str:
        return KINDS.get(self.kind, self.kind)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "title": self.title, "message": self.message,
                "requests": list(self.requests), "session": self.session}


@dataclass(frozen=True)
class Verdict:
    """The findings, and what they were drawn from."""

    findings: tuple[Finding, ...] = ()
    calls: int = 0  # logical calls (groups of attempts)
    requests: int = 0  # requests judged
    records: tuple[Mapping[str, Any], ...] = field(default=(), repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.findings

    def __bool__(self) -> bool:
        return self.ok

    def kinds(self) -> list[str]:
        return [f.kind for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        return {"object": "verdict", "ok": self.ok, "calls": self.calls,
                "requests": self.requests, "findings": [f.to_dict() for f in self.findings]}

    def explain(self) -> str:
        """A readable report: each finding, then the requests it is based on."""
        if self.ok:
            return (f"sse_mock verdict: resilient ({self.calls} calls, {self.requests} "
                    "requests, no findings)")
        by_id = {r.get("id"): r for r in self.records}
        lines = [f"sse_mock verdict: {len(self.findings)} finding(s) in {self.calls} calls "
                 f"({self.requests} requests)"]
        for n, finding in enumerate(self.findings, 1):
            lines.append(f"{n}. {finding.title}: {finding.message}")
            for rid in finding.requests:
                record = by_id.get(rid)
                if record is not None:
                    lines.append("     " + describe(record))
        return "\n".join(lines)

    __str__ = explain


def describe(record: Mapping[str, Any]) -> str:
    """One line for a journal record: id, method, URL, status, fault, outcome, retry facts."""
    url = str(record.get("path", ""))
    if record.get("query"):
        url += "?" + str(record["query"])
    parts = [f"#{record.get('id')}", str(record.get("method", "")), url,
             str(record.get("status", "")), str(record.get("outcome", ""))]
    if record.get("fault"):
        parts.append(f"fault={record['fault']}")
    for key, label in (("retry_count", "retry-count"), ("retry_after", "retry-after"),
                       ("last_event_id", "last-event-id"), ("events", "events")):
        if record.get(key) not in (None, 0, "") or key == "retry_count" and record.get(key) == 0:
            parts.append(f"{label}={record[key]}")
    if record.get("session"):
        parts.append(f"session={record['session']}")
    return " ".join(parts)


def _end(r: Mapping[str, Any]) -> float:
    return float(r.get("time") or 0.0) + float(r.get("duration") or 0.0)


def _status(r: Mapping[str, Any]) -> int:
    return int(r.get("status") or 0)


def _failed(r: Mapping[str, Any]) -> bool:
    """An attempt a client may want to repeat: an error status or a stream that broke."""
    return _status(r) >= 400 or r.get("outcome") == "fault" or bool(
        r.get("fault") and str(r["fault"]).partition(":")[0] in _STREAM_FAULTS)


_STREAM_FAULTS = frozenset({"error_after", "disconnect_after", "truncate_after", "stall_after",
                            "malformed_after"})


def _retryable(r: Mapping[str, Any]) -> bool:
    status = _status(r)
    return status in RETRYABLE or status >= 500


def _signature(r: Mapping[str, Any]) -> tuple[str, ...]:
    """What makes two attempts "the same request": session, route, URL and body."""
    body = r.get("body")
    text = json.dumps(body, sort_keys=True, default=str) if body is not None else ""
    digest = hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
    return (str(r.get("session") or ""), str(r.get("route")), str(r.get("path")),
            str(r.get("query") or ""), digest)


@dataclass
class _Group:
    attempts: list[Mapping[str, Any]]
    signature: tuple[str, ...]
    key: str | None = None


def _group(records: Sequence[Mapping[str, Any]], window: float) -> list[_Group]:
    groups: list[_Group] = []
    by_key: dict[tuple[str, str], _Group] = {}
    by_signature: dict[tuple[str, ...], _Group] = {}
    for r in records:
        sig = _signature(r)
        session = str(r.get("session") or "")
        key = r.get("idempotency_key")
        group: _Group | None = None
        if key:
            group = by_key.get((session, str(key)))
        if group is None:
            previous = by_signature.get(sig)
            if previous is not None:
                last = previous.attempts[-1]
                if r.get("last_event_id") is not None and r.get("route") == "plain":
                    group = previous  # an EventSource reconnect (§1.7)
                elif _failed(last) and float(r.get("time") or 0) - _end(last) <= window:
                    group = previous
        if group is None:
            group = _Group([], sig, str(key) if key else None)
            groups.append(group)
        group.attempts.append(r)
        by_signature[sig] = group
        if key:
            by_key[(session, str(key))] = group
    return groups


def judge(
    records: Iterable[Mapping[str, Any]],
    *,
    window: float = 60.0,  # seconds after a failure within which the same request is a retry
    min_backoff: float = 0.1,  # a retry sooner than this after a failure is "no backoff"
    min_retries: int = 2,  # the SDKs' default max_retries
    max_attempts: int = 5,  # more attempts at one call is a storm
    tolerance: float = 0.05,  # Divergence #2
) -> Verdict:
    """Judge the clients behind `records` (journal records, any order, any sessions)."""
    calls = sorted(
        (r for r in records if r.get("id") and r.get("route") not in _NOT_CALLS
         and (r.get("method") == "POST" or r.get("route") == "plain")),
        key=lambda r: (float(r.get("time") or 0.0), int(r.get("id") or 0)))
    findings: list[Finding] = []
    groups = _group(calls, window)
    for group in groups:
        findings += _check(group.attempts, min_backoff=min_backoff, min_retries=min_retries,
                           max_attempts=max_attempts, tolerance=tolerance)
    return Verdict(findings=tuple(findings), calls=len(groups), requests=len(calls),
                   records=tuple(calls))


def _ids(*records: Mapping[str, Any]) -> tuple[int, ...]:
    return tuple(int(r.get("id") or 0) for r in records)


def _what(r: Mapping[str, Any]) -> str:
    """How an attempt failed, in a few words: "429 (rate_limit)", "a dropped stream"."""
    status = _status(r)
    fault = r.get("fault")
    if status >= 400:
        return f"{status}" + (f" ({fault})" if fault else "")
    if fault:
        return f"the stream fault {fault}"
    return f"outcome {r.get('outcome')!r}"


def _check(
    attempts: list[Mapping[str, Any]], *, min_backoff: float, min_retries: int,
    max_attempts: int, tolerance: float,
) -> list[Finding]:
    out: list[Finding] = []
    session = str(attempts[0].get("session") or "")

    def found(kind: str, message: str, *records: Mapping[str, Any]) -> None:
        out.append(Finding(kind, message, _ids(*records), session))

    for prev, cur in zip(attempts, attempts[1:], strict=False):
        wait = float(cur.get("time") or 0.0) - _end(prev)
        status = _status(prev)
        reconnect = prev.get("route") == "plain"
        p, c = f"#{prev.get('id')}", f"#{cur.get('id')}"
        if status >= 400 and (prev.get("should_retry") is False or (
                not _retryable(prev) and prev.get("should_retry") is not True)):
            why = ("said x-should-retry: false" if prev.get("should_retry") is False
                   else "is not retryable (§2.6)")
            found("retried_non_retryable",
                  f"{c} repeated {p}, whose {status} answer {why}", prev, cur)
            continue
        asked = prev.get("retry_after")
        if asked is not None and status >= 400:
            if wait < float(asked) - min(tolerance, float(asked) / 4):
                found("retried_before_retry_after",
                      f"{c} came {wait:.3f} s after {p}'s {_what(prev)}, which asked to wait "
                      f"{float(asked):g} s (retry-after-ms / retry-after, §2.6)", prev, cur)
            continue
        sse_retry = prev.get("sse_retry")
        if reconnect and sse_retry:
            if wait < float(sse_retry) / 1000 - tolerance:
                found("ignored_sse_retry",
                      f"{c} reconnected {wait:.3f} s after {p} ended, but the stream said "
                      f"retry: {sse_retry} ms (§1.7)", prev, cur)
        elif _failed(prev) and wait < min_backoff:
            found("no_backoff",
                  f"{c} came {wait:.3f} s after {p}'s {_what(prev)}; wait and back off "
                  f"(the SDKs wait ≈0.5 s, then ≈1 s, §2.6)", prev, cur)
        if reconnect and cur.get("last_event_id") is None and prev.get("events") and (
                _failed(prev)):
            found("reconnected_without_last_event_id",
                  f"{p} broke after {prev.get('events')} events with ids; {c} started the "
                  "stream again without Last-Event-ID, so it restarts from the first event "
                  "(§1.7)", prev, cur)

    retries = len(attempts) - 1
    if len(attempts) > max_attempts:
        span = _end(attempts[-1]) - float(attempts[0].get("time") or 0.0)
        found("retry_storm", f"{len(attempts)} attempts at one call in {span:.2f} s "
              f"(more than {max_attempts})", *attempts)
    last = attempts[-1]
    asked = last.get("retry_after")
    if (_status(last) >= 400 and _retryable(last) and last.get("should_retry") is not False
            and retries < min_retries
            and (asked is None or float(asked) <= _SDK_MAX_DELAY)):
        found("gave_up", f"the call ended with {_what(last)} after {retries} "
              f"retr{'y' if retries == 1 else 'ies'}; the answer allowed a retry and the SDKs "
              f"make {min_retries} (§2.6)", *attempts)
    elif str(last.get("fault") or "").startswith("truncate_after") and _status(last) < 400:
        found("accepted_truncated_stream",
              f"#{last.get('id')} ended without its finish event or terminator "
              f"({last.get('fault')}) and was not retried", last)
    return out


# -- what the middleware records for the verdict ------------------------------------------------

#: Longest header value or query string kept in a record (a request chooses them).
MAX_KEPT = 1000


#: The SDKs' attempt number (PROTOCOLS.md §2.6: 0 on the first request, then 1, 2, …).
RETRY_COUNT = "HTTP_X_STAINLESS_RETRY_COUNT"


def retry_count(environ: Mapping[str, Any]) -> int | None:
    """The request's ``x-stainless-retry-count`` (at most 4 digits), or None (absent or not a
    number). One reading for the journal (the verdict) and for ``*count`` faults (scenario)."""
    raw = environ.get(RETRY_COUNT)
    if raw is None:
        return None
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 4:
        return None
    return int(raw)


def note_request(entry: Any, environ: Mapping[str, Any]) -> None:
    """Record on `entry` the request facts the verdict reads (values bounded, never parsed
    beyond a whole number)."""
    count = retry_count(environ)
    if count is not None:
        entry.retry_count = count
    key = environ.get("HTTP_IDEMPOTENCY_KEY")
    if key:
        entry.idempotency_key = key[:MAX_KEPT]
    last = environ.get("HTTP_LAST_EVENT_ID")
    if last is not None:
        entry.last_event_id = last[:MAX_KEPT]
    query = environ.get("QUERY_STRING")
    if query:
        entry.query = query[:MAX_KEPT]


def note_answer(entry: Any, headers: Sequence[tuple[str, str]]) -> None:
    """Record the retry hints of an error answer: ``retry-after-ms`` wins over ``retry-after``
    (the SDKs' order, §2.6); ``x-should-retry``."""
    after_ms: float | None = None
    after: float | None = None
    for name, value in headers:
        lower = name.lower()
        if lower == "retry-after-ms":
            after_ms = _seconds(value, 1000)
        elif lower == "retry-after":
            after = _seconds(value, 1)
        elif lower == "x-should-retry" and value in ("true", "false"):
            entry.should_retry = value == "true"
    wait = after_ms if after_ms is not None else after
    if wait is not None:
        entry.retry_after = wait


def _seconds(value: str, per_second: int) -> float | None:
    try:
        number = float(value) / per_second
    except ValueError:
        return None  # an HTTP-date: the mock never sends one
    return number if number >= 0 and number == number else None
