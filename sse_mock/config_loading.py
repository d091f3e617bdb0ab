"""Configuration machinery: how a key is described and checked, and how files are read.

The bottom floor of configuration: :class:`ConfigError`, the :class:`Key` type a schema is
made of, :func:`load_file` (TOML, JSON, YAML), :func:`check_value` (a value against its key's
type, bounds, choices and check), :func:`check_utf8` and :data:`BASE_DIR`. It knows no key by
name: the schema and :func:`~sse_mock.config.load_config` are in :mod:`sse_mock.config`, the
rule checks in :mod:`sse_mock.rule_parser`, both above it. Import these names from
:mod:`sse_mock.config`, which re-exports them.
"""

from __future__ import annotations

import contextvars
import json
import math
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["BASE_DIR", "ConfigError", "Key", "check_table", "check_utf8", "check_value",
           "load_file", "nearest_name"]

#: Directory that relative file names in the configuration (fixtures, reply_file, cassettes)
#: resolve against: the configuration file's, while it is checked.
BASE_DIR: contextvars.ContextVar[Path | None] = contextvars.ContextVar("BASE_DIR", default=None)


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range.

    The message names the place (a file, or "options"), the key (dotted for nested tables, with
    the rule number for rules) and what is allowed.
    """


@dataclass(frozen=True)
class Key:
    """One configuration key: its type, default, bounds and a one-line description."""

    name: str
    type: str  # bool | int | number | str | str-list | origins | table | list | map-number
    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    keys: tuple[Key, ...] = ()  # the sub-keys of a table
    check: Callable[[Any, str], Any] | None = None  # extra validation; returns the value

    def describe_type(self) -> str:
        """Human words for what this key accepts (used in errors and in the docs)."""
        words = {
            "bool": "true or false",
            "int": "a whole number",
            "number": "a number",
            "str": "a string",
            "str-list": "a list of strings",
            "origins": '"*" or a list of origins like "http://localhost:5173"',
            "table": "a table",
            "list": "a list of tables",
            "map-number": "a table of numbers",
        }[self.type]
        if self.choices:
            words = "one of " + ", ".join(repr(c) for c in self.choices)
        if self.minimum is not None and self.maximum is not None:
            words += f" from {_num(self.minimum)} to {_num(self.maximum)}"
        elif self.minimum is not None:
            words += f" ≥ {_num(self.minimum)}"
        return words


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def load_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a TOML, JSON or YAML file into a mapping; errors name the file."""
    p = Path(path)
    where = str(p)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the configuration file: {exc.strerror}") from None
    suffix = p.suffix.lower()
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(raw.decode("utf-8"))
        elif suffix == ".json":
            data = json.loads(raw.decode("utf-8"))
        elif suffix in (".yaml", ".yml"):
            try:
                import yaml  # type: ignore[import-untyped]
            except ImportError:
                raise ConfigError(
                    f"{where}: YAML configuration needs PyYAML (pip install pyyaml); "
                    "or use TOML or JSON"
                ) from None
            data = yaml.safe_load(raw.decode("utf-8"))
        else:
            raise ConfigError(f"{where}: unknown file type {suffix!r}; use .toml, .json or .yaml")
    except ConfigError:
        raise
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: the file is not UTF-8") from None
    except Exception as exc:  # tomllib / json / yaml syntax errors
        raise ConfigError(f"{where}: cannot parse: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{where}: the top level must be a table/object, got {type(data).__name__}"
        )
    return data


def check_value(key: Key, value: Any, where: str) -> Any:
    t = key.type
    if t == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
    elif t in ("int", "number"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        if t == "number" and isinstance(value, float):
            ok = math.isfinite(value)
        if not ok:
            raise ConfigError(f"{where}: expected {key.describe_type()}, got {value!r}")
        if (key.minimum is not None and value < key.minimum) or (
            key.maximum is not None and value > key.maximum
        ):
            raise ConfigError(f"{where}: expected {key.describe_type()}, got {value!r}")
        if t == "number":
            value = float(value)
    elif t == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        if key.choices and value not in key.choices:
            raise ConfigError(f"{where}: expected {key.describe_type()}, got {value!r}")
    elif t == "str-list":
        if isinstance(value, str) or not isinstance(value, list | tuple) or not all(
            isinstance(v, str) for v in value
        ):
            raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
        value = tuple(value)
    elif t == "map-number":
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a table of numbers, got {value!r}")
    elif t == "list":
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list of tables, got {value!r}")
        value = tuple(value)
    elif t == "table":
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        value = check_table(key.keys, value, where)
    if key.check is not None:
        value = key.check(value, where)
    return value


def check_table(keys: Sequence[Key], values: Mapping[str, Any], where: str) -> dict[str, Any]:
    by_name = {k.name: k for k in keys}
    out: dict[str, Any] = {}
    for name, value in values.items():
        key = by_name.get(name)
        if key is None:
            raise ConfigError(
                f"{where}: unknown key {name!r}; allowed: {', '.join(sorted(by_name))}"
            )
        # "options: key 'cors'" → "options: key 'cors.origins'"
        sub = f"{where[:-1]}.{name}'" if where.endswith("'") else f"{where}.{name}"
        out[name] = check_value(key, value, sub)
    return out


def check_utf8(value: Any, where: str) -> None:
    """Every string of a configuration value must be encodable as UTF-8: a lone surrogate
    (``"\\ud800"`` in JSON, or in a Python mapping) would fail mid-stream otherwise (issue 9)."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, place = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ConfigError(
                    f"{place}: the text is not encodable as UTF-8 (a lone surrogate "
                    f"U+{ord(item[exc.start]):04X} at character {exc.start})") from None
        elif isinstance(item, Mapping):
            for k, v in item.items():
                stack.append((k, place))
                stack.append((v, f"{place[:-1]}.{k}'" if place.endswith("'") else
                              f"{place}.{k}"))
        elif isinstance(item, list | tuple):
            for i, v in enumerate(item):
                stack.append((v, f"{place[:-1]}[{i}]'" if place.endswith("'") else
                              f"{place}[{i}]"))


def nearest_name(name: str, names: Mapping[str, Any]) -> str | None:
    import difflib

    found = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
    return found[0] if found else None
