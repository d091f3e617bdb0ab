"""What the mock says, how fast, and whether it fails: one :class:`Decision` per request.

The order of precedence, highest first: per-request controls (query / ``X-Mock-*``), the first
matching rule, then the configuration's defaults.

Everything that changes from one request to the next (``*count`` cycles, sequence positions,
chaos draws) lives in the state seam (:mod:`sse_mock.state`), per session, so several workers
decide as one process would.

Divergence #1: a request that carries the SDKs' ``x-stainless-retry-count`` (PROTOCOLS.md §2.6)
    has its ``*count`` fault decided by that attempt number alone — attempts below the count
    fail, the next succeeds — with no shared state, so "``rate_limit*2``: the SDK's retries
    succeed" holds on any number of workers and connections. Requests without it keep the cycle.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from .config import Config
from .controls import NO_CONTROLS, Controls
from .dialects.base import Prompt, Reply
from .faults import Fault
from .pacing import Timing
from .queue import LABEL as QUEUED
from .queue import take_queued
from .rules import Action, Rule, compile_rules
from .state import MemoryState, State, unit_draw
from .tokens import lorem, tokenize
from .verdict import retry_count

__all__ = ["Decision", "Scenario", "fit_reply"]

_T = TypeVar("_T")


@dataclass(slots=True)
class Decision:
    """What the scenario decided for one request. Treat it as immutable (not frozen: see
    Prompt)."""

    reply: Reply
    timing: Timing
    fault: Fault | None = None
    should_retry: bool | None = None
    rule: str | None = None  # which rule answered ("rules[2]" …), None for the default
    position: int | None = None  # the place in the rule's sequence, None without one (issue 9)
    # The reply's text was given (a rule's or queued action's text, X-Mock-Reply), not the
    # default: a structured-output request checks it instead of generating JSON (schema.py).
    given: bool = False


#: Distinct timings a scenario keeps built (Scenario.decide).
MAX_TIMINGS = 256

_DEFAULTS = Action()  # "no rule matched": every value from the configuration


def _first(*values: _T | None) -> _T:
    """The first value that is not None, else the last (None when all are)."""
    for value in values:
        if value is not None:
            return value
    return values[-1]  # type: ignore[return-value]


class Scenario:
    """Chooses the reply, timing and fault of each request. Thread-safe; its changing parts
    live in `state` (a fresh in-memory one when None)."""

    def __init__(self, config: Config, state: State | None = None) -> None:
        self.config = config
        self.state: State = state if state is not None else MemoryState()
        self.rules: tuple[Rule, ...] = compile_rules(config)
        self._chaos = tuple(config.chaos.items()) if config.chaos else ()
        self._default_reply = lorem(config.lorem_tokens) if config.lorem_tokens else config.reply
        self._timings: dict[tuple[float, float, float, int], Timing] = {}

    def decide(
        self,
        prompt: Prompt,
        controls: Controls,
        environ: Mapping[str, Any],
        resume: bool = False,
        session: str = "",
        position: int | None = None,
    ) -> Decision:
        """Decide one request of `session`. ``resume=True`` (a reconnect with ``Last-Event-ID``)
        repeats the reply served last and uses up no state: no sequence step, count or chaos
        draw."""
        cfg = self.config
        # A queued action (POST <prefix>/_next) answers before any rule; a resume takes none.
        queued = None if resume else take_queued(self.state, session, prompt, environ)
        rule = None if queued is not None else self._match(prompt, environ)
        # `position`: a resumed stream names the place in the sequence its reply came from.
        action, place = (queued, None) if queued is not None else rule.pick(
            prompt, self.state, session, advance=not resume, position=position
        ) if rule is not None else (_DEFAULTS, None)
        # Each value: the request's control, else the rule's, else the configuration's.
        interval = cfg.interval if action.interval is None else action.interval
        ftd = cfg.first_token_delay if action.first_token_delay is None else (
            action.first_token_delay)
        jitter = cfg.jitter if action.jitter is None else action.jitter
        fault: Fault | None = action.fault
        should_retry: bool | None = action.should_retry
        seed = cfg.seed
        if controls is not NO_CONTROLS:  # most requests set none
            interval = _first(controls.delay, interval)
            ftd = _first(controls.first_token_delay, ftd)
            jitter = _first(controls.jitter, jitter)
            fault = _first(controls.fault, fault)
            should_retry = _first(controls.should_retry, should_retry)
            seed = _first(controls.seed, seed)
        label = rule.label if rule is not None else (QUEUED if queued is not None else None)
        reply = action.reply
        if reply is None:
            text = prompt.last_user if cfg.echo and prompt.last_user else self._default_reply
            reply = Reply(text=text)
        if controls.reply is not None:
            reply = Reply(text=controls.reply, finish=reply.finish, usage=reply.usage)
        if fault is None and self._chaos and not resume:
            fault = self._draw_chaos(controls.seed, session)
        if fault is not None and fault.count and not fault.in_stream and not resume:
            if not self._fails_now(session, label, fault, environ):
                fault = None
        timing = self._timings.get((interval, ftd, jitter, seed))
        if timing is None:
            # A frozen dataclass costs a microsecond to build: the few timings in use are kept.
            timing = Timing(interval=interval, first_token_delay=ftd, jitter=jitter,
                            heartbeat=cfg.heartbeat, seed=seed)
            if len(self._timings) < MAX_TIMINGS:  # bounded: a request may choose its values
                self._timings[interval, ftd, jitter, seed] = timing
        given = controls.reply is not None or (action.reply is not None and bool(
            action.reply.text))
        return Decision(reply=reply, timing=timing, fault=fault, should_retry=should_retry,
                        rule=label, position=place, given=given)

    def _match(self, prompt: Prompt, environ: Mapping[str, Any]) -> Rule | None:
        for rule in self.rules:
            if rule.matches(prompt, environ):
                return rule
        return None

    def _fails_now(
        self, session: str, label: str | None, fault: Fault, environ: Mapping[str, Any]
    ) -> bool:
        """``*count`` faults: fail `count` times, then succeed once, in cycles — or, for an
        SDK's attempt, by its attempt number (Divergence #1)."""
        count = fault.count
        attempt = retry_count(environ)
        if attempt is not None:
            return attempt < count
        # The key is built from the parsed fault, not its text: bounded whatever a request sends.
        key = f"count:{label or 'request'}:{fault.name}:{fault.after}:{fault.seconds:g}*{count}"
        return self.state.cycle(session, key, count + 1) < count

    def _draw_chaos(self, request_seed: int | None, session: str = "") -> Fault | None:
        if request_seed is not None:
            x = random.Random(request_seed).random()
        else:
            # A pure function of (seed, draw index): workers sharing the index draw as one.
            x = unit_draw(self.config.seed, self.state.incr(session, "chaos") - 1)
        total = 0.0
        for fault, probability in self._chaos:
            total += probability
            if x < total:
                return fault  # type: ignore[no-any-return]
        return None

    def reset(self, session: str | None = None) -> None:
        """Start over: sequences, ``*count`` cycles, chaos draws, queued actions and the journal,
        of one session, or of all (None) — quotas too."""
        self.state.reset(session)


def fit_reply(reply: Reply, prompt: Prompt) -> Reply:
    """Apply the request's ``stop`` sequences and token limit, as the real APIs do (§2.1)."""
    text = reply.text
    finish = reply.finish
    tool_calls = reply.tool_calls
    if prompt.stop and text:
        cut = min((i for i in (text.find(s) for s in prompt.stop if s) if i >= 0), default=-1)
        if cut >= 0:
            # The model stops at the sequence: nothing after it, tool calls included.
            text = text[:cut]
            finish = finish or "stop_sequence"
            tool_calls = ()
    if prompt.max_tokens is not None:
        tokens = tokenize(text)
        if len(tokens) > prompt.max_tokens:
            text = "".join(tokens[: prompt.max_tokens])
            return replace(reply, text=text, tool_calls=(), finish="length")
    if text is reply.text and finish == reply.finish:
        return reply
    return replace(reply, text=text, finish=finish, tool_calls=tool_calls)
