"""Queued actions (``POST <prefix>/_next``): the next answers of a session, scripted by a test.

A payload is one action (the keys of a rule's action: ``reply``, ``tool_calls``, ``fault``,
``delay`` …) or ``{"match": {...}, "actions": [...]}``. It is validated like a rule of the
configuration (errors name the key), then stored in the state seam as one JSON item per action,
``{"match": …, "action": …}``, first in first out. :func:`take_queued` serves the first item
whose ``match`` holds for a request, before any rule, and removes it atomically
(``State.queue_take``): with several workers each item is served once.

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: ``reply_file`` is refused in a queued action: a request must not make the mock
    read a file of its choosing from the server's disk. (``lorem`` stays: its size is bounded.)
Divergence #2: a reconnect that resumes a stream (``Last-Event-ID``, PROTOCOLS.md §1.7) takes no
    queued item — like sequences and counts, a resume uses up no state — so it is answered by
    the rules; queue a stream's answer only for streams that are not resumed.
Divergence #3: items are kept as JSON text and parsed again where they are served (another
    worker may serve them); a small cache of parsed items keeps that to once per item and
    process.
"""

from __future__ import annotations

import difflib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from .config import ConfigError
from .dialects.base import Prompt
from .rules import ACTION_KEYS, Action, Rule, parse_rule
from .state import State

__all__ = ["MAX_ITEM_BYTES", "LABEL", "parse_next", "take_queued"]

#: The journal's ``rule`` for a request answered by a queued action.
LABEL = "_next"
#: Largest JSON item one queued action may take.
MAX_ITEM_BYTES = 64 * 1024
_PAYLOAD_KEYS = {"match": "a table of conditions (as a rule's match)",
                 "actions": "a list of actions served in turn"}


def parse_next(payload: Any, where: str = "_next") -> list[str]:
    """Validate a ``_next`` payload; the queue items (JSON text) it makes, first first.

    Raises :class:`~sse_mock.config.ConfigError` naming the key that is wrong.
    """
    if not isinstance(payload, Mapping):
        raise ConfigError(f"{where}: expected a JSON object (an action, or "
                          f"{{\"match\": …, \"actions\": […]}}), got {type(payload).__name__}")
    if "actions" in payload or "match" in payload:
        for key in payload:
            if key not in _PAYLOAD_KEYS:
                hint = " (put action keys inside \"actions\")" if key in ACTION_KEYS else ""
                raise ConfigError(f"{where}: unknown key {key!r}{hint}; allowed with match or "
                                  "actions: match, actions")
        match = payload.get("match", {})
        actions = payload.get("actions")
        if actions is None:
            raise ConfigError(f"{where}: \"actions\" is missing: a list of actions to serve")
        if not isinstance(actions, list) or not actions:
            raise ConfigError(f"{where}.actions: expected a non-empty list of actions")
    else:
        match, actions = {}, [dict(payload)]
    parse_rule(where, {"match": match})  # errors say "_next.match…"
    items = []
    for i, action in enumerate(actions):
        w = f"{where}.actions[{i}]" if "actions" in payload else where
        if not isinstance(action, Mapping):
            raise ConfigError(f"{w}: expected an action (a JSON object), got {action!r}")
        for key in action:
            if key == "reply_file":  # Divergence #1
                raise ConfigError(f"{w}.reply_file: not allowed in a queued action (the "
                                  "mock does not read files a request names); send reply")
            if key not in ACTION_KEYS:
                allowed = [k for k in ACTION_KEYS if k != "reply_file"]
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"{w}: unknown key {key!r}{hint}; allowed: "
                                  f"{', '.join(allowed)}")
        parse_rule(w, action)  # the rule's own checks: errors name the key
        item = json.dumps({"match": match, "action": action}, separators=(",", ":"),
                          sort_keys=True)
        if len(item) > MAX_ITEM_BYTES:
            raise ConfigError(f"{w}: larger than {MAX_ITEM_BYTES} bytes")
        items.append(item)
    return items


_cache: OrderedDict[str, Rule] = OrderedDict()  # Divergence #3
_cache_lock = threading.Lock()
_CACHE_SIZE = 256


def _rule(item: str) -> Rule | None:
    with _cache_lock:
        rule = _cache.get(item)
        if rule is not None:
            _cache.move_to_end(item)
            return rule
    try:
        data = json.loads(item)
        spec = parse_rule(LABEL, {"match": data["match"], **data["action"]}, LABEL)
    except (ValueError, KeyError, TypeError, ConfigError):
        return None  # not ours (a foreign writer of the shared state): skipped
    rule = Rule(spec)
    with _cache_lock:
        _cache[item] = rule
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return rule


def take_queued(
    state: State, session: str, prompt: Prompt, environ: Mapping[str, Any]
) -> Action | None:
    """The first queued action of `session` that matches the request, removed from the queue;
    None when there is none."""
    for item in state.queue_items(session):
        rule = _rule(item)
        if rule is None or not rule.matches(prompt, environ):
            continue
        if state.queue_take(session, item):
            return rule.next_action(prompt, state, session)
        # Another worker served it first: look on.
    return None
