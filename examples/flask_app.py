"""A Flask app with the mock mounted in development.

Run it::

    flask --app examples/flask_app.py run --debug
    curl -N http://127.0.0.1:5000/mock/stream          # the mock, one word every 0.1 s
    curl http://127.0.0.1:5000/                         # the app's own route

The mock wraps ``app.wsgi_app`` (not ``app``), so Flask's own ``app(...)`` entry point, its CLI
and its test client keep working, and every request outside ``/mock`` reaches Flask untouched.

It is mounted only when ``app.debug`` is true or the environment says ``SSE_MOCK=1``.
``app.debug`` is decided when the app is created, from ``FLASK_DEBUG``: ``flask run --debug``
sets it, plain ``flask run`` does not — so ``flask --app examples/flask_app.py run`` without
``--debug`` serves no mock unless you run it as ``SSE_MOCK=1 flask --app examples/flask_app.py
run``. Production servers (gunicorn, waitress) never set it either, which is the point.
"""

from __future__ import annotations

import os

from flask import Flask

from sse_mock import SSEMockMiddleware

app = Flask(__name__)


@app.get("/")
def index() -> dict[str, str]:
    return {"hello": "from Flask", "mock": "/mock/stream"}


if app.debug or os.environ.get("SSE_MOCK") == "1":
    app.wsgi_app = SSEMockMiddleware(app.wsgi_app, delay=0.1)  # type: ignore[method-assign]
