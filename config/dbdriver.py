"""Make Django's PostgreSQL driver choice explicit: psycopg2.

Django 5.2 silently prefers psycopg 3 when it can import it, and procrastinate (our task queue)
installs psycopg 3 for its worker connections. We bind Django's PostgreSQL backend to psycopg2 by
importing it while ``psycopg`` is hidden; everything imported afterwards (the procrastinate worker)
still sees psycopg 3. Imported first thing by the settings, before any app or backend loads.
"""

import sys

_MISSING = object()


def bind_django_to_psycopg2() -> None:
    if "django.db.backends.postgresql.psycopg_any" in sys.modules:
        from django.db.backends.postgresql.psycopg_any import is_psycopg3

        if is_psycopg3:
            raise RuntimeError("Django's PostgreSQL backend was bound to psycopg 3 before config.dbdriver ran")
        return
    saved = sys.modules.get("psycopg", _MISSING)
    sys.modules["psycopg"] = None  # makes `import psycopg` raise ImportError
    try:
        import django.db.backends.postgresql.base  # noqa: F401
        import django.db.backends.postgresql.psycopg_any  # noqa: F401
    finally:
        if saved is _MISSING:
            del sys.modules["psycopg"]
        else:
            sys.modules["psycopg"] = saved


bind_django_to_psycopg2()
