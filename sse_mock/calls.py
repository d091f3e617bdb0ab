"""The journal as a test reads it, and the control API of a live mock from Python.

* :class:`Calls` — journal records (the dicts of ``GET <prefix>/_journal``) with filters and
  assertions whose failure messages list what the mock actually received::

      mock.assert_called(2, model="gpt-4o*")
      assert mock.calls(route="openai-chat").last_messages[-1]["content"] == "Hi"

* :class:`Expectations` — those assertions, plus :meth:`~Expectations.assert_resilient`, on
  anything that can list its journal: the pytest plugin's ``sse_mock`` and ``sse_mock_server``
  fixtures and :class:`MockControl`.
* :class:`MockControl` — ``_next``, ``_reset``, ``_journal`` and ``_verdict`` of a mock served
  elsewhere (another process, a Playwright web server), over HTTP with the standard library.

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: :class:`MockControl` uses ``urllib.request``, not httpx: the pytest plugin and
    end-to-end tests must not need an HTTP client library the project under test may not have.
Divergence #2: :meth:`MockControl.verdict` judges the journal it reads in this process
    (:func:`sse_mock.verdict.judge`) instead of reading ``_verdict``: the same function either
    way, and the report can then quote the requests it is based on.
"""

from __future__ import annotations

import fnmatch
import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload
from urllib.parse import parse_qsl

from .journal import last_user_text
from .verdict import Verdict, describe, judge

__all__ = ["Calls", "ControlError", "Expectations", "MockControl", "said"]

Record = dict[str, Any]


def said(record: Mapping[str, Any]) -> str:
    """The last user message of a journal record, as text ("" when there is none).

    Reads every dialect's body (Chat and Anthropic ``messages``, Responses ``input``,
    Completions ``prompt``, Gemini ``contents``; :func:`sse_mock.journal.last_user_text`, the
    reader the journal's summaries use), the summary of a large body (its first 200 characters)
    and the plain stream's ``?prompt=``.

    >>> said({"body": {"messages": [{"role": "user", "content": "Hi"}]}})
    'Hi'
    """
    body = record.get("body")
    if not isinstance(body, Mapping):
        for key, value in parse_qsl(str(record.get("query") or "")):
            if key == "prompt":
                return value
        return ""
    if body.get("summary") is True:
        return str(body.get("last_user") or "")
    return last_user_text(body) or ""


class Calls(Sequence[Record]):
    """Journal records, oldest first, with filters and readable assertions.

    :param records: The records (dicts of ``GET <prefix>/_journal``).
    :param everything: All the records the mock holds, shown by failure messages when
        `records` is a filtered part of them.
    """

    def __init__(self, records: Sequence[Mapping[str, Any]],
                 everything: Sequence[Mapping[str, Any]] | None = None,
                 described: str = "") -> None:
        self._records: list[Record] = [dict(r) for r in records]
        self._everything = list(everything) if everything is not None else self._records
        self._described = described

    # Sequence
    @overload
    def __getitem__(self, index: int) -> Record: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Record]: ...
    def __getitem__(self, index: int | slice) -> Record | Sequence[Record]:
        return self._records[index]

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self._records)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return self._records == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, compared by content

    def __repr__(self) -> str:
        return f"<Calls: {len(self)} {self._described or 'requests'}>"

    # -- filters -------------------------------------------------------------------------------

    def where(
        self,
        *,
        route: str | None = None,
        model: str | None = None,
        contains: str | None = None,
        path: str | None = None,
        method: str | None = None,
        status: int | None = None,
        outcome: str | None = None,
        fault: str | None = None,
        rule: str | None = None,
        session: str | None = None,
    ) -> Calls:
        """The records that match every given condition: `route` (``"openai-chat"``,
        ``"anthropic-messages"``, ``"plain"`` …), `model` (exact or a glob like ``"gpt-4*"``),
        `contains` (a substring of the last user message, case-insensitive), and the exact
        `path`, `method`, `status`, `outcome`, `fault` (or its name, ``"rate_limit"``),
        `rule` and `session`."""
        wanted = {k: v for k, v in (("route", route), ("path", path), ("method", method),
                                    ("status", status), ("outcome", outcome), ("rule", rule),
                                    ("session", session)) if v is not None}
        words = [f"{k}={v!r}" for k, v in (*wanted.items(), ("model", model),
                                            ("contains", contains), ("fault", fault))
                 if v is not None]

        def ok(r: Mapping[str, Any]) -> bool:
            if any(r.get(k) != v for k, v in wanted.items()):
                return False
            if model is not None and not fnmatch.fnmatchcase(_model(r), model):
                return False
            if fault is not None and r.get("fault") != fault and str(
                    r.get("fault") or "").split("*")[0].split(":")[0] != fault:
                return False
            return contains is None or contains.casefold() in said(r).casefold()

        described = " ".join(filter(None, [self._described, *words]))
        return Calls([r for r in self._records if ok(r)], self._everything, described)

    # -- what a test reads ---------------------------------------------------------------------

    @property
    def last(self) -> Record:
        """The newest record (an AssertionError listing the journal when there is none)."""
        __tracebackhide__ = True  # pytest: show the test's line, not ours
        if not self._records:
            raise AssertionError(self._message("expected at least one request"))
        return self._records[-1]

    @property
    def last_body(self) -> Any:
        """The JSON body of the newest request."""
        return self.last.get("body")

    @property
    def last_messages(self) -> list[Any]:
        """The newest request's conversation: ``messages`` (Chat, Anthropic, Ollama), the
        Responses ``input`` or Gemini ``contents``; ``[]`` when it has none."""
        body = self.last_body
        if isinstance(body, Mapping):
            for key in ("messages", "input", "contents"):
                value = body.get(key)
                if isinstance(value, list):
                    return value
                if isinstance(value, str):
                    return [{"role": "user", "content": value}]
        return []

    @property
    def models(self) -> list[str]:
        return [_model(r) for r in self._records]

    # -- assertions ----------------------------------------------------------------------------

    def assert_called(self, times: int | None = None) -> Calls:
        """At least one record (or exactly `times`); returns self."""
        __tracebackhide__ = True  # pytest: show the test's line, not ours
        if (not self._records) if times is None else len(self._records) != times:
            want = "at least one request" if times is None else (
                f"{times} request{'s' if times != 1 else ''}")
            raise AssertionError(self._message(f"expected {want}"))
        return self

    def assert_not_called(self) -> None:
        __tracebackhide__ = True  # pytest: show the test's line, not ours
        if self._records:
            raise AssertionError(self._message("expected no request"))

    def _message(self, expectation: str) -> str:
        what = f" with {self._described}" if self._described else ""
        lines = [f"{expectation}{what}, got {len(self._records)}."]
        if not self._everything:
            lines.append("The mock's journal is empty: no request reached it (is the client's "
                         "base URL the mock's, and the session the same?).")
        else:
            lines.append(f"The mock received {len(self._everything)} request(s):")
            shown = self._everything[-20:]
            if len(self._everything) > len(shown):
                lines.append(f"  … {len(self._everything) - len(shown)} older ones not shown")
            lines += ["  " + _line(r) for r in shown]
        return "\n".join(lines)


def _model(record: Mapping[str, Any]) -> str:
    body = record.get("body")
    model = body.get("model") if isinstance(body, Mapping) else None
    return model if isinstance(model, str) else ""


def _line(record: Mapping[str, Any]) -> str:
    text = said(record)
    if len(text) > 60:
        text = text[:57] + "..."
    model = _model(record)
    return (describe(record) + (f" model={model}" if model else "")
            + (f" {text!r}" if text else ""))


class Expectations:
    """Journal assertions for anything that can list its journal and judge it."""

    def journal_records(self) -> list[Record]:  # pragma: no cover - abstract
        raise NotImplementedError

    def verdict(self, **options: Any) -> Verdict:
        """The resilience verdict over the journal (:func:`sse_mock.verdict.judge`)."""
        return judge(self.journal_records(), **options)

    def calls(self, **filters: Any) -> Calls:
        """The journal as :class:`Calls`, filtered as :meth:`Calls.where`."""
        records = self.journal_records()
        everything = Calls(records)
        return everything.where(**filters) if filters else everything

    def assert_called(self, times: int | None = None, **filters: Any) -> Calls:
        """Assert that requests matching `filters` reached the mock (exactly `times` when
        given); returns them. The failure message lists every request received."""
        __tracebackhide__ = True  # pytest: show the test's line, not ours
        return self.calls(**filters).assert_called(times)

    def assert_called_once(self, **filters: Any) -> Record:
        """Assert exactly one matching request; returns its record."""
        __tracebackhide__ = True  # pytest: show the test's line, not ours
        return self.calls(**filters).assert_called(1).last

    def assert_not_called(self, **filters: Any) -> None:
        __tracebackhide__ = True  # pytest: show the test's line, not ours
        self.calls(**filters).assert_not_called()

    @property
    def last_request(self) -> Record:
        """The newest record of an LLM or stream request (not model lists)."""
        records = [r for r in self.journal_records()
                   if r.get("method") == "POST" or r.get("route") == "plain"]
        return Calls(records, self.journal_records()).last

    def assert_resilient(self, *, ignore: Sequence[str] = (), **options: Any) -> Verdict:
        """Fail, with the verdict's explanation, when the clients mishandled the faults they
        were given. `ignore`: finding kinds to accept (``"gave_up"`` …)."""
        __tracebackhide__ = True  # pytest: show the test's line, not ours
        verdict = self.verdict(**options)
        kept = tuple(f for f in verdict.findings if f.kind not in ignore)
        if kept:
            shown = Verdict(kept, verdict.calls, verdict.requests, verdict.records)
            raise AssertionError(shown.explain())
        return verdict


class ControlError(Exception):
    """The control API refused a request (the message is the mock's)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class MockControl(Expectations):
    """The control API of a mock served elsewhere.

    :param url: The server's base URL (``http://127.0.0.1:8001``), with or without the prefix.
    :param prefix: Where the mock is mounted ("/mock").
    :param session: The session every call names (``X-Mock-Session``); "" is the default one.
    :param timeout: Seconds per call.

    >>> MockControl("http://127.0.0.1:8001", session="t1").base
    'http://127.0.0.1:8001/mock'
    """

    def __init__(self, url: str, *, prefix: str = "/mock", session: str = "",
                 timeout: float = 10.0) -> None:
        url = url.rstrip("/")
        prefix = prefix.rstrip("/")
        self.base = url if prefix and url.endswith(prefix) else url + prefix
        self.session = session
        self.timeout = timeout

    def for_session(self, session: str) -> MockControl:
        """The same mock, another session."""
        return MockControl(self.base, prefix="", session=session, timeout=self.timeout)

    @property
    def headers(self) -> dict[str, str]:
        """Headers that put a client's requests in this session (SDKs' ``default_headers``)."""
        return {"X-Mock-Session": self.session} if self.session else {}

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        for name, value in self.headers.items():
            request.add_header(name, value)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")
            exc.close()
            try:
                message = json.loads(text)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = text[:500]
            raise ControlError(exc.code, message) from None
        return json.loads(body) if body else None

    def journal_records(self) -> list[Record]:
        """The session's journal (``GET <prefix>/_journal``)."""
        return list(self._call("GET", "/_journal")["data"])

    def next(self, *actions: Mapping[str, Any], match: Mapping[str, Any] | None = None,
             **action: Any) -> Any:
        """Queue the next answers of this session (``POST <prefix>/_next``): one action as
        keywords (``next(reply="Hi")``, ``next(fault="rate_limit")``), or several as mappings
        served in turn; `match` limits them to the requests it matches. A bad key raises
        :class:`ControlError` naming it."""
        if action and actions:
            raise TypeError("give the action as keywords or as mappings, not both")
        items = [dict(a) for a in actions] or [action]
        if match is None and len(items) == 1:
            payload: Any = items[0]
        else:
            payload = {"actions": items, **({"match": dict(match)} if match is not None else {})}
        return self._call("POST", "/_next", payload)

    def queued(self) -> list[Any]:
        """The session's queued actions, first in first (``GET <prefix>/_next``)."""
        return list(self._call("GET", "/_next")["data"])

    def reset(self) -> None:
        """Restart this session's journal, cycles, sequences, chaos draws and queue
        (``POST <prefix>/_reset``); for the default session "", everything."""
        self._call("POST", "/_reset")

    def remote_verdict(self) -> dict[str, Any]:
        """``GET <prefix>/_verdict`` as JSON."""
        return dict(self._call("GET", "/_verdict"))
