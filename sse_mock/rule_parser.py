"""Reply rules as written: the keys a rule may hold, and their parsing and checking.

:func:`check_rules`, :func:`check_fixtures` and :func:`check_chaos` are the checks of the
configuration keys ``rules``, ``fixtures`` and ``chaos`` (:data:`sse_mock.config.SCHEMA` names
them), run once by :func:`~sse_mock.config.load_config`; :func:`parse_rule` also checks the
actions queued through ``POST <prefix>/_next``. A typo fails at start-up with the file, the
rule and the key. The result, :class:`RuleSpec` and its :class:`Action` s, is what
:mod:`sse_mock.rules` matches requests against.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from .config_loading import BASE_DIR, ConfigError, check_utf8, load_file
from .dialects.base import Reply, ToolCall, Usage
from .faults import Fault, parse_fault
from .tokens import lorem

__all__ = ["ACTION_KEYS", "MATCH_KEYS", "ROUTES", "RULE_KEYS", "Action", "RuleSpec",
           "check_chaos", "check_fixtures", "check_rules", "parse_rule"]

ROUTES = ("plain", "openai-chat", "openai-completions", "openai-responses", "anthropic-messages",
          "gemini", "ollama-chat", "ollama-generate", "openai-embeddings", "gemini-embeddings",
          "ollama-embeddings")
FINISH = ("stop", "length", "tool_calls", "content_filter", "stop_sequence")

MATCH_KEYS = {
    "contains": "a substring of the last user message (case-insensitive)",
    "regex": "a regular expression searched in the last user message",
    "model": "the requested model: exact, or a glob like \"gpt-4*\"",
    "system": "a substring of the system prompt (case-insensitive)",
    "turn": "the number of user messages so far (1 = first turn)",
    "header": "a table of request headers that must be present: {X-Scenario = \"slow\"} "
              "(\"*\" = any value)",
    "has_tool_result": "true: the request carries tool results; false: it does not",
    "route": "the route: " + ", ".join(ROUTES),
}
ACTION_KEYS = {
    "reply": "the text to answer",
    "reply_file": "a UTF-8 file whose text is the answer (relative to the config file)",
    "echo": "true: answer with the last user message",
    "lorem": "answer with a deterministic lorem ipsum text of this many tokens",
    "tool_calls": "a list of {name, arguments?, id?}: the model calls these tools (without "
                  "arguments: an instance of the tool's JSON Schema from the request)",
    "finish": "the finish reason: " + ", ".join(FINISH),
    "usage": "{input_tokens, output_tokens}: override the counted usage",
    "delay": "seconds between tokens",
    "tokens_per_second": "tokens per second (instead of delay)",
    "first_token_delay": "seconds before the first token",
    "jitter": "random spread of each interval, a fraction from 0 to 1",
    "fault": "a fault from the catalogue (see Faults)",
    "should_retry": "true or false: the x-should-retry header on a fault's error answer",
}
RULE_KEYS = {
    "name": "a label for the journal and errors",
    "match": "a table of conditions, all of which must hold (empty = always)",
    "sequence": "a list of actions served in turn (then from the start again)",
    "replies": "shorthand for a sequence of reply texts",
    **ACTION_KEYS,
}


@dataclass(frozen=True)
class Action:
    """What a rule answers with; None fields mean "the default"."""

    reply: Reply | None = None
    echo: bool = False
    interval: float | None = None
    first_token_delay: float | None = None
    jitter: float | None = None
    fault: Fault | None = None
    should_retry: bool | None = None


@dataclass(frozen=True)
class RuleSpec:
    label: str
    match: Mapping[str, Any]
    actions: tuple[Action, ...]
    catch_all: bool = False
    hints: tuple[str, ...] = ()  # words that describe what it matches, for nearest_rule()
    calls_tools: bool = False  # an action answers with tool calls (see Rule.matches)


def _err(where: str, msg: str) -> ConfigError:
    return ConfigError(f"{where}: {msg}")


def _unknown(where: str, key: str, allowed: Mapping[str, str]) -> ConfigError:
    near = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.5)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    if key == "text":
        hint = " (did you mean 'reply'?)"
    return _err(where, f"unknown key {key!r}{hint}; allowed: {', '.join(allowed)}")


def _number(where: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise _err(where, f"expected a number from {lo:g} to {hi:g}, got {value!r}")
    return float(value)


def _parse_match(where: str, value: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise _err(where, f"expected a table of conditions, got {value!r}")
    out: dict[str, Any] = {}
    hints: list[str] = []
    for key, want in value.items():
        w = f"{where}.{key}"
        if key not in MATCH_KEYS:
            raise _unknown(where, key, MATCH_KEYS)
        if key in ("contains", "system", "model"):
            if not isinstance(want, str) or not want:
                raise _err(w, f"expected a non-empty string, got {want!r}")
            out[key] = want if key == "model" else want.casefold()
            hints.append(want.casefold())
        elif key == "regex":
            if not isinstance(want, str):
                raise _err(w, f"expected a regular expression string, got {want!r}")
            try:
                out[key] = re.compile(want)
            except re.error as exc:
                raise _err(w, f"the regular expression does not compile: {exc}") from None
            literal = re.sub(r"[^\w ]+", " ", re.sub(r"\\.|\(\?\w+\)", " ", want))
            hints += [w.casefold() for w in literal.split() if len(w) >= 3]
        elif key == "turn":
            if isinstance(want, bool) or not isinstance(want, int) or want < 1:
                raise _err(w, f"expected a whole number ≥ 1, got {want!r}")
            out[key] = want
        elif key == "has_tool_result":
            if not isinstance(want, bool):
                raise _err(w, f"expected true or false, got {want!r}")
            out[key] = want
        elif key == "route":
            if want not in ROUTES:
                raise _err(w, f"expected one of {', '.join(ROUTES)}, got {want!r}")
            out[key] = want
        elif key == "header":
            if not isinstance(want, Mapping) or not want or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in want.items()
            ):
                raise _err(w, f'expected a table like {{X-Scenario = "slow"}}, got {want!r}')
            out[key] = tuple(("HTTP_" + k.upper().replace("-", "_"), v) for k, v in want.items())
    return out, tuple(hints)


def _parse_tool_calls(where: str, value: Any) -> tuple[ToolCall, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise _err(where, f"expected a non-empty list of {{name, arguments}}, got {value!r}")
    calls = []
    for i, call in enumerate(value):
        w = f"{where}[{i}]"
        if not isinstance(call, Mapping):
            raise _err(w, f"expected a table {{name, arguments}}, got {call!r}")
        for key in call:
            if key not in ("name", "arguments", "id"):
                raise _unknown(w, key, {"name": "", "arguments": "", "id": ""})
        name = call.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
            raise _err(f"{w}.name", f"expected a function name (letters, digits, _ . -), "
                       f"got {name!r}")
        args = call.get("arguments")
        if args is None:
            # No arguments: made at request time from the request's JSON Schema for the tool
            # (sse_mock.schema), "{}" when it declares none.
            text = ""
        elif isinstance(args, str):
            try:
                json.loads(args)
            except ValueError:
                raise _err(f"{w}.arguments", "the arguments string is not valid JSON") from None
            text = args
        elif isinstance(args, Mapping):
            text = json.dumps(args, separators=(",", ":"), ensure_ascii=False)
        else:
            raise _err(f"{w}.arguments", f"expected a table or a JSON string, got {args!r}")
        call_id = call.get("id", "")
        if not isinstance(call_id, str):
            raise _err(f"{w}.id", f"expected a string, got {call_id!r}")
        calls.append(ToolCall(name=name, arguments=text, id=call_id))
    return tuple(calls)


def _parse_action(where: str, value: Mapping[str, Any], allowed: Mapping[str, str]) -> Action:
    for key in value:
        if key not in allowed:
            raise _unknown(where, key, allowed)
    texts = [k for k in ("reply", "reply_file", "echo", "lorem") if k in value]
    if len(texts) > 1:
        raise _err(where, f"give only one of {', '.join(texts)}")
    text: str | None = None
    if "reply" in value:
        if not isinstance(value["reply"], str):
            raise _err(f"{where}.reply", f"expected a string, got {value['reply']!r}")
        text = value["reply"]
    elif "reply_file" in value:
        name = value["reply_file"]
        if not isinstance(name, str):
            raise _err(f"{where}.reply_file", f"expected a file name, got {name!r}")
        base = BASE_DIR.get()
        path = (base / name) if base is not None else Path(name)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _err(f"{where}.reply_file", f"cannot read {str(path)!r}: {exc}") from None
    elif "lorem" in value:
        n = value["lorem"]
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 1_000_000:
            raise _err(f"{where}.lorem", f"expected a whole number of tokens, got {n!r}")
        text = lorem(n)
    echo = value.get("echo", False)
    if not isinstance(echo, bool):
        raise _err(f"{where}.echo", f"expected true or false, got {echo!r}")
    tool_calls = _parse_tool_calls(f"{where}.tool_calls", value["tool_calls"]) if (
        "tool_calls" in value) else ()
    finish = value.get("finish")
    if finish is not None and finish not in FINISH:
        raise _err(f"{where}.finish", f"expected one of {', '.join(FINISH)}, got {finish!r}")
    usage = None
    if "usage" in value:
        u = value["usage"]
        ok = isinstance(u, Mapping) and set(u) <= {"input_tokens", "output_tokens"} and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in u.values())
        if not ok:
            raise _err(f"{where}.usage", f"expected {{input_tokens, output_tokens}} as whole "
                       f"numbers ≥ 0, got {u!r}")
        usage = Usage(u.get("input_tokens", -1), u.get("output_tokens", -1))
    reply = None
    if text is not None or tool_calls or finish is not None or usage is not None:
        reply = Reply(text=text or "", tool_calls=tool_calls, finish=finish, usage=usage)
    interval = None
    if "delay" in value and "tokens_per_second" in value:
        raise _err(where, "give delay or tokens_per_second, not both")
    if "delay" in value:
        interval = _number(f"{where}.delay", value["delay"], 0, 3600)
    if "tokens_per_second" in value:
        tps = _number(f"{where}.tokens_per_second", value["tokens_per_second"], 0.001, 1e6)
        interval = 1.0 / tps
    ftd = _number(f"{where}.first_token_delay", value["first_token_delay"], 0, 3600) if (
        "first_token_delay" in value) else None
    jitter = _number(f"{where}.jitter", value["jitter"], 0, 1) if "jitter" in value else None
    fault = None
    if "fault" in value:
        try:
            fault = parse_fault(value["fault"])
        except ValueError as exc:
            raise _err(f"{where}.fault", str(exc)) from None
    should_retry = value.get("should_retry")
    if should_retry is not None and not isinstance(should_retry, bool):
        raise _err(f"{where}.should_retry", f"expected true or false, got {should_retry!r}")
    return Action(reply=reply, echo=echo, interval=interval, first_token_delay=ftd,
                  jitter=jitter, fault=fault, should_retry=should_retry)


def parse_rule(where: str, value: Any, label: str | None = None) -> RuleSpec:
    if not isinstance(value, Mapping):
        raise _err(where, f"expected a table, got {value!r}")
    for key in value:
        if key not in RULE_KEYS:
            raise _unknown(where, key, RULE_KEYS)
    name = value.get("name")
    if name is not None and not isinstance(name, str):
        raise _err(f"{where}.name", f"expected a string, got {name!r}")
    label = (label or where.rsplit(": ", 1)[-1]) + (f" ({name})" if name else "")
    match, hints = _parse_match(f"{where}.match", value.get("match", {}))
    action_part = {k: v for k, v in value.items() if k in ACTION_KEYS}
    if "sequence" in value or "replies" in value:
        if "sequence" in value and "replies" in value:
            raise _err(where, "give sequence or replies, not both")
        if action_part:
            raise _err(where, f"with a sequence, put {', '.join(action_part)} inside its items")
        items = value.get("sequence", value.get("replies"))
        key = "sequence" if "sequence" in value else "replies"
        if not isinstance(items, list | tuple) or not items:
            raise _err(f"{where}.{key}", "expected a non-empty list")
        actions = []
        for i, item in enumerate(items):
            if key == "replies":
                if not isinstance(item, str):
                    raise _err(f"{where}.replies[{i}]", f"expected a string, got {item!r}")
                item = {"reply": item}
            actions.append(_parse_action(f"{where}.{key}[{i}]", item, ACTION_KEYS))
    else:
        actions = [_parse_action(where, action_part, ACTION_KEYS)]
    calls_tools = any(a.reply is not None and a.reply.tool_calls for a in actions)
    return RuleSpec(label=label, match=match, actions=tuple(actions),
                    catch_all=not match and not calls_tools,
                    hints=hints + ((name.casefold(),) if name else ()), calls_tools=calls_tools)


def check_rules(value: Any, where: str) -> tuple[RuleSpec, ...]:
    source = where.split(": key ")[0]
    specs = tuple(parse_rule(f"{source}: rules[{i}]", r) for i, r in enumerate(value))
    _warn_unreachable(specs)
    return specs


def check_fixtures(value: Any, where: str) -> tuple[RuleSpec, ...]:
    specs: list[RuleSpec] = []
    for name in value:
        base = BASE_DIR.get()
        path = Path(name) if base is None or Path(name).is_absolute() else base / name
        data = load_file(path)
        unknown = set(data) - {"rules"}
        if unknown:
            raise ConfigError(f"{path}: unknown top-level key {sorted(unknown)[0]!r}; a fixture "
                              "file holds only [[rules]]")
        rules = data.get("rules", [])
        check_utf8(rules, f"{path}: key 'rules'")  # JSON may hold lone surrogates
        if not isinstance(rules, list):
            raise ConfigError(f"{path}: 'rules' must be a list of tables")
        token = BASE_DIR.set(path.resolve().parent)
        try:
            # Labels keep the file's name: the journal and strict mode tell the files apart.
            specs += [parse_rule(f"{path}: rules[{i}]", r, f"{path.name}: rules[{i}]")
                      for i, r in enumerate(rules)]
        finally:
            BASE_DIR.reset(token)
    _warn_unreachable(tuple(specs))
    return tuple(specs)


def _warn_unreachable(specs: Sequence[RuleSpec]) -> None:
    for i, spec in enumerate(specs[:-1]):
        if spec.catch_all:
            warnings.warn(
                f"{specs[i + 1].label} can never match: {spec.label} before it matches "
                "every request", UserWarning, stacklevel=_caller_stacklevel())
            return


def _caller_stacklevel() -> int:
    """The stacklevel that points a warning at the first frame outside sse_mock."""
    package = str(Path(__file__).resolve().parent)
    level = 2
    frame: FrameType | None = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame = frame.f_back
        level += 1
    return level


def check_chaos(value: Any, where: str) -> dict[Fault, float]:
    out: dict[Fault, float] = {}
    for spec, probability in value.items():
        try:
            fault = parse_fault(spec)
        except ValueError as exc:
            raise _err(f"{where}.{spec}", str(exc)) from None
        out[fault] = _number(f"{where}.{spec}", probability, 0, 1)
    if sum(out.values()) > 1.0 + 1e-9:
        raise _err(where, "the probabilities add up to more than 1")
    return out

