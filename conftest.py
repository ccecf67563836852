"""Shared test fixtures and ordering for the whole suite.

`demo`: the demo data set (manage.py load_demo), loaded once per test session and committed to the test database,
so every test sees the same district, lanes, people and accounts (tests using the `db` fixture still run inside a
transaction that is rolled back, so they may change demo rows freely). Loading takes a while: it is built once, and
removed again right after the last test that uses it, so test modules that expect an empty database and run later
in the same session (e.g. the lanes importer's) are not affected.

Do not combine `demo` with `transactional_db` or pytest-django's `live_server` (which forces `transactional_db`):
their teardown flushes every table, the demo included. For a browser test, see `demo_server` in test_admin.py.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from pytest_django.plugin import blocking_manager_key

os.environ.setdefault("DJANGO_TESTING", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


@dataclass(frozen=True)
class Demo:
    output: str  # what `load_demo --reset` printed on stdout
    counts: dict  # common.demo.demo_counts() right after loading


def _unload(config) -> None:
    from common.demo import unload_demo

    with config.stash[blocking_manager_key].unblock():
        unload_demo()


@pytest.fixture(scope="session")
def demo(django_db_setup, django_db_blocker, request) -> Demo:
    from django.db import connection

    from common.demo import demo_counts

    # Never load (and later unload) the demo anywhere but a test database.
    assert connection.settings_dict["NAME"].startswith("test_"), "the demo fixture needs the test database"
    with django_db_blocker.unblock():
        out = io.StringIO()
        # --reset: a demo left behind by an interrupted session (--reuse-db) is rebuilt, never trusted.
        call_command("load_demo", "--reset", stdout=out, stderr=io.StringIO())
        demo = Demo(output=out.getvalue(), counts=demo_counts())
    request.addfinalizer(lambda: _unload(request.config))
    return demo


_last_demo_test: str | None = None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """Order after pytest-django's own ordering: tests without the demo, then those with it (the demo is loaded
    once and no test that builds its own world runs beside it); inside each, browser tests last."""
    global _last_demo_test

    def uses_demo(item):
        return "demo" in getattr(item, "fixturenames", ())

    def in_browser(item):
        # Playwright's sync API keeps an asyncio loop on the main thread for the rest of the session (one shared
        # Chromium, tests/browser.py), so browser tests come after everything that runs asyncio itself (the
        # procrastinate worker in the queue tests).
        return item.get_closest_marker("browser") is not None

    groups = ([], [], [], [])
    for item in items:
        groups[2 * uses_demo(item) + in_browser(item)].append(item)
    items[:] = [item for group in groups for item in group]
    demo_items = groups[2] + groups[3]
    _last_demo_test = demo_items[-1].nodeid if demo_items else None


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    if _last_demo_test is not None and item.nodeid == _last_demo_test:
        _unload(item.config)
