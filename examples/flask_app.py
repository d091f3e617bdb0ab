"""A Flask app (an application factory) with the mock as a Flask extension.

Run it::

    flask --app examples/flask_app.py run --debug
    curl -N http://127.0.0.1:5000/mock/stream          # the mock, one word every 0.1 s
    curl http://127.0.0.1:5000/                         # the app's own route

``SSEMock`` reads ``SSE_MOCK_*`` keys from ``app.config`` and is on while ``app.debug`` or
``app.testing`` is true: ``flask run --debug`` and the test client (with ``TESTING``) see the mock,
plain ``flask run``, gunicorn and waitress do not. ``from_prefixed_env()`` lets the environment
decide too: ``FLASK_SSE_MOCK_ENABLED=true flask --app examples/flask_app.py run``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from sse_mock.flask import SSEMock

sse_mock = SSEMock()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(SSE_MOCK_DELAY=0.1)
    app.config.from_prefixed_env()  # FLASK_SSE_MOCK_ENABLED=true, FLASK_SSE_MOCK_DELAY=0 …
    if test_config is not None:
        app.config.from_mapping(test_config)

    @app.get("/")
    def index() -> dict[str, str]:
        return {"hello": "from Flask", "mock": "/mock/stream"}

    sse_mock.init_app(app)
    return app
