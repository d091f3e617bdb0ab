"""Settings of the example project: the least Django needs, plus the mock's settings.

The mock is the first entry of ``MIDDLEWARE``: it answers under ``/mock/`` wherever Django's
request handler runs (``runserver``, the test client, live-server tests, uvicorn/daphne through
asgi.py). It reads every ``SSE_MOCK_*`` name below and is on only while ``DEBUG`` is true —
``SSE_MOCK_ENABLED`` (or ``enabled`` in ``SSE_MOCK_CONFIG``) would override that; mysite/tests.py
turns it on for ``manage.py test``, which runs with ``DEBUG = False``.
"""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "example-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS: list[str] = ["django.contrib.staticfiles"]
MIDDLEWARE: list[str] = [
    "sse_mock.django.Middleware",  # first: no other middleware touches the mock's streams
    "django.middleware.common.CommonMiddleware",
]
DATABASES: dict[str, dict[str, str]] = {}

ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"
ASGI_APPLICATION = "mysite.asgi.application"
STATIC_URL = "static/"

USE_TZ = True

# The mock (one setting per configuration key; see sse_mock.django).
SSE_MOCK_DELAY = 0.1
SSE_MOCK_REPLY = "Hello from the Django example! This reply is mocked."
SSE_MOCK_CORS = {"origins": ["http://localhost:5173"]}
