#!/usr/bin/env python
"""Django's command-line utility for the example project.

    cd examples/django_project
    python manage.py runserver
    curl -N http://127.0.0.1:8000/mock/stream     # the mock (DEBUG is true in settings.py)
    curl http://127.0.0.1:8000/hello/             # the project's own view
"""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
