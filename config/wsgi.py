"""WSGI entry point (gunicorn: config.wsgi:application, see config/gunicorn.py).

The two public point lookups (GET /api/lanes/nearest/, GET /api/areas/at/) are answered by common.fastlookup in
front of Django — the same answers, without Django's and DRF's request cycle and with server-side prepared
statements; every other request goes to Django. FAST_LOOKUPS=false serves everything through Django (to compare,
or to rule the fast path out while debugging).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

if os.environ.get("FAST_LOOKUPS", "true").strip().lower() in ("0", "false", "no", "off"):
    application = django_application
else:
    from common.fastlookup import FastLookups

    application = FastLookups(django_application)
