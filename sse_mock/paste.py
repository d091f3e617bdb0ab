"""PasteDeploy glue: the mock as a filter in an ini pipeline (Pyramid's ``pserve``, any
PasteDeploy loader).

.. code-block:: ini

    [pipeline:main]
    pipeline = sse_mock app

    [filter:sse_mock]
    use = egg:sse-mock
    delay = 0.1
    first_token_delay = 0.3
    reply = Hello from the mock!
    cors.origins = http://localhost:5173 http://127.0.0.1:5173
    cors.credentials = true
    chaos.rate_limit = 0.1
    config = mock.toml        # optional base file, relative to this ini file's directory

``use = egg:sse-mock`` finds :func:`filter_app_factory` through the package's
``paste.filter_app_factory`` entry point, so the package must be installed (``pip install
sse-mock``, or ``pip install -e .`` in a checkout). This module never imports PasteDeploy.

An ini file holds strings; each value is converted by the type of its key in
:data:`sse_mock.config.SCHEMA`:

* true or false: ``true``/``false``, ``yes``/``no``, ``on``/``off``, ``1``/``0`` (any case);
* whole numbers and numbers: as Python reads them (``3``, ``0.25``);
* lists of strings (``models``, ``fixtures``, ``cors.origins``): separated by spaces or newlines;
* tables (``cors``, ``ratelimit``, ``chaos``): one dotted key per line, ``cors.credentials = true``;
* ``config``: a TOML/JSON/YAML file used as the base; the keys of this section override it.
  ``rules`` cannot be written in ini syntax: put them in that file, or in ``fixtures`` files.

Relative file names (``config``, ``fixtures``) are taken from the ini file's directory. Every
error is a :class:`~sse_mock.config.ConfigError` naming the ini key, e.g.
``ini key 'delay': expected a number, got 'fast'``. ``enabled = false`` leaves the pipeline's
next application in place, unwrapped.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import SCHEMA, ConfigError
from .middleware import wrap

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["app_factory", "filter_app_factory", "ini_options", "name_ini_key"]

_KEYS = {key.name: key for key in SCHEMA}
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
BOOL_WORDS = "true/false/yes/no/on/off/1/0"

# "options: key 'cors.origins': …" or "options: rules[0].match: …"
_PLACE = re.compile(
    r"^options: (?:key '(?P<key>\w+(?:\.\w+)*)'|(?P<bare>\w+)(?=[\[.:]))(?P<sub>(?:\.\w+)*)")


def filter_app_factory(
    app: WSGIApplication, global_conf: Mapping[str, Any], **local_conf: str
) -> WSGIApplication:
    """PasteDeploy ``paste.filter_app_factory``: wrap `app` as the section's keys say.

    :param app: The WSGI application to wrap (the next one in the pipeline).
    :param global_conf: The ini file's defaults; its ``here`` (the file's directory) anchors
        relative file names.
    :param local_conf: The section's keys, as strings.
    """
    here = global_conf.get("here")
    base, options = ini_options(local_conf, here=here if isinstance(here, str) else None)
    try:
        return wrap(app, base, **options)
    except ConfigError as exc:
        raise ConfigError(name_ini_key(str(exc), base, options.get("fixtures", ()))) from None


def app_factory(global_conf: Mapping[str, Any], **local_conf: str) -> WSGIApplication:
    """PasteDeploy ``paste.app_factory``: the standalone app (:func:`sse_mock.create_app`).

    .. code-block:: ini

        [app:main]
        use = egg:sse-mock
        delay = 0.05
    """
    from .app import create_app

    here = global_conf.get("here")
    base, options = ini_options(local_conf, here=here if isinstance(here, str) else None)
    try:
        return create_app(base, **options)
    except ConfigError as exc:
        raise ConfigError(name_ini_key(str(exc), base, options.get("fixtures", ()))) from None


def ini_options(
    local_conf: Mapping[str, str], here: str | os.PathLike[str] | None = None,
    *, prefix: str = "", label: str = "ini key",
) -> tuple[str | None, dict[str, Any]]:
    """Convert an ini section's strings to ``(config file or None, keyword options)``.

    :param prefix: What the names carry before the configuration key in the ini file (Pyramid's
        settings: ``"sse_mock."``); errors name the key with it, after `label`.

    >>> ini_options({"delay": "0.1", "cors.origins": "http://a http://b", "echo": "yes"})
    (None, {'delay': 0.1, 'cors': {'origins': ['http://a', 'http://b']}, 'echo': True})
    """
    try:
        return _ini_options(local_conf, here)
    except ConfigError as exc:
        message = str(exc)
        if prefix or label != "ini key":
            message = message.replace("ini key '", f"{label} '{prefix}").replace(
                "(did you mean '", f"(did you mean '{prefix}").replace(
                "ini key 'config'", f"{label} '{prefix}config'")
        raise ConfigError(message) from None


def _ini_options(
    local_conf: Mapping[str, str], here: str | os.PathLike[str] | None
) -> tuple[str | None, dict[str, Any]]:
    base: str | None = None
    options: dict[str, Any] = {}
    for ini_key, raw in local_conf.items():
        if ini_key == "config":
            base = _path(raw, here)
            continue
        name, dotted, sub = ini_key.partition(".")
        key = _KEYS.get(name)
        if key is None:
            raise ConfigError(_unknown(ini_key, name, [*_KEYS, "config"]))
        if key.type in ("table", "map-number"):
            if not dotted:
                example = key.keys[0].name if key.keys else "rate_limit"
                raise ConfigError(
                    f"ini key {ini_key!r}: {name} is a table; give one key per line, "
                    f"e.g. {name}.{example} = …")
            if key.type == "map-number":  # chaos.<fault> = probability; faults checked later
                value: Any = _convert("number", raw, ini_key)
            else:
                subkeys = {k.name: k for k in key.keys}
                if sub not in subkeys:
                    raise ConfigError(_unknown(ini_key, sub, subkeys, prefix=f"{name}."))
                value = _convert(subkeys[sub].type, raw, ini_key)
            options.setdefault(name, {})[sub] = value
            continue
        if dotted:
            raise ConfigError(f"ini key {ini_key!r}: {name} is not a table")
        if key.type == "list":
            raise ConfigError(
                f"ini key {ini_key!r}: {name} cannot be written in an ini file; put them in a "
                "TOML/JSON file and name it with `config = …` or `fixtures = …`")
        value = _convert(key.type, raw, ini_key)
        if name == "fixtures":
            value = [_path(item, here) for item in value]
        options[name] = value
    return base, options


def _convert(kind: str, raw: str, ini_key: str) -> Any:
    text = raw.strip()
    if kind == "bool":
        word = text.lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise ConfigError(f"ini key {ini_key!r}: expected {BOOL_WORDS}, got {raw!r}")
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise ConfigError(
                f"ini key {ini_key!r}: expected a whole number, got {raw!r}") from None
    if kind == "number":
        try:
            return int(text)  # "-1" stays -1 in range errors, as the file says it
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ConfigError(f"ini key {ini_key!r}: expected a number, got {raw!r}")
        return number
    if kind == "str-list":
        return text.split()
    if kind == "origins":
        return "*" if text == "*" else text.split()
    return text  # str


def _path(raw: str, here: str | os.PathLike[str] | None) -> str:
    path = Path(raw.strip())
    if here is not None and not path.is_absolute():
        path = Path(here) / path
    return str(path)


def _unknown(ini_key: str, name: str, allowed: Any, prefix: str = "") -> str:
    names = sorted(allowed)
    near = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f" (did you mean {prefix + near[0]!r}?)" if near else ""
    listed = ", ".join(prefix + n for n in names)
    return f"ini key {ini_key!r} is unknown{hint}; allowed: {listed}"


def name_ini_key(message: str, base: str | None, fixtures: Any = (), *, prefix: str = "",
                 label: str = "ini key", where: str = "sse_mock filter") -> str:
    """Name the ini key in a message of :func:`sse_mock.config.load_config`.

    >>> name_ini_key("options: key 'cors.origins': 'x' is not an origin", None)
    "ini key 'cors.origins': 'x' is not an origin"
    """
    m = _PLACE.match(message)
    if m is not None:
        return f"{label} {prefix + (m['key'] or m['bare']) + m['sub']!r}{message[m.end():]}"
    # Errors inside a file name the file and the key; say which ini key named the file.
    if base is not None and message.startswith(base):
        return f"{label} '{prefix}config': {message}"
    if any(message.startswith(name) for name in fixtures):
        return f"{label} '{prefix}fixtures': {message}"
    return f"{where}: {message}"
