"""WSGI entry point (gunicorn itnio_portal.wsgi): Django, with ITNIO's pushes on a fast path."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itnio_portal.settings.base")

from itnio_portal.push_wsgi import PushFastPath

application = PushFastPath(get_wsgi_application())
