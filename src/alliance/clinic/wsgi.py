"""The WSGI application that ``alliance serve`` runs."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance.clinic.settings")
application = get_wsgi_application()
