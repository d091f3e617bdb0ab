"""Reply rules at run time: which rule answers a request, and with which action.

Rules come from the configuration's ``rules`` list and from ``fixtures`` files, parsed and
checked once when the configuration is loaded (:mod:`sse_mock.rule_parser`, whose names this
module re-exports); :func:`compile_rules` gives each its place in the state seam, where its
sequence position lives. First match wins.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config_loading import BASE_DIR
from .dialects.base import Prompt, Reply
from .rule_parser import (
    ACTION_KEYS,
    MATCH_KEYS,
    ROUTES,
    RULE_KEYS,
    Action,
    RuleSpec,
    parse_rule,
)
from .state import State

if TYPE_CHECKING:
    from .config import Config

__all__ = ["ACTION_KEYS", "BASE_DIR", "MATCH_KEYS", "ROUTES", "RULE_KEYS", "Action", "Rule",
           "RuleSpec", "compile_rules", "nearest_rule", "parse_rule"]


@dataclass(frozen=True)
class Rule:
    """A compiled rule. Its sequence position lives in the state seam, under `key`."""

    spec: RuleSpec
    key: str = "seq:0"  # the state key of its sequence position ("seq:<index>")

    @property
    def label(self) -> str:
        return self.spec.label

    def matches(self, prompt: Prompt, environ: Mapping[str, Any]) -> bool:
        if self.spec.calls_tools and (not prompt.tools or (
                prompt.ends_with_tool_result and "has_tool_result" not in self.spec.match)):
            # A model calls only tools the request declares, and a rule that calls a tool does
            # not answer that tool's own result (the agent loop would never end) unless its
            # match says `has_tool_result` (issue 12).
            return False
        for key, want in self.spec.match.items():
            if key == "contains":
                if want not in prompt.last_user.casefold():
                    return False
            elif key == "regex":
                if not want.search(prompt.last_user):
                    return False
            elif key == "model":
                if not fnmatch.fnmatchcase(prompt.model, want):
                    return False
            elif key == "system":
                if want not in prompt.system.casefold():
                    return False
            elif key == "turn":
                if prompt.turn != want:
                    return False
            elif key == "has_tool_result":
                if prompt.has_tool_results != want:
                    return False
            elif key == "route":
                if prompt.route != want:
                    return False
            elif key == "header":
                for env_key, value in want:
                    got = environ.get(env_key)
                    if got is None or (value != "*" and got != value):
                        return False
        return True

    def next_action(
        self, prompt: Prompt, state: State, session: str = "", advance: bool = True
    ) -> Action:
        """The action for this request of `session`. ``advance=False`` (a resumed stream)
        answers again with the action served last, without moving the sequence on."""
        return self.pick(prompt, state, session, advance)[0]

    def pick(
        self, prompt: Prompt, state: State, session: str = "", advance: bool = True,
        position: int | None = None,
    ) -> tuple[Action, int | None]:
        """:meth:`next_action` and the position it took in the sequence (None: one action).
        `position` (a resumed stream's event id, issue 9) takes that one, using up no state."""
        actions = self.spec.actions
        n = len(actions)
        if n == 1:
            pos = None
        elif position is not None:
            pos = position % n
        elif advance:  # one atomic step of the state: one request takes each position
            pos = state.cycle(session, self.key, n)
        else:
            pos = (state.peek(session, self.key) - 1) % n
        action = actions[pos or 0]
        return self._echoed(action, prompt), pos

    @staticmethod
    def _echoed(action: Action, prompt: Prompt) -> Action:
        if action.echo:
            reply = Reply(text=prompt.last_user)
            return Action(reply=reply, interval=action.interval,
                          first_token_delay=action.first_token_delay, jitter=action.jitter,
                          fault=action.fault, should_retry=action.should_retry)
        return action


def compile_rules(config: Config) -> tuple[Rule, ...]:
    specs = (*config.rules, *config.fixtures)
    return tuple(Rule(spec, f"seq:{i}") for i, spec in enumerate(specs))


#: Bounds of strict mode's "nearest rule" hint (issue 9: milliseconds, even for a one-megabyte
#: message): the distinct words compared, and the characters of a word, a hint or the phrase.
NEAREST_WORDS = 100
NEAREST_CHARS = 200
NEAREST_SCAN = 16 * 1024


def nearest_rule(rules: Sequence[Rule], prompt: Prompt) -> Rule | None:
    """The rule whose match words look most like the request (for strict mode's error).

    Its cost is bounded whatever the request: only the message's first :data:`NEAREST_SCAN`
    characters are looked at — a substring test, then fuzzy comparisons with at most
    :data:`NEAREST_WORDS` distinct words and the first :data:`NEAREST_CHARS` characters, each
    cut to :data:`NEAREST_CHARS`."""
    text = prompt.last_user[:NEAREST_SCAN].casefold()
    head = text[: NEAREST_WORDS * 16]
    words = dict.fromkeys(w[:NEAREST_CHARS] for w in head.split())
    said = [*list(words)[:NEAREST_WORDS], head[:NEAREST_CHARS]]
    best, best_score = None, 0.0
    for rule in rules:
        for hint in rule.spec.hints:
            if len(hint) >= 3 and hint in text:
                score = 1.0
            else:  # the closest word (typos), or the message's start (phrases)
                matcher = difflib.SequenceMatcher(None, "", hint[:NEAREST_CHARS])
                score = 0.0
                for w in said:  # only what could beat the best so far is computed in full
                    matcher.set_seq1(w)
                    floor = max(score, best_score)
                    if matcher.real_quick_ratio() > floor and matcher.quick_ratio() > floor:
                        score = max(score, matcher.ratio())
            if score > best_score:
                best, best_score = rule, score
    return best if best is not None else (rules[0] if rules else None)
