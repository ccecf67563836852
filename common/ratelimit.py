"""Rate limits on the public endpoints, per client address, that hold under load and across web processes.

One middleware counts requests to the public endpoints that anyone can call without an account — filing a report,
tracking a report by its code, searching the lane lookup, Open311 submissions — in fixed windows of the Django
cache and answers 429 with Retry-After beyond the limit. The counter is atomic: `cache.incr` where the backend's
is (memory, Redis, Memcached), and a PostgreSQL advisory lock around read-and-write for the database cache
(`CACHE_URL=dbcache://django_cache`, after `manage.py createcachetable`), so concurrent requests in several gunicorn
processes share one count and none slips through. With the default per-process memory cache each process counts
on its own: set CACHE_URL when running more than one.

The apps' own throttles (cases.api's DRF throttles, open311's per-key limit) stay as they are; this is the
site-wide bound in front of them. Limits: settings.RATE_LIMITS (rule → "count/period"), see DEFAULT_LIMITS.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400}

# rule → "count/period" ("20/hour", "120/minute", "30/10m"). cases' report rate (CASE_PUBLIC_REPORT_RATE) is the
# report default, so the page, the API and this bound agree.
DEFAULT_LIMITS = {
    "report": None,  # None: cases.conf CASE_PUBLIC_REPORT_RATE
    "track": "120/hour",
    "lookup": "300/minute",
    "open311_post": "60/hour",
}


@dataclass(frozen=True)
class Rule:
    name: str
    methods: tuple[str, ...]
    pattern: re.Pattern
    anonymous_only: bool = False
    needs_param: str = ""  # counted only when this query parameter is present (a search, not the empty page)


RULES = (
    Rule("report", ("POST",), re.compile(r"^/(report/|api/cases/)$"), anonymous_only=True),
    Rule("track", ("GET",), re.compile(r"^/track/$"), needs_param="code"),
    Rule("track", ("GET",), re.compile(r"^/api/cases/track/[^/]+/$")),
    Rule("lookup", ("GET",), re.compile(r"^/lookup/$"), needs_param="q"),
    Rule("lookup", ("GET",), re.compile(r"^/lookup/api/(lanes|nearest)/$")),
    Rule("open311_post", ("POST",), re.compile(r"^/open311/v2/requests\.(json|xml)$")),
)


def _now() -> float:
    return time.time()


def parse_rate(rate: str) -> tuple[int, int]:
    """ "20/hour" → (20, 3600); "30/10m" → (30, 600)."""
    count, _slash, period = rate.partition("/")
    match = re.fullmatch(r"(\d*)\s*([a-z]+)", period.strip().lower())
    if not match or match.group(2) not in PERIODS:
        raise ValueError(f"rate {rate!r}: expected count/period, e.g. 20/hour")
    return int(count), int(match.group(1) or 1) * PERIODS[match.group(2)]


def limit_for(rule: str) -> tuple[int, int] | None:
    limits = {**DEFAULT_LIMITS, **getattr(settings, "RATE_LIMITS", {})}
    rate = limits.get(rule)
    if rule == "report" and rate is None:
        from cases import conf

        rate = conf.get("CASE_PUBLIC_REPORT_RATE")
    return parse_rate(rate) if rate else None


def client_address(request) -> str:
    """REMOTE_ADDR, or behind our TLS proxy (settings.SECURE_PROXY_SSL_HEADER set) the address it appended last to
    X-Forwarded-For — the one hop we trust."""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if forwarded:
            return forwarded[-1]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def hit(key: str, *, timeout: int) -> int:
    """Add one to the counter `key` (created with `timeout` seconds) and return the new count, atomically across
    threads and processes that share the cache."""
    cache = caches["default"]
    if isinstance(cache, DatabaseCache):
        with transaction.atomic(using=DEFAULT_DB_ALIAS):
            with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"ratelimit:{key}"])
            count = int(cache.get(key) or 0) + 1
            cache.set(key, count, timeout=timeout)
            return count
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 0, timeout=timeout)
        return cache.incr(key)


def check(request) -> tuple[str, int] | None:
    """(rule, seconds to wait) when `request` is over its limit, else None; counts it otherwise."""
    path = request.path
    for rule in RULES:
        if request.method not in rule.methods or not rule.pattern.match(path):
            continue
        if rule.needs_param and not request.GET.get(rule.needs_param):
            return None
        user = getattr(request, "user", None)
        if rule.anonymous_only and user is not None and user.is_authenticated:
            return None
        limit = limit_for(rule.name)
        if limit is None:
            return None
        count, period = limit
        now = _now()
        window = int(now // period)
        key = f"rl:{rule.name}:{client_address(request)}:{period}:{window}"
        if hit(key, timeout=period + 5) > count:
            return rule.name, max(1, math.ceil((window + 1) * period - now))
        return None
    return None


class RateLimitMiddleware:
    """429 + Retry-After for public endpoints over their limit (after authentication: logged-in reporters are not
    bound by the anonymous report limit)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        over = check(request) if getattr(settings, "RATE_LIMITS_ENABLED", True) else None
        if over is None:
            return self.get_response(request)
        rule, wait = over
        message = _("请求过于频繁，请 %(s)d 秒后再试") % {"s": wait}
        if request.path.startswith("/open311/"):  # GeoReport v2's error list
            if request.path.endswith(".xml"):
                body = f'<?xml version="1.0" encoding="utf-8"?><errors><error><code>429</code><description>{message}</description></error></errors>'
                response = HttpResponse(body, status=429, content_type="text/xml; charset=utf-8")
            else:
                response = JsonResponse([{"code": 429, "description": message}], status=429, safe=False)
        elif request.path.startswith("/api/"):
            response = JsonResponse({"detail": message}, status=429)
        else:
            response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(wait)
        return response
