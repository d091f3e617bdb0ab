"""Which value wins: the request's control, else the matching rule's, else the configuration's
(docs/scenarios.rst; ``Scenario.decide``), for every timing and fault value and the reply; and,
within a request, the ``X-Mock-*`` header over the query parameter (controls.py).

Timings are read from the schedule the pacer writes on, through its injectable clock: no test
here sleeps or reads the wall clock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import pytest
from conftest import validated
from werkzeug.test import Client

from sse_mock import SSEMockMiddleware, create_app
from sse_mock._parser import parse
from sse_mock.controls import CONTROLS
from sse_mock.dialects.base import Frame
from sse_mock.pacing import Pacer, Timing

PROMPT = "pick"  # the rule below matches it (`contains`)
REPLY = "a b c d e f"  # six tokens: five intervals to read the pace from


class FakeClock:
    """A monotonic clock that only moves when slept on."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


def make(rule: Mapping[str, Any] | None = None, **config: Any) -> SSEMockMiddleware:
    """create_app() with `config`, plus one rule (matching PROMPT) holding `rule` if given."""
    config.setdefault("reply", REPLY)
    config.setdefault("heartbeat", 0)
    if rule is not None:
        config["rules"] = [{"name": "picked", "match": {"contains": PROMPT}, **rule}]
    return create_app(**config)


def stream(app: SSEMockMiddleware, qs: str, headers: Mapping[str, str] | None = None
           ) -> tuple[int, dict[str, str], list[tuple[float, str]]]:
    """GET the plain stream on a fake clock: status, headers (lower-case names), and
    (due time, data) per event."""
    fake = FakeClock()
    app.pacer.clock, app.pacer.sleep = fake.clock, fake.sleep
    r = Client(validated(app)).get("/mock/stream?" + qs, headers=dict(headers or {}),
                                   buffered=False)
    events: list[tuple[float, str]] = []
    try:
        for chunk in r.response:
            events += [(round(fake.now, 9), e.data) for e in parse(chunk)]
    finally:
        r.close()
    return r.status_code, {k.lower(): v for k, v in r.headers.items()}, events


def fetch(app: SSEMockMiddleware, query: Mapping[str, str] | None = None
          ) -> tuple[int, dict[str, str], list[tuple[float, str]]]:
    """The plain stream for PROMPT with `query` as controls."""
    pairs = {"prompt": PROMPT, **(query or {})}
    return stream(app, "&".join(f"{k}={quote(v)}" for k, v in pairs.items()))


def token_times(events: list[tuple[float, str]]) -> list[float]:
    return [t for t, data in events if data != "[DONE]"]


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 9) for a, b in zip(times, times[1:], strict=False)]


def reference_schedule(timing: Timing, n: int = len(REPLY.split())) -> list[float]:
    """When `n` tokens leave under `timing`: the pacer itself, on a fake clock."""
    fake = FakeClock()
    frames = [Frame(f"data: {i}\n\n".encode(), token=True) for i in range(n)]
    times = []
    for chunk in Pacer(fake.clock, fake.sleep).pace(frames, timing, first=b""):
        times += [round(fake.now, 9)] * chunk.count(b"\n\n")
    return times


# -- request, else rule, else config --------------------------------------------------------------
# Each case: the config's value, the rule's value, the request's value (all different), and
# how to read the one that was used from an answer.

LEVELS = ["request", "rule", "config"]


def levels(level: str, config: dict[str, Any], rule: dict[str, Any], query: dict[str, str]
           ) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, str]]:
    """Keep the values of `level` and every level below it (config always stays)."""
    if level == "config":
        return config, {"reply": REPLY}, {}  # a matching rule that leaves the value unset
    if level == "rule":
        return config, {"reply": REPLY, **rule}, {}
    return config, {"reply": REPLY, **rule}, query


@pytest.mark.parametrize("level", LEVELS)
def test_delay(level: str) -> None:
    config, rule, query = levels(level, {"delay": 1.0}, {"delay": 0.5}, {"delay": "0.25"})
    _, _, events = fetch(make(rule, **config), query)
    expected = {"request": 0.25, "rule": 0.5, "config": 1.0}[level]
    assert gaps(token_times(events)) == [expected] * 5


def test_tokens_per_second_is_a_rules_delay_and_loses_to_the_request() -> None:
    app = make({"tokens_per_second": 4}, delay=1.0)
    assert gaps(token_times(fetch(app)[2])) == [0.25] * 5
    assert gaps(token_times(fetch(app, {"delay": "0.125"})[2])) == [0.125] * 5


@pytest.mark.parametrize("level", LEVELS)
def test_first_token_delay(level: str) -> None:
    config, rule, query = levels(level, {"first_token_delay": 4.0, "delay": 0.5},
                                 {"first_token_delay": 3.0}, {"first_token_delay": "2"})
    _, _, events = fetch(make(rule, **config), query)
    expected = {"request": 2.0, "rule": 3.0, "config": 4.0}[level]
    assert token_times(events) == [expected + 0.5 * i for i in range(6)]


@pytest.mark.parametrize("level", LEVELS)
def test_jitter(level: str) -> None:
    config, rule, query = levels(level, {"jitter": 0.9, "delay": 1.0, "seed": 5},
                                 {"jitter": 0.5}, {"jitter": "0.1"})
    _, _, events = fetch(make(rule, **config), query)
    jitter = {"request": 0.1, "rule": 0.5, "config": 0.9}[level]
    assert token_times(events) == reference_schedule(Timing(interval=1.0, jitter=jitter, seed=5))
    # and the three jitters give three different schedules (the assertion above can tell them
    # apart)
    assert len({tuple(reference_schedule(Timing(interval=1.0, jitter=j, seed=5)))
                for j in (0.1, 0.5, 0.9)}) == 3


@pytest.mark.parametrize("level", ["request", "config"])
def test_seed(level: str) -> None:
    # Rules have no seed of their own: the request's, else the configuration's.
    app = make({"reply": REPLY}, jitter=0.5, delay=1.0, seed=22)
    _, _, events = fetch(app, {"seed": "11"} if level == "request" else {})
    seed = 11 if level == "request" else 22
    assert token_times(events) == reference_schedule(Timing(interval=1.0, jitter=0.5, seed=seed))
    assert reference_schedule(Timing(interval=1.0, jitter=0.5, seed=11)) != reference_schedule(
        Timing(interval=1.0, jitter=0.5, seed=22))


def test_the_request_seed_also_draws_chaos() -> None:
    # chaos overloaded:0.5. A request's seed decides its own draw: the same seed, the same
    # answer, however the requests interleave; the configuration's seed would draw anew each
    # time (the same seed answered 503 once and 200 the next time).
    app = make(None, chaos={"overloaded": 0.5}, seed=1, delay=0)
    seen: dict[int, set[int]] = {seed: set() for seed in range(1, 9)}
    for _ in range(3):
        for seed in seen:
            seen[seed].add(fetch(app, {"seed": str(seed)})[0])
    assert all(len(statuses) == 1 for statuses in seen.values()), seen
    assert set().union(*seen.values()) == {200, 503}, seen


@pytest.mark.parametrize("level", LEVELS)
def test_fault(level: str) -> None:
    # The configuration's "fault" is chaos: overloaded every time (probability 1).
    config, rule, query = levels(level, {"chaos": {"overloaded": 1.0}, "delay": 0},
                                 {"fault": "rate_limit"}, {"fault": "server_error"})
    status, _, _ = fetch(make(rule, **config), query)
    assert status == {"request": 500, "rule": 429, "config": 503}[level]


@pytest.mark.parametrize("level", ["request", "rule", "default"])
def test_should_retry(level: str) -> None:
    # The configuration has no should_retry: without a request's or rule's value, no header.
    rule: dict[str, Any] = {"fault": "rate_limit"}
    if level != "default":
        rule["should_retry"] = True
    query = {"should_retry": "false"} if level == "request" else {}
    status, headers, _ = fetch(make(rule, delay=0), query)
    assert status == 429
    assert headers.get("x-should-retry") == {"request": "false", "rule": "true",
                                             "default": None}[level]


@pytest.mark.parametrize("level", LEVELS)
def test_reply(level: str) -> None:
    config = {"reply": "from config", "delay": 0}
    rule = {"reply": "from rule"} if level != "config" else {"delay": 0}
    query = {"reply": "from request"} if level == "request" else {}
    _, _, events = fetch(make(rule, **config), query)
    assert [d for _, d in events] == ["from", level, "[DONE]"]


def test_a_rule_that_sets_one_value_leaves_the_others_to_the_config() -> None:
    app = make({"delay": 0.5}, first_token_delay=3.0, delay=1.0)
    assert token_times(fetch(app)[2]) == [3.0 + 0.5 * i for i in range(6)]


# -- header over query --------------------------------------------------------------------------
# Both sent at once, with different values: the X-Mock-* header wins (controls.py,
# docs/scenarios.rst "Per-request controls").

# control → (query value, header value, how to read the value used from (status, headers, events))
BOTH: dict[str, tuple[str, str, Any]] = {
    "delay": ("2", "0.25", lambda s, h, e: gaps(token_times(e)) == [0.25] * 5),
    "first_token_delay": ("5", "1.5", lambda s, h, e: token_times(e)[0] == 1.5),
    "jitter": ("0.9", "0.2", lambda s, h, e: token_times(e) == reference_schedule(
        Timing(interval=1.0, jitter=0.2, seed=0))),
    "seed": ("1", "2", lambda s, h, e: token_times(e) == reference_schedule(
        Timing(interval=1.0, jitter=0.5, seed=2))),
    "reply": ("from+the+query", quote("from the header ✓"),
              lambda s, h, e: [d for _, d in e] == ["from", "the", "header", "✓", "[DONE]"]),
    "fault": ("rate_limit", "server_error", lambda s, h, e: s == 500),
    "should_retry": ("true", "false", lambda s, h, e: s == 429 and h.get("x-should-retry")
                     == "false"),
}


def test_every_control_is_covered_here() -> None:
    assert set(BOTH) == set(CONTROLS)


@pytest.mark.parametrize("name", sorted(BOTH))
def test_header_wins_over_query(name: str) -> None:
    query_value, header_value, used = BOTH[name]
    config: dict[str, Any] = {"delay": 1.0}
    if name == "seed":
        config["jitter"] = 0.5
    if name == "should_retry":
        config["rules"] = [{"fault": "rate_limit"}]
    header = CONTROLS[name][0]
    # The query value is sent as written (already encoded), the header percent-encoded where
    # it needs to be (X-Mock-Reply).
    both = stream(create_app(reply=REPLY, heartbeat=0, **config), f"{name}={query_value}",
                  {header: header_value})
    assert used(*both), both
    # and the query's value alone would show (the check tells the two values apart)
    alone = stream(create_app(reply=REPLY, heartbeat=0, **config), f"{name}={query_value}")
    assert alone[0] in (200, 429, 500) and not used(*alone), alone


def test_header_wins_on_an_llm_route_too() -> None:
    app = create_app(delay=0)
    r = Client(validated(app)).post(
        "/mock/v1/chat/completions?reply=from+the+query",
        data=json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
        content_type="application/json", headers={"X-Mock-Reply": "from%20the%20header"},
        buffered=True)
    assert json.loads(r.get_data())["choices"][0]["message"]["content"] == "from the header"
