"""WSGI entry point: Django's own application (the mock is in ``MIDDLEWARE``).

Used by ``manage.py runserver`` (through ``WSGI_APPLICATION``) and by any WSGI server::

    gunicorn -k gthread --threads 8 mysite.wsgi
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

application = get_wsgi_application()
