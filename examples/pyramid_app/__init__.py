"""A small Pyramid app with the mock in front of it, two ways.

Run it from the repository root (the package must be importable, as ``pserve`` does not add the
ini file's directory to ``sys.path``; and sse-mock must be installed, which is how ``use =
egg:sse-mock`` finds the filter)::

    pip install pyramid waitress
    pip install -e .
    PYTHONPATH=examples pserve examples/pyramid_app/include.ini      # pyramid.includes
    PYTHONPATH=examples pserve examples/pyramid_app/development.ini  # a Paste filter
    curl -N http://127.0.0.1:6543/mock/stream       # the mock
    curl http://127.0.0.1:6543/hello                # the app's own route

The mock is configured in those ini files only; a ``production.ini`` that neither includes
``sse_mock.pyramid`` nor puts the filter in its pipeline serves the app alone.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request


def hello(request: Request) -> dict[str, str]:
    return {"hello": "from Pyramid"}


def main(global_config: dict[str, str], **settings: str) -> Any:
    """The ``paste.app_factory``: ``use = call:pyramid_app:main`` in the ini file."""
    with Configurator(settings=settings) as config:
        config.add_route("hello", "/hello")
        config.add_view(hello, route_name="hello", renderer="json")
        return config.make_wsgi_app()
