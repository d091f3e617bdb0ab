"""Pyramid glue: ``config.include("sse_mock.pyramid")``, configured by ``sse_mock.*`` settings.

This module is imported only by Pyramid apps (``import sse_mock`` never imports Pyramid). It has
no behaviour of its own: it converts the settings (strings, as an ini file gives them) to the
keyword options of :class:`sse_mock.SSEMockMiddleware`, and adds a tween, Pyramid's middleware,
at the top of the chain that hands the mock's requests to it.

.. code-block:: ini

    # development.ini
    [app:main]
    use = call:myapp:main
    pyramid.includes =
        sse_mock.pyramid
    sse_mock.delay = 0.1
    sse_mock.reply = Hello from the mock!
    sse_mock.cors.origins = http://localhost:5173
    sse_mock.config = mock.toml     # optional base file, relative to this ini file

or, in code, ``config.include("sse_mock.pyramid")`` after the settings are known. A
``production.ini`` that does not include it (or says ``sse_mock.enabled = false``) has no mock.

Values are converted as the Paste filter converts them (:func:`sse_mock.paste.ini_options`:
``true``/``false``/``yes``/``no``/``on``/``off``/``1``/``0``, numbers, space-separated lists, one
dotted name per table key); every error is a :class:`~sse_mock.config.ConfigError` raised at
start-up that names the setting, e.g. ``setting 'sse_mock.delay': expected a number, got
'fast'``. The mock is on unless ``sse_mock.enabled`` is false: including it is the choice.

Deliberate divergences (choices a future reader might wrongly "fix"):

Divergence #1: a tween (``under=INGRESS``: first after the router), not a WSGI wrap:
    ``config.include`` cannot wrap the router it is configuring. The tween asks the mock
    (``SSEMockMiddleware.answer``) with the request's own environ and turns its answer into a WebOb
    response around the same iterable, so a stream stays a stream (Pyramid's router returns
    ``response(environ, start_response)`` to the server) and its ``close()`` reaches the mock. A
    request the mock does not answer goes on to the next tween.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .config import ConfigError, load_config
from .middleware import SSEMockMiddleware, glue_app
from .paste import ini_options, name_ini_key

__all__ = ["PREFIX", "includeme", "options_from_settings", "tween_factory"]

PREFIX = "sse_mock."
_REGISTRY_KEY = "sse_mock.middleware"


def options_from_settings(settings: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """``(config file or None, keyword options)`` from the ``sse_mock.*`` settings.

    >>> options_from_settings({"sse_mock.delay": "0", "sse_mock.cors.origins": "http://a",
    ...                        "pyramid.reload_templates": "true"})
    (None, {'delay': 0, 'cors': {'origins': ['http://a']}})
    """
    mine = {key[len(PREFIX):]: str(value) for key, value in settings.items()
            if key.startswith(PREFIX)}
    here = settings.get("here")
    return ini_options(mine, here=here if isinstance(here, str) else None, prefix=PREFIX,
                       label="setting")


def includeme(config: Any) -> None:
    """``config.include("sse_mock.pyramid")``: validate the settings, add the tween."""
    settings = config.get_settings()
    base, options = options_from_settings(settings)
    try:
        cfg = load_config(base, **options)
    except ConfigError as exc:
        raise ConfigError(name_ini_key(str(exc), base, options.get("fixtures", ()),
                                       prefix=PREFIX, label="setting",
                                       where="sse_mock settings")) from None
    if not cfg.enabled:
        return
    config.registry[_REGISTRY_KEY] = SSEMockMiddleware(glue_app, cfg)
    from pyramid.tweens import INGRESS  # type: ignore[import-untyped, unused-ignore]

    config.add_tween("sse_mock.pyramid.tween_factory", under=INGRESS)


def tween_factory(handler: Callable[[Any], Any], registry: Any) -> Callable[[Any], Any]:
    """The tween: the mock's requests to the mock, every other one to `handler`."""
    from webob import Response  # type: ignore[import-untyped, unused-ignore]

    mock: SSEMockMiddleware = registry[_REGISTRY_KEY]

    def sse_mock_tween(request: Any) -> Any:
        environ = request.environ
        if environ.get("webob.is_body_seekable"):
            request.body_file_raw.seek(0)  # read (and kept) by someone before us
        answer = mock.answer(environ)
        if answer is None:  # not the mock's: the application's own handler
            return handler(request)
        status, headers, body = answer
        return Response(status=status, headerlist=list(headers), app_iter=body)

    return sse_mock_tween

