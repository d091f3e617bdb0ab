"""Per-request controls: a query parameter (what ``EventSource`` can send) or an ``X-Mock-*``
header (any method; the SDKs' ``extra_headers``). DESIGN.md A, "Per-request controls". When a
request sends both, the header wins (docs/scenarios.rst; tests/test_precedence.py).

Every value is validated; a bad one is a 400 in the route's error shape naming the control.
Every duration a request chooses (``delay``, ``first_token_delay``, the seconds of a ``timeout``
or ``stall_after`` fault) is bounded by ``max_request_seconds`` (default 60): a request cannot make
a worker wait longer than the operator allows (issue 9; docs: Security). The configuration's own
values keep their limits (3600 s).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from .dialects.base import MockError
from .faults import Fault, parse_fault

__all__ = ["CONTROLS", "NO_CONTROLS", "Controls", "read_controls"]

MAX_REPLY = 1_000_000
_SEED_RE = re.compile(r"-?[0-9]{1,19}")


@dataclass(frozen=True)
class Controls:
    delay: float | None = None
    first_token_delay: float | None = None
    jitter: float | None = None
    reply: str | None = None
    fault: Fault | None = None
    seed: int | None = None
    should_retry: bool | None = None
    # Not a control: the plain stream's `?prompt=` (what the demo page's user typed), read
    # here so that the query string is parsed once.
    prompt: str | None = None


#: control name → (header, what it takes); the docs table is generated from this.
CONTROLS: dict[str, tuple[str, str]] = {
    "delay": ("X-Mock-Delay", "seconds between tokens, 0 to max_request_seconds"),
    "first_token_delay": ("X-Mock-First-Token-Delay",
                          "seconds before the first token, 0 to max_request_seconds"),
    "jitter": ("X-Mock-Jitter", "random spread of each interval, a fraction from 0 to 1"),
    "reply": ("X-Mock-Reply", "the text to stream (percent-encoded UTF-8 in the header)"),
    "fault": ("X-Mock-Fault", "a fault from the catalogue, e.g. rate_limit or error_after:3"),
    "seed": ("X-Mock-Seed", "seed for jitter and chaos, a whole number"),
    "should_retry": ("X-Mock-Should-Retry", "true or false: the x-should-retry header on errors"),
}
_ENVIRON_KEYS = {name: "HTTP_" + header.upper().replace("-", "_")
                 for name, (header, _) in CONTROLS.items()}
_HEADER_KEYS = frozenset(_ENVIRON_KEYS.values())


def _bad(name: str, why: str) -> MockError:
    header = CONTROLS[name][0]
    return MockError(400, f"Invalid mock control '{name}' ({header}): {why}", param=name)


def _number(name: str, raw: str, maximum: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise _bad(name, f"expected a number, got {raw[:50]!r}") from None
    if not math.isfinite(value) or not 0 <= value <= maximum:
        more = " (max_request_seconds)" if name in ("delay", "first_token_delay") else ""
        raise _bad(name, f"expected a number from 0 to {maximum:g}{more}, got {raw[:50]!r}")
    return value


#: Fault arguments that make the server wait (rate_limit's seconds are the client's wait).
_WAITING_FAULTS = frozenset({"timeout", "stall_after"})


def read_controls(environ: Mapping[str, Any], max_seconds: float = 60.0) -> Controls:
    """Read the controls of one request; a header wins over the query parameter.

    ``max_seconds`` (``max_request_seconds``) bounds every duration the request chooses."""
    raw: dict[str, str] = {}
    prompt = None
    qs = environ.get("QUERY_STRING", "")
    if qs:
        try:
            # Strict UTF-8: a query value that is not UTF-8 is an error, not U+FFFD.
            pairs = parse_qsl(qs, keep_blank_values=True, errors="strict", max_num_fields=100)
        except UnicodeDecodeError:
            raise MockError(400, "The query string is not valid percent-encoded UTF-8.",
                            param="query") from None
        except ValueError:
            raise MockError(400, "Too many query parameters.", param="query") from None
        for key, value in pairs:
            if key in CONTROLS:
                raw[key] = value
            elif key == "prompt":
                prompt = value
    from_header: set[str] = set()
    if not environ.keys().isdisjoint(_HEADER_KEYS):  # most requests send no X-Mock-* header
        for name, env_key in _ENVIRON_KEYS.items():
            value = environ.get(env_key)
            if value is not None:
                raw[name] = value
                from_header.add(name)
    if not raw:
        return NO_CONTROLS if prompt is None else Controls(prompt=prompt)
    values: dict[str, Any] = {"prompt": prompt}
    for name, value in raw.items():
        if name == "reply":
            if name in from_header:
                # Headers are latin-1 in WSGI; the value is percent-encoded UTF-8.
                try:
                    value = unquote_to_bytes(value.encode("latin-1")).decode("utf-8")
                except (UnicodeDecodeError, UnicodeEncodeError):
                    raise _bad(name, "not percent-encoded UTF-8") from None
            if len(value) > MAX_REPLY:
                raise _bad(name, f"longer than {MAX_REPLY} characters")
            if "\x00" in value:
                raise _bad(name, "contains NUL")
            values[name] = value
            continue
        if "\r" in value or "\n" in value or "\x00" in value:
            raise _bad(name, "contains CR, LF or NUL")
        value = value.strip()
        if name in ("delay", "first_token_delay"):
            values[name] = _number(name, value, max_seconds)
        elif name == "jitter":
            values[name] = _number(name, value, 1)
        elif name == "seed":
            # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
            if not _SEED_RE.fullmatch(value):
                raise _bad(name, f"expected a whole number, got {value[:50]!r}")
            values[name] = int(value)
        elif name == "fault":
            try:
                fault = parse_fault(value)
            except ValueError as exc:
                raise _bad(name, str(exc)) from None
            if fault.name in _WAITING_FAULTS and fault.seconds > max_seconds:
                raise _bad(name, f"{fault.name} waits {fault.seconds:g} s; a request may ask "
                           f"for at most {max_seconds:g} s (max_request_seconds)")
            values[name] = fault
        elif name == "should_retry":
            if value not in ("true", "false"):
                raise _bad(name, f"expected true or false, got {value[:50]!r}")
            values[name] = value == "true"
    return Controls(**values)


#: The controls of a request that sets none (most): one shared object, so a caller can tell by
#: identity (scenario.Scenario.decide).
NO_CONTROLS = Controls()
