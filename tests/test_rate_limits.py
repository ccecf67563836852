"""Public rate limits (common/ratelimit.py) under concurrency: requests beyond the limit get 429 with Retry-After,
exactly `limit` pass however many arrive at once, and the count is shared by separate processes through the
database cache (CACHE_URL=dbcache://…)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from common import ratelimit

ROOT = Path(__file__).resolve().parent.parent
CACHE_TABLE = "test_ratelimit_cache"
NOW = 1_800_000_000.0 + 1234.5  # a frozen clock: no window boundary in the middle of a test
BACKENDS = {
    "memory": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ratelimit-test"},
    "database": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": CACHE_TABLE},
}


@pytest.fixture(params=sorted(BACKENDS))
def limited(request, settings, transactional_db, monkeypatch):
    """Limits on, small ones, a fresh cache of the given kind, and a clock that does not cross a window."""
    settings.CACHES = {"default": BACKENDS[request.param]}
    if request.param == "database":
        call_command("createcachetable", CACHE_TABLE, verbosity=0)
    from django.core.cache import caches

    caches["default"].clear()
    settings.RATE_LIMITS_ENABLED = True
    settings.RATE_LIMITS = {"track": "5/hour", "lookup": "4/minute", "report": "3/hour", "open311_post": "2/hour"}
    monkeypatch.setattr(ratelimit, "_now", lambda: NOW)
    yield request.param
    caches["default"].clear()


def burst(path: str, n: int, *, method: str = "get", data=None, **extra) -> list:
    def one(_i):
        try:
            return getattr(Client(), method)(path, data=data, **extra)
        finally:
            connection.close()  # each thread's own connection

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(n)))


def test_parse_rate():
    assert ratelimit.parse_rate("20/hour") == (20, 3600)
    assert ratelimit.parse_rate("30/10m") == (30, 600)
    assert ratelimit.parse_rate("5/s") == (5, 1)
    with pytest.raises(ValueError):
        ratelimit.parse_rate("5/fortnight")


def test_concurrent_tracking_beyond_the_limit_gets_429_with_retry_after(limited):
    responses = burst("/track/?code=NOSUCHCODE", 24)
    statuses = [r.status_code for r in responses]
    assert statuses.count(404) == 5  # exactly the limit passes (an unknown code: 404)
    assert statuses.count(429) == 19
    waits = {int(r["Retry-After"]) for r in responses if r.status_code == 429}
    assert waits == {math.ceil(3600 - NOW % 3600)}  # until the end of the hour window
    # another address has its own count
    assert Client(REMOTE_ADDR="10.1.2.3").get("/track/?code=NOSUCHCODE").status_code == 404
    # the tracking page without a code is not a search and is never limited
    assert Client().get("/track/").status_code == 200


def test_lookup_search_and_api_share_one_limit(limited):
    statuses = [r.status_code for r in burst("/lookup/api/nearest/?lat=x&lon=y", 6)]
    assert statuses.count(429) == 2 and statuses.count(400) == 4
    over = Client().get("/lookup/?q=南京")
    assert over.status_code == 429 and int(over["Retry-After"]) == math.ceil(60 - NOW % 60)


def test_anonymous_reports_are_limited_and_logged_in_ones_are_not(limited, django_user_model):
    responses = burst("/report/", 7, method="post", data={"category": "nope", "lat": "31.2", "lon": "121.4"})
    statuses = [r.status_code for r in responses]
    assert statuses.count(429) == 4
    refused = next(r for r in responses if r.status_code == 429)
    assert "请求过于频繁" in refused.content.decode() and int(refused["Retry-After"]) > 0
    api = Client().post("/api/cases/", {"category": "nope"}, content_type="application/json")
    assert api.status_code == 429 and "detail" in api.json()
    user = django_user_model.objects.create_user("reporter", password="x" * 12)
    client = Client()
    client.force_login(user)
    assert client.post("/report/", {"category": "nope"}).status_code != 429


def test_open311_posts_are_limited_in_its_own_error_format(limited):
    statuses = [r.status_code for r in burst("/open311/v2/requests.json", 4, method="post", data={"api_key": "x"})]
    assert statuses.count(429) == 2
    body = Client().post("/open311/v2/requests.json", {"api_key": "x"})
    assert body.status_code == 429 and body.json()[0]["code"] == 429
    xml = Client().post("/open311/v2/requests.xml", {"api_key": "x"})
    assert xml.status_code == 429 and b"<code>429</code>" in xml.content


HITS = """
import django, sys
django.setup()
from common.ratelimit import hit
print(" ".join(str(hit("shared-key", timeout=60)) for _ in range(int(sys.argv[1]))))
"""


def test_the_count_is_shared_and_atomic_across_processes(limited):
    if limited != "database":
        pytest.skip("a per-process memory cache is not shared by design")
    name = connection.settings_dict["NAME"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgis://postgres@127.0.0.1:{connection.settings_dict['PORT']}/{name}",
        "CACHE_URL": f"dbcache://{CACHE_TABLE}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_TESTING": "1",
    }
    procs = [
        subprocess.Popen([sys.executable, "-c", HITS, "30"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    counts = []
    for proc in procs:
        out, _err = proc.communicate(timeout=120)
        assert proc.returncode == 0
        counts.extend(int(c) for c in out.split())
    # 90 increments from 3 processes at once: every count from 1 to 90 handed out exactly once
    assert sorted(counts) == list(range(1, 91))
