"""The database being unreachable is a defined answer, not a crash: 503 with Retry-After and a short message.

While PostgreSQL restarts (a fail-over, a minor upgrade, a crash) every query raises django.db.OperationalError or
InterfaceError. Without this module those become 500 responses (with DEBUG on, the HTML debug page and traceback).
`DatabaseUnavailableMiddleware` turns them into

    503 Service Unavailable, Retry-After: 5
    {"detail": "服务暂时不可用（数据库连接中断），请稍后重试。", "code": "database_unavailable"}

for the API (and any client that asks for JSON), and a small static HTML page for the other pages (rendered without
templates or context processors: those would query the database again). Nothing is half-written: the request's
transaction is rolled back by PostgreSQL when the connection drops, and Django drops the broken connection at the end
of the request (CONN_HEALTH_CHECKS re-checks a persistent connection before reusing it), so the service recovers by
itself once the database is back.

Two paths reach it: a view (DRF or plain Django) raising the error goes through `process_exception`; an error raised
elsewhere in the middleware chain (e.g. saving a session) is seen by the `got_request_exception` signal, and the
outermost middleware (this one, placed first) replaces the resulting 500. `wsgi_unavailable()` gives the same answer
to code serving requests outside Django's handler (a WSGI fast path).
"""

from __future__ import annotations

import json
import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_S = 5
MESSAGE = "服务暂时不可用（数据库连接中断），请稍后重试。"
CODE = "database_unavailable"
JSON_PREFIXES = ("/api/", "/open311/", "/healthz")
HTML_PAGE = (
    '<!doctype html><html lang="zh-hans"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>服务暂时不可用</title></head>'
    '<body style="font-family:sans-serif;max-width:40em;margin:3em auto;padding:0 1em">'
    f"<h1>服务暂时不可用</h1><p>{MESSAGE}</p><p>页面将在几秒后可以重新打开。</p></body></html>"
)
_FLAG = "_database_unavailable"


def is_database_error(exc: BaseException | None) -> bool:
    """The error itself, or an error it was raised from (`raise … from exc`, e.g. by a library), is an outage."""
    for _ in range(5):
        if exc is None:
            return False
        if isinstance(exc, DATABASE_ERRORS):
            return True
        exc = exc.__cause__
    return False


def wants_json(path: str, accept: str = "") -> bool:
    return path.startswith(JSON_PREFIXES) or "application/json" in accept or "geo+json" in accept


def unavailable_response(request) -> HttpResponse:
    if wants_json(request.path, request.headers.get("Accept", "")):
        response = JsonResponse(
            {"detail": MESSAGE, "code": CODE}, status=503, json_dumps_params={"ensure_ascii": False}
        )
    else:
        response = HttpResponse(HTML_PAGE, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_S)
    response["Cache-Control"] = "no-store"
    return response


def wsgi_unavailable(environ, start_response) -> list[bytes]:
    """The same 503 for a WSGI callable that serves a path itself (outside Django's handler)."""
    path = environ.get("PATH_INFO", "")
    if wants_json(path, environ.get("HTTP_ACCEPT", "")):
        body = json.dumps({"detail": MESSAGE, "code": CODE}, ensure_ascii=False).encode()
        content_type = "application/json"
    else:
        body, content_type = HTML_PAGE.encode(), "text/html; charset=utf-8"
    start_response(
        "503 Service Unavailable",
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Retry-After", str(RETRY_AFTER_S)),
            ("Cache-Control", "no-store"),
        ],
    )
    return [body]


def _log(request, exc: BaseException) -> None:
    # One line, no traceback: an outage makes every request fail the same way.
    logger.warning("database unavailable: %s %s -> 503 (%s)", request.method, request.path, type(exc).__name__)


def on_request_exception(sender, request=None, **kwargs) -> None:
    """got_request_exception receiver: remember that an error outside a view was a database outage."""
    import sys

    if request is not None and is_database_error(sys.exc_info()[1]):
        setattr(request, _FLAG, True)


class DatabaseUnavailableMiddleware:
    """Place it first in MIDDLEWARE (outermost), so it also replaces a 500 raised by another middleware."""

    def __init__(self, get_response):
        from django.core.signals import got_request_exception

        self.get_response = get_response
        got_request_exception.connect(on_request_exception, dispatch_uid="common.resilience")

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 500 and getattr(request, _FLAG, False):
            response = unavailable_response(request)
        return response

    def process_exception(self, request, exception):
        if is_database_error(exception):
            _log(request, exception)
            return unavailable_response(request)
        return None
