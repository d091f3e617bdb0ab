"""ASGI entry point: the same project under uvicorn or daphne; the mock streams from
``MIDDLEWARE`` there too::

    uvicorn mysite.asgi:application --port 8000
    curl -N http://127.0.0.1:8000/mock/stream
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

application = get_asgi_application()
