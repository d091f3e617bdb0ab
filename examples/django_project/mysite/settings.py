"""Settings of the example project: the least Django needs, plus the mock's settings.

``sse_mock.django.wrap`` (see wsgi.py) reads every ``SSE_MOCK_*`` name below; the mock is mounted
only while ``DEBUG`` is true (``SSE_MOCK_ENABLED`` would override that).
"""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "example-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = ["django.middleware.common.CommonMiddleware"]
DATABASES: dict[str, dict[str, str]] = {}

ROOT_URLCONF = "mysite.urls"
# runserver serves this object, so it streams the mock exactly as a production server would.
WSGI_APPLICATION = "mysite.wsgi.application"

USE_TZ = True

# The mock (one setting per configuration key; see sse_mock.django).
SSE_MOCK_DELAY = 0.1
SSE_MOCK_REPLY = "Hello from the Django example! This reply is mocked."
SSE_MOCK_CORS = {"origins": ["http://localhost:5173"]}
