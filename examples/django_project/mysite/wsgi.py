"""WSGI entry point: Django's application, wrapped in the mock when ``DEBUG`` is true.

Used by ``manage.py runserver`` (through ``WSGI_APPLICATION``) and by any WSGI server::

    gunicorn -k gthread --threads 8 mysite.wsgi
"""

import os

from django.core.wsgi import get_wsgi_application

from sse_mock.django import wrap

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

application = wrap(get_wsgi_application())
