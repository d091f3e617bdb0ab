"""Django glue: mount the mock from ``SSE_MOCK_*`` settings.

This module is imported only by Django projects (``import sse_mock`` never imports Django). It has
no behaviour of its own: it reads the settings and passes them, as keyword options, to
:func:`sse_mock.wrap`, so everything the middleware does is documented in one place.

.. code-block:: python

    # mysite/wsgi.py
    from django.core.wsgi import get_wsgi_application

    from sse_mock.django import wrap

    application = wrap(get_wsgi_application())

.. code-block:: python

    # mysite/settings.py
    DEBUG = True                  # the mock is mounted only when DEBUG is true ...
    SSE_MOCK_ENABLED = True       # ... unless this says otherwise
    SSE_MOCK_DELAY = 0.1          # one setting per top-level configuration key
    SSE_MOCK_CORS = {"origins": ["http://localhost:5173"]}
    SSE_MOCK_CONFIG = BASE_DIR / "mock.toml"   # optional base: a path or a mapping

``manage.py runserver`` serves the object named by ``WSGI_APPLICATION`` (by default
``"mysite.wsgi.application"``), so the wrapped application is what runserver streams from.

Settings:

* ``SSE_MOCK_<KEY>`` for every top-level key of the configuration (``SSE_MOCK_DELAY``,
  ``SSE_MOCK_PREFIX``, ``SSE_MOCK_REPLY``, ``SSE_MOCK_CORS`` (a dict), ``SSE_MOCK_RULES``, …);
  they override the same keys of ``SSE_MOCK_CONFIG``.
* ``SSE_MOCK_CONFIG``: a path to a TOML/JSON/YAML file, or a mapping, used as the base.
* ``SSE_MOCK_ENABLED`` defaults to ``DEBUG``. When the mock is disabled, :func:`wrap` returns the
  application object itself.

The settings are validated even when the mock is disabled, so a typo fails at start-up in every
environment. A bad value raises :class:`django.core.exceptions.ImproperlyConfigured` naming the
setting, e.g. ``SSE_MOCK_DELAY: expected a number from 0 to 3600, got -1``; an unknown
``SSE_MOCK_*`` name raises it with a "did you mean" hint.
"""

from __future__ import annotations

import difflib
import os
import re
from typing import TYPE_CHECKING, Any

from . import middleware
from .config import SCHEMA, ConfigError

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["SETTINGS", "wrap"]

PREFIX = "SSE_MOCK_"
CONFIG_SETTING = PREFIX + "CONFIG"

#: Django setting name → configuration key, one per top-level key of the schema.
SETTINGS: dict[str, str] = {PREFIX + key.name.upper(): key.name for key in SCHEMA}

# "options: key 'cors.origins': …", "options: rules[0].match: …", "config: key 'x' is unknown …"
_PLACE = re.compile(r"^(?P<source>options|config): (?:key '(?P<key>\w+)(?P<nested>(?:\.\w+)*)'"
                    r"|(?P<bare>\w+)(?=[\[.:]))")
_DOTTED = re.compile(r"^\.(\w+)")


def wrap(application: WSGIApplication, settings: Any = None) -> WSGIApplication:
    """Wrap `application` in the mock as the ``SSE_MOCK_*`` settings say.

    :param application: The WSGI application to wrap (``get_wsgi_application()``).
    :param settings: An object with the settings as attributes; default
        ``django.conf.settings`` (tests inject a ``types.SimpleNamespace``).
    :returns: The middleware, or `application` itself when the mock is disabled.
    """
    if settings is None:
        from django.conf import settings as django_settings  # type: ignore[import-untyped, unused-ignore]

        settings = django_settings
    names = [name for name in dir(settings) if name.startswith("SSE_MOCK")]
    for name in names:
        if name != CONFIG_SETTING and name not in SETTINGS:
            raise _improperly_configured(_unknown(name))
    options: dict[str, Any] = {"enabled": bool(getattr(settings, "DEBUG", False))}
    for name in names:
        if name in SETTINGS:
            options[SETTINGS[name]] = getattr(settings, name)
    base = getattr(settings, CONFIG_SETTING, None)
    try:
        return middleware.wrap(application, base, **options)
    except ConfigError as exc:
        raise _improperly_configured(_translate(str(exc), base)) from None


def _unknown(name: str) -> str:
    known = sorted([*SETTINGS, CONFIG_SETTING])
    near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" (did you mean {near[0]}?)" if near else ""
    return f"{name} is not an sse_mock setting{hint}; sse_mock settings: {', '.join(known)}"


def _translate(message: str, base: Any) -> str:
    """Name the Django setting instead of the configuration key in a ConfigError message.

    >>> _translate("options: key 'delay': expected a number ≥ 0, got -1", None)
    'SSE_MOCK_DELAY: expected a number ≥ 0, got -1'
    >>> _translate("options: key 'cors.origins': 'x' is not an origin", None)
    "SSE_MOCK_CORS['origins']: 'x' is not an origin"
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
        return f"{CONFIG_SETTING}[{key!r}]{subscripts}{rest}"
    if message.startswith("config: "):  # the base is neither a path nor a mapping
        return f"{CONFIG_SETTING}: {message[len('config: '):]}"
    if isinstance(base, str | os.PathLike):
        return f"{CONFIG_SETTING}: {message}"  # the message names the file and the key
    return f"sse_mock settings: {message}"  # e.g. a fixture file, which the message names


def _improperly_configured(message: str) -> Exception:
    from django.core.exceptions import (  # type: ignore[import-untyped, unused-ignore]
        ImproperlyConfigured,
    )

    error: Exception = ImproperlyConfigured(message)
    return error
