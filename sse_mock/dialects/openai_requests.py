"""OpenAI request validation in the real API's words (PROTOCOLS.md §2.6).

The checks the three OpenAI dialects share — a parameter missing, of the wrong type, out of
range, an array empty or too long, a function name that does not match the API's pattern — each
raising a :class:`~sse_mock.dialects.base.MockError` with the message, ``param`` and ``code`` the
real API answers with, so a client's error handling can be tested against the mock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .base import MockError, dumps

__all__ = [
    "bad_request",
    "check_function_name",
    "empty_array",
    "invalid_type",
    "invalid_value",
    "json_type",
    "missing",
    "optional_bool",
    "optional_int",
    "optional_number",
    "parse_stop",
    "parse_stream_options",
    "require_model",
    "typed_items",
]



def json_type(value: Any) -> str:
    """How the real API names a JSON value's type in its messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def bad_request(message: str, param: str | None, code: str | None = None) -> MockError:
    return MockError(400, message, param=param, code=code)


def missing(param: str) -> MockError:
    return bad_request(f"Missing required parameter: '{param}'.", param,
                       "missing_required_parameter")


def invalid_type(param: str, expected: str, value: Any) -> MockError:
    return bad_request(f"Invalid type for '{param}': expected {expected}, but got "
                       f"{json_type(value)} instead.", param, "invalid_type")


def invalid_value(param: str, value: Any, allowed: Sequence[str]) -> MockError:
    quoted = [f"'{a}'" for a in allowed]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + ", and " + quoted[-1]
    shown = value if isinstance(value, str) else dumps(value)
    return bad_request(f"Invalid value: '{shown[:100]}'. Supported values are: {listed}.",
                       param, "invalid_value")


def typed_items(
    where: str, items: list[Any], types: Sequence[str] | None
) -> Iterator[tuple[str, dict[str, Any], str]]:
    """Each ``{"type": …}`` object of an array, checked in the API's order: an object, with a
    ``type``, one of `types` (or any string when `types` is None). Yields ``(param, object,
    type)`` with `param` like ``"tools[2]"``."""
    for i, item in enumerate(items):
        param = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise invalid_type(param, "an object", item)
        itype = item.get("type")
        if itype is None:
            raise missing(f"{param}.type")
        if types is None:
            if not isinstance(itype, str):
                raise invalid_type(f"{param}.type", "a string", itype)
        elif itype not in types:
            raise invalid_value(f"{param}.type", itype, types)
        yield param, item, itype


def empty_array(param: str) -> MockError:
    return bad_request(f"Invalid '{param}': empty array. Expected an array with minimum length "
                       "1, but got an empty array instead.", param, "empty_array")


def require_model(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if model is None or model == "":
        raise bad_request("you must provide a model parameter", "model")
    if not isinstance(model, str):
        raise invalid_type("model", "a string", model)
    return model


def optional_bool(body: Mapping[str, Any], name: str) -> bool | None:
    """A boolean parameter; absent and ``null`` both mean "not given"."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid_type(name, "a boolean", value)
    return value


def optional_int(body: Mapping[str, Any], name: str, lo: int, hi: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_type(name, "an integer", value)
    if value < lo:
        raise bad_request(f"Invalid '{name}': integer below minimum value. Expected a value >= "
                          f"{lo}, but got {value} instead.", name, "integer_below_min_value")
    if hi is not None and value > hi:
        raise bad_request(f"Invalid '{name}': integer above maximum value. Expected a value <= "
                          f"{hi}, but got {value} instead.", name, "integer_above_max_value")
    return value


def optional_number(body: Mapping[str, Any], name: str, lo: float, hi: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_type(name, "a number", value)
    if not lo <= value <= hi:
        side = "below minimum" if value < lo else "above maximum"
        bound = f">= {lo:g}" if value < lo else f"<= {hi:g}"
        code = "decimal_below_min_value" if value < lo else "decimal_above_max_value"
        raise bad_request(f"Invalid '{name}': decimal {side} value. Expected a value {bound}, "
                          f"but got {value} instead.", name, code)
    return float(value)


def parse_stop(body: Mapping[str, Any]) -> tuple[str, ...]:
    """``stop``: a string or up to 4 strings (§2.1)."""
    stop = body.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (stop,)
    if not isinstance(stop, list):
        raise invalid_type("stop", "one of a string or array of strings", stop)
    if len(stop) > 4:
        raise bad_request("Invalid 'stop': array too long. Expected an array with maximum length "
                          f"4, but got an array with length {len(stop)} instead.", "stop",
                          "array_above_max_length")
    for i, s in enumerate(stop):
        if not isinstance(s, str):
            raise invalid_type(f"stop[{i}]", "a string", s)
    return tuple(stop)


def parse_stream_options(body: Mapping[str, Any], stream: bool) -> bool:
    """``stream_options`` (only with ``stream: true``); returns ``include_usage`` (§2.4 R4)."""
    options = body.get("stream_options")
    if options is None:
        return False
    if not stream:
        # The real API's words.
        raise bad_request("The 'stream_options' parameter is only allowed when 'stream' is "
                          "enabled.", "stream_options")
    if not isinstance(options, dict):
        raise invalid_type("stream_options", "an object", options)
    for key in ("include_usage", "include_obfuscation"):
        value = options.get(key)
        if value is not None and not isinstance(value, bool):
            raise invalid_type(f"stream_options.{key}", "a boolean", value)
    return options.get("include_usage") is True


_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


def check_function_name(param: str, name: Any) -> str:
    if not isinstance(name, str):
        raise invalid_type(param, "a string", name)
    if not _NAME.fullmatch(name):
        raise bad_request(f"Invalid '{param}': string does not match pattern. Expected a string "
                          "that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'.", param,
                          "invalid_value")
    return name
