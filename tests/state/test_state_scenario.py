"""The scenario over the state seam, in process (issue 10, points 1 and 3): ``*count`` by the SDKs'
attempt number (``x-stainless-retry-count``, PROTOCOLS.md §2.6) or, without it, in cycles; and
the memory backend's bound on keys that requests choose."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sse_mock import create_app
from sse_mock.testing import WSGITransport


def statuses(app: Any, headers_list: list[dict[str, str]]) -> list[int]:
    with httpx.Client(transport=WSGITransport(app), base_url="http://mock") as c:
        return [c.get("/mock/stream", headers=h).status_code for h in headers_list]


def test_count_fault_by_attempt_number_or_by_cycle() -> None:
    app = create_app(delay=0)
    fault = {"X-Mock-Fault": "rate_limit*2"}
    attempts = [{**fault, "x-stainless-retry-count": str(n)} for n in (0, 1, 2, 0, 2, 5)]
    # Each attempt alone decides: below the count fails, the rest succeed; no state used.
    assert statuses(app, attempts) == [429, 429, 200, 429, 200, 200]
    # Without it (browsers, curl) — or with a value that is no attempt number — the cycle.
    plain = [fault] * 3 + [{**fault, "x-stainless-retry-count": "x"}] * 3
    assert statuses(app, plain) == [429, 429, 200, 429, 429, 200]


def test_request_chosen_fault_specs_do_not_grow_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sse_mock.state.memory.MAX_KEYS", 20)
    app = create_app(delay=0)
    specs = [{"X-Mock-Fault": f"rate_limit:0.{n:04d}*3"} for n in range(200)]
    assert statuses(app, specs) == [429] * 200
    # Written differently, the same fault is the same cycle: "1" and "1.0" seconds.
    assert statuses(app, [{"X-Mock-Fault": "rate_limit:1*1"},
                          {"X-Mock-Fault": "rate_limit:1.0*1"}]) == [429, 200]
    cycles = app.state._sessions[""].cycles
    assert len(cycles) <= 20


def test_reset_starts_cycles_sequences_and_chaos_over() -> None:
    app = create_app(delay=0, seed=3, chaos={"server_error": 0.5},
                     rules=[{"match": {"contains": "x"}, "replies": ["a", "b"]}])
    first = statuses(app, [{}] * 12)
    app.scenario.reset()
    assert statuses(app, [{}] * 12) == first  # the same draws from the same seed again
