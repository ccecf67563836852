"""The WSGI fast path of the point lookups (common.fastlookup) against the Django/DRF views it stands in for, on the
real extract (lanes of data/osm/shanghai_huangpu.osm imported into the illustrative hierarchy of grid/tests/test_api.py).

Both apps get the very same WSGI environ; the answers must be equal: status, body bytes (and parsed JSON), every
header name and value — only the Content-Security-Policy nonce and a fresh CSRF token are per response. Requests
the fast path does not reproduce must reach Django untouched, a lookup is exactly one SQL statement, a killed
connection is replaced on the next request, and an unreachable database answers common.resilience's JSON 503.
"""

from __future__ import annotations

import io
import json
import random
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import psycopg2.extensions
import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import OperationalError, close_old_connections, connection
from django.test.utils import CaptureQueriesContext, override_settings

from common.fastlookup import Database, FastLookups, connect_kwargs
from common.geo import wgs84_to_gcj02
from grid.tests.test_api import build_areas
from lanes.importers.osm import import_osm
from lanes.tests.conftest import OSM_PATH, named_street_ways, wipe_lanes_and_areas

NEAREST = "/api/lanes/nearest/"
AREAS = "/api/areas/at/"


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    # Committed (not inside a test transaction): the fast path reads through connections of its own.
    with django_db_blocker.unblock():
        wipe_lanes_and_areas()
        build_areas()
        import_osm(OSM_PATH, commit=True)
        yield
        wipe_lanes_and_areas()


pytestmark = pytest.mark.django_db


@pytest.fixture
def unblocked(world, db):
    # Django's WSGIHandler inside the test transaction: without closing the connection at each request's start and
    # end, as Django's test client does.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


class Counting:
    """Django's WSGI app, counting the requests the fast path hands to it."""

    def __init__(self, app):
        self.app, self.calls = app, 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.app(environ, start_response)


@pytest.fixture
def apps(unblocked):
    django_app = WSGIHandler()
    fast = FastLookups(Counting(django_app))
    yield fast, django_app
    fast.db.close_all()


@pytest.fixture(scope="module")
def extent() -> tuple[float, float, float, float]:
    bounds = [w.line.bounds for w in named_street_ways()]
    return (
        min(b[0] for b in bounds),
        min(b[1] for b in bounds),
        max(b[2] for b in bounds),
        max(b[3] for b in bounds),
    )


def environ(path: str, query: str = "", method: str = "GET", **headers) -> dict:
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    env.update(headers)
    return env


def call(app, env: dict) -> tuple[str, list[tuple[str, str]], bytes]:
    out = {}

    def start_response(status, headers, exc_info=None):
        out["status"], out["headers"] = status, headers

    body = b"".join(app(dict(env), start_response))
    return out["status"], out["headers"], body


NONCE = re.compile(r"'nonce-[A-Za-z0-9_-]+'")
CSRF_VALUE = re.compile(r"^(csrftoken=)[A-Za-z0-9]+")


def normalized(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for name, value in headers:
        value = NONCE.sub("'nonce-*'", value)
        if name.lower() == "set-cookie":
            value = CSRF_VALUE.sub(r"\1*", value.strip())
        out.append((name.lower(), value))
    return sorted(out)


def assert_same(fast_app, django_app, env: dict) -> tuple[str, dict | None]:
    f_status, f_headers, f_body = call(fast_app, env)
    d_status, d_headers, d_body = call(django_app, env)
    assert f_status == d_status, (env["QUERY_STRING"], f_body, d_body)
    assert normalized(f_headers) == normalized(d_headers), env["QUERY_STRING"]
    content_type = dict((k.lower(), v) for k, v in f_headers).get("content-type", "")
    if not content_type.startswith("text/html"):  # the browsable API's page carries a fresh CSRF token
        assert f_body == d_body, (env["QUERY_STRING"], f_body[:300], d_body[:300])
    data = json.loads(f_body) if content_type.startswith("application/json") else None
    if data is not None:
        assert data == json.loads(d_body)
    return f_status, data


class Spy:
    """Counts what the fast path's database did."""

    def __init__(self, db: Database):
        self.db, self.fetches = db, 0
        original = db.fetch

        def fetch(name, args):
            self.fetches += 1
            return original(name, args)

        db.fetch = fetch


# --- configuration --------------------------------------------------------------------------------------------------


def test_the_fast_path_serves_both_lookups_under_the_project_settings(apps):
    fast, _ = apps
    assert sorted(fast.enabled_paths) == sorted([NEAREST, AREAS]), fast.disabled_reason
    assert fast.disabled_reason == ""


def test_an_unknown_middleware_switches_it_off_and_django_answers(unblocked, settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]
    django_app = WSGIHandler()
    fast = FastLookups(Counting(django_app))
    spy = Spy(fast.db)
    assert fast.enabled_paths == []
    assert "GZipMiddleware" in fast.disabled_reason
    status, _ = assert_same(fast, django_app, environ(AREAS, "lat=31.23&lon=121.48"))
    assert status.startswith("200") and spy.fetches == 0 and fast.django.calls == 1


# --- identical answers ----------------------------------------------------------------------------------------------


def test_random_points_over_the_extract_answer_exactly_as_django(apps, extent):
    fast, django_app = apps
    rng = random.Random(20261201)
    ways = named_street_ways()
    lon0, lat0, lon1, lat1 = extent
    with_lanes = levels_seen = 0
    for i in range(300):
        if i % 3 == 0:  # uniform over the extent (and a little beyond it)
            lon = rng.uniform(lon0 - 0.002, lon1 + 0.002)
            lat = rng.uniform(lat0 - 0.002, lat1 + 0.002)
        else:  # near a street: lanes to find
            x, y = rng.choice(rng.choice(ways).line.coords)
            lon, lat = x + rng.uniform(-3e-4, 3e-4), y + rng.uniform(-3e-4, 3e-4)
        query = f"lat={lat:.7f}&lon={lon:.7f}"
        if i % 10 == 0:
            glon, glat = wgs84_to_gcj02(lon, lat)
            query = f"lat={glat:.7f}&lon={glon:.7f}&coordsys=gcj02"
        if i % 2:
            extra = rng.choice(["", "&within=50", "&within=12.5", "&within=400&limit=20", "&limit=1", "&within=5000"])
            status, data = assert_same(fast, django_app, environ(NEAREST, query + extra))
            with_lanes += bool(data["lanes"])
        else:
            status, data = assert_same(fast, django_app, environ(AREAS, query))
            levels_seen += len(data["areas"]) >= 3
        assert status == "200 OK"
    assert with_lanes > 60  # most near-street points find lanes: the comparison is not of empty lists
    assert levels_seen > 60  # district, street office, community (and a cell) for points inside the hierarchy


BAD_QUERIES = [
    "",
    "lat=31.23",
    "lon=121.48",
    "lat=&lon=121.48",
    "lat=31.23&lon=",
    "lat=abc&lon=121.48",
    "lat=31.23&lon=1e400",
    "lat=nan&lon=121.48",
    "lat=inf&lon=121.48",
    "lat=-inf&lon=121.48",
    "lat=91&lon=121.48",
    "lat=-90.0001&lon=121.48",
    "lat=31.23&lon=180.5",
    "lat=31.23&lon=-181",
    "lat=31.23&lon=121.48&coordsys=bd09",
    "lat=31.23&lon=121.48&coordsys=GCJ02",
    "lat=31.23&lon=121.48&coordsys=",
    "lat=31.23&lon=121.48&coordsys=" + "x" * 100,
    "lat=" + "9" * 200 + "&lon=121.48",
    "lat=%E5%8C%97&lon=121.48",
    "lat=31.23&lat=500&lon=121.48",  # the last value counts, as in Django's QueryDict
    "lat=500&lat=31.23&lon=121.48",
    "lat=31.23&lon=121.48&unknown=1&page=2",
    "lat= 31.23 &lon=121.48",
    "lat=31,23&lon=121.48",
    "lat=0x1f&lon=121.48",
    "lat=90&lon=180",
    "lat=-90&lon=-180",
]
NEAREST_ONLY = [
    "within=0",
    "within=-5",
    "within=abc",
    "within=5000.001",
    "within=nan",
    "within=inf",
    "within=",
    "within=1e-9",
    "limit=0",
    "limit=51",
    "limit=50",
    "limit=abc",
    "limit=1.5",
    "limit=-1",
    "limit=",
    "limit=" + "9" * 50,
    "within=abc&limit=abc",
]


@pytest.mark.parametrize("path", [NEAREST, AREAS])
def test_every_bad_input_gets_the_same_answer(apps, path):
    fast, django_app = apps
    spy = Spy(fast.db)
    statuses, ok = set(), 0
    queries = BAD_QUERIES + ([f"lat=31.23&lon=121.48&{q}" for q in NEAREST_ONLY] if path == NEAREST else [])
    for query in queries:
        status, data = assert_same(fast, django_app, environ(path, query))
        statuses.add(status)
        ok += status.startswith("200")
        if status.startswith("400"):
            assert isinstance(data["detail"], str) and data["detail"]
    assert statuses == {"200 OK", "400 Bad Request"}
    assert fast.django.calls == 0  # every one answered by the fast path
    assert spy.fetches == ok > 0  # one statement per valid query, none for a rejected one


def test_language_and_cookies_as_django(apps):
    fast, django_app = apps
    spy = Spy(fast.db)
    variants = [
        {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"},
        {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"},
        {"HTTP_ACCEPT_LANGUAGE": "fr"},
        {"HTTP_COOKIE": "django_language=en"},
        {"HTTP_COOKIE": "csrftoken=" + "a" * 32},  # a valid CSRF cookie: left as it is
        {"HTTP_COOKIE": "csrftoken=bad!"},  # a malformed one: Django sets a new one, so do we
        {"HTTP_COOKIE": "messages=x; other=1"},
        {"HTTP_ACCEPT": "application/json"},
        {"HTTP_ACCEPT": "*/*"},
        {"HTTP_ACCEPT": "application/json, */*"},
        {"HTTP_X_FORWARDED_PROTO": "https"},
        {"wsgi.url_scheme": "https", "SERVER_PORT": "443"},
    ]
    for headers in variants:
        for path, query in [(AREAS, "lat=31.23&lon=121.48"), (NEAREST, "lat=31.23&lon=121.48&within=abc")]:
            assert_same(fast, django_app, environ(path, query, **headers))
    assert spy.fetches == len(variants)  # one per variant: the other query is a 400 before any SQL
    assert fast.django.calls == 0
    _status, headers, _body = call(fast, environ(AREAS, "lat=31.23&lon=121.48", HTTP_COOKIE="csrftoken=bad!"))
    assert any(name == "Set-Cookie" and value.strip().startswith("csrftoken=") for name, value in headers)


def test_repeated_requests_reuse_the_hooks_headers_and_still_answer_as_django(apps, settings):
    fast, django_app = apps
    assert fast.enabled_paths  # set up, so the hooks can be counted
    runs = []

    def counted(hook):
        def run(request):
            runs.append(hook)
            return hook(request)

        return run

    fast._request_hooks = [counted(hook) for hook in fast._request_hooks]
    per_request = len(fast._request_hooks)
    variants = [
        {},
        {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"},
        {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"},
        {"HTTP_X_FORWARDED_PROTO": "https"},
        {"wsgi.url_scheme": "https", "SERVER_PORT": "443"},
    ]
    points = ["lat=31.23&lon=121.48", "lat=31.2301&lon=121.4795", "lat=31.2289&lon=121.4811"]
    for headers in variants:
        for path in (AREAS, NEAREST):
            for query in points:
                status, _data = assert_same(fast, django_app, environ(path, query, **headers))
                assert status.startswith("200")
    # the hooks ran once per (path, headers); the other answers reused their headers. X-Forwarded-Proto means
    # nothing without SECURE_PROXY_SSL_HEADER, so that variant shares the plain request's headers.
    assert len(runs) == per_request * (len(variants) - 1) * 2
    # an error answer runs them every time (its headers are never remembered)
    runs.clear()
    for _ in range(2):
        assert_same(fast, django_app, environ(AREAS, "lat=91&lon=121.48"))
    assert len(runs) == per_request * 2
    # a request with cookies runs them every time as well
    runs.clear()
    for _ in range(2):
        assert_same(fast, django_app, environ(AREAS, points[0], HTTP_COOKIE="csrftoken=" + "a" * 32))
    assert len(runs) == per_request * 2
    # a changed setting forgets the remembered headers: the next answer has the new ones, as Django's has
    # (X-Frame-Options is read per response; SecurityMiddleware's settings when the handler loads, as in Django)
    assert dict(call(fast, environ(AREAS, points[1]))[1])["X-Frame-Options"] == "DENY"
    settings.X_FRAME_OPTIONS = "SAMEORIGIN"
    _status, headers, _body = call(fast, environ(AREAS, points[1]))
    assert dict(headers)["X-Frame-Options"] == "SAMEORIGIN"
    assert_same(fast, django_app, environ(AREAS, points[2]))
    assert fast.django.calls == 0


def test_security_headers_follow_the_settings_over_https(unblocked):
    with override_settings(
        SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
        SECURE_HSTS_SECONDS=3600,
        SECURE_HSTS_INCLUDE_SUBDOMAINS=True,
        SECURE_REFERRER_POLICY="strict-origin",
        SECURE_CROSS_ORIGIN_OPENER_POLICY="same-origin-allow-popups",
        X_FRAME_OPTIONS="SAMEORIGIN",
    ):
        django_app = WSGIHandler()
        fast = FastLookups(django_app)
        spy = Spy(fast.db)
        env = environ(AREAS, "lat=31.23&lon=121.48", HTTP_X_FORWARDED_PROTO="https")
        assert_same(fast, django_app, env)
        _status, headers, _body = call(fast, env)
        fast.db.close_all()
    names = {name.lower(): value for name, value in headers}
    assert names["strict-transport-security"] == "max-age=3600; includeSubDomains"
    assert names["referrer-policy"] == "strict-origin"
    assert names["cross-origin-opener-policy"] == "same-origin-allow-popups"
    assert names["x-frame-options"] == "SAMEORIGIN"
    assert names["x-content-type-options"] == "nosniff"
    assert names["content-type"] == "application/json"
    assert spy.fetches == 2


def test_what_it_does_not_reproduce_goes_to_django(apps):
    fast, django_app = apps
    spy = Spy(fast.db)
    query = "lat=31.23&lon=121.48"
    cases = [
        (environ(NEAREST, query, method="HEAD"), "200"),
        (environ(AREAS, query, method="OPTIONS"), "200"),
        (environ(AREAS, query, method="POST", CONTENT_TYPE="application/json"), "405"),
        (environ(NEAREST, query, method="PUT"), "405"),
        (environ(AREAS, query, HTTP_ACCEPT="text/html"), "200"),  # the browsable API
        (environ(AREAS, query, HTTP_ACCEPT="application/xml"), "406"),
        (environ(AREAS, query, HTTP_ACCEPT="application/json; indent=4"), "200"),
        (environ(AREAS, query + "&format=json"), "200"),
        (environ(AREAS, query + "&format=api"), "200"),
        (environ(AREAS, query, HTTP_AUTHORIZATION="Basic bm9ib2R5Om5vcGU="), "403"),  # nobody:nope
        (environ(AREAS, query, HTTP_COOKIE="sessionid=doesnotexist"), "200"),
        (environ(AREAS, query, HTTP_HOST="evil.example"), "400"),
        (environ("/api/areas/at", query), "301"),  # APPEND_SLASH
        (environ(AREAS, "&".join(f"k{i}=1" for i in range(1100)) + "&" + query), "400"),  # too many fields
    ]
    for env, expected in cases:
        status, _data = assert_same(fast, django_app, env)
        assert status.startswith(expected), (env["REQUEST_METHOD"], env.get("HTTP_ACCEPT"), status)
    assert spy.fetches == 0 and fast.django.calls == len(cases)


# --- the database -----------------------------------------------------------------------------------------------


class CountingCursor(psycopg2.extensions.cursor):
    statements: list[str] = []

    def execute(self, query, vars=None):
        CountingCursor.statements.append(query)
        return super().execute(query, vars)


def test_one_prepared_statement_per_lookup_and_none_through_django(apps):
    fast, _ = apps
    call(fast, environ(AREAS, "lat=31.23&lon=121.48"))  # opens and prepares the connection
    conn = fast.db.connection()
    conn.cursor_factory = CountingCursor
    CountingCursor.statements = []
    with CaptureQueriesContext(connection) as django_queries:
        for i in range(20):
            status, _headers, _body = call(fast, environ(AREAS, f"lat={31.22 + i * 1e-3}&lon=121.48"))
            assert status == "200 OK"
            status, _headers, _body = call(fast, environ(NEAREST, f"lat={31.22 + i * 1e-3}&lon=121.48&within=80"))
            assert status == "200 OK"
    assert len(django_queries) == 0
    assert len(CountingCursor.statements) == 40
    assert all(s.startswith("EXECUTE lanechief_") for s in CountingCursor.statements)
    assert fast.db.connection() is conn  # persistent
    assert conn.autocommit  # no BEGIN/COMMIT around the statement


def test_a_killed_connection_is_replaced_on_the_next_request(apps):
    fast, django_app = apps
    env = environ(NEAREST, "lat=31.2304&lon=121.4737&within=300")
    expected = call(django_app, env)
    assert call(fast, env)[2] == expected[2]
    pid = fast.db.connection().get_backend_pid()
    with connection.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert cur.fetchone()[0] is True
    for _ in range(3):
        status, _headers, body = call(fast, env)
        assert status == "200 OK" and body == expected[2]
    assert fast.db.connection().get_backend_pid() != pid


def test_an_unreachable_database_answers_the_json_503_and_recovers(apps, monkeypatch):
    fast, django_app = apps
    good = connect_kwargs()
    fast.db.kwargs = {**good, "host": "127.0.0.1", "port": 9, "connect_timeout": 2}  # nothing listens there
    fast.db.close_all()
    env = environ(AREAS, "lat=31.23&lon=121.48")
    f_status, f_headers, f_body = call(fast, env)
    assert f_status == "503 Service Unavailable"
    body = json.loads(f_body)
    assert body["code"] == "database_unavailable" and body["detail"]
    assert b"Traceback" not in f_body
    # Django's own answer to the outage (the view's query failing) is the same response.

    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("grid.api.areas_at_rows", down)
    d_status, d_headers, d_body = call(django_app, env)
    assert (f_status, f_body) == (d_status, d_body)
    assert normalized(f_headers) == normalized(d_headers)
    assert dict(f_headers)["Retry-After"] == "5"
    # The database is back: the very next request is answered, nothing stays broken.
    fast.db.kwargs = good
    assert call(fast, env)[0] == "200 OK"


def test_threads_get_connections_of_their_own_and_the_same_answers(apps, extent):
    fast, django_app = apps
    rng = random.Random(7)
    lon0, lat0, lon1, lat1 = extent
    envs = [
        environ(
            NEAREST if i % 2 else AREAS,
            f"lat={rng.uniform(lat0, lat1):.7f}&lon={rng.uniform(lon0, lon1):.7f}&within=200",
        )
        for i in range(120)
    ]
    expected = [call(fast, env)[2] for env in envs]
    fast.db.close_all()
    threads = set()

    def serve(i):
        threads.add(threading.get_ident())
        return call(fast, envs[i])[2]

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(serve, range(len(envs))))
    assert answers == expected
    assert fast.db.open_connections == len(threads) > 1


def test_the_raw_sql_baselines_of_make_bench_are_the_statements_the_api_runs():
    from pathlib import Path

    from django.conf import settings

    from grid.selectors import AREAS_AT_SQL
    from lanes.selectors import NEAREST_SQL

    def statement(name: str) -> str:
        lines = (Path(settings.BASE_DIR) / "bench" / "sql" / name).read_text().splitlines()
        return "\n".join(line for line in lines if not line.startswith(("--", "\\"))).strip()

    nearest = NEAREST_SQL % {"lon": ":lon", "lat": ":lat", "abslat": ":abslat", "within": "50", "limit": "5"}
    assert statement("nearest.sql") == nearest.strip() + ";"
    assert statement("areas_at.sql") == (AREAS_AT_SQL % (":lon", ":lat")).strip() + ";"
