"""Framework settings → keyword options: the part the Django and Flask glue share.

Both frameworks keep settings as upper-case names: ``SSE_MOCK_<KEY>`` for every top-level key of
:data:`sse_mock.config.SCHEMA`, plus one *base* setting (Django's ``SSE_MOCK_CONFIG``, Flask's
``SSE_MOCK``) holding a mapping or a file path. This module reads them, decides whether
``enabled`` was said explicitly (issue 9: explicit beats the framework's debug default), and
rewrites a :class:`~sse_mock.config.ConfigError` message so that it names the setting the user
wrote instead of the configuration key. It imports no framework.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .config import SCHEMA, ConfigError, load_file

__all__ = ["PREFIX", "SETTINGS", "read_settings", "translate"]

PREFIX = "SSE_MOCK_"

#: setting name → configuration key, one per top-level key of the schema.
SETTINGS: dict[str, str] = {PREFIX + key.name.upper(): key.name for key in SCHEMA}

# "options: key 'cors.origins': …", "options: rules[0].match: …", "config: key 'x' is unknown …"
_PLACE = re.compile(r"^(?P<source>options|config): (?:key '(?P<key>\w+)(?P<nested>(?:\.\w+)*)'"
                    r"|(?P<bare>\w+)(?=[\[.:]))")
_DOTTED = re.compile(r"^\.(\w+)")


def read_settings(
    names: Iterable[str], get: Any, base_setting: str
) -> tuple[Any, dict[str, Any], bool]:
    """``(base, options, enabled_is_explicit)`` from the settings called `names`.

    :param names: Every setting name there is (only those starting with ``SSE_MOCK`` are read).
    :param get: ``get(name)`` → the setting's value.
    :param base_setting: The name of the base setting (a mapping or a file path).
    :raises ConfigError: an unknown ``SSE_MOCK*`` name (with a hint), or an unreadable base
        file, the message naming the setting.
    """
    options: dict[str, Any] = {}
    base: Any = None
    for name in names:
        if not name.startswith("SSE_MOCK"):
            continue
        if name == base_setting:
            base = get(name)
        elif name in SETTINGS:
            options[SETTINGS[name]] = get(name)
        else:
            raise ConfigError(unknown_setting(name, base_setting))
    explicit = "enabled" in options
    if not explicit and isinstance(base, Mapping):
        explicit = "enabled" in base
    elif not explicit and isinstance(base, str | os.PathLike):
        try:
            explicit = "enabled" in load_file(base)
        except ConfigError as exc:
            raise ConfigError(translate(str(exc), base, base_setting)) from None
    return base, options, explicit


def unknown_setting(name: str, base_setting: str) -> str:
    known = sorted([*SETTINGS, base_setting])
    near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" (did you mean {near[0]}?)" if near else ""
    return f"{name} is not an sse_mock setting{hint}; sse_mock settings: {', '.join(known)}"


def translate(message: str, base: Any, base_setting: str) -> str:
    """Name the setting instead of the configuration key in a ConfigError message.

    >>> translate("options: key 'delay': expected a number ≥ 0, got -1", None, "SSE_MOCK")
    'SSE_MOCK_DELAY: expected a number ≥ 0, got -1'
    >>> translate("config: key 'cors.origins': 'x' is not an origin", {}, "SSE_MOCK")
    "SSE_MOCK['cors']['origins']: 'x' is not an origin"
    """
    m = _PLACE.match(message)
    if m is not None:
        key = m["key"] or m["bare"]
        rest = (m["nested"] or "") + message[m.end():]
        subscripts = ""  # a nested key reads as Python: SSE_MOCK_CORS['origins']
        while (sub := _DOTTED.match(rest)) is not None:
            subscripts += f"[{sub[1]!r}]"
            rest = rest[sub.end():]
        if m["source"] == "options":
            return f"{PREFIX}{key.upper()}{subscripts}{rest}"
        return f"{base_setting}[{key!r}]{subscripts}{rest}"
    if message.startswith("config: "):  # the base is neither a path nor a mapping
        return f"{base_setting}: {message[len('config: '):]}"
    if isinstance(base, str | os.PathLike):
        return f"{base_setting}: {message}"  # the message names the file and the key
    return f"sse_mock settings: {message}"  # e.g. a fixture file, which the message names
