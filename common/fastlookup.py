"""A lean WSGI path for the two public point lookups, in front of Django (config/wsgi.py).

    GET /api/lanes/nearest/?lat=&lon=[&within=][&limit=][&coordsys=]    (lanes.api.LaneViewSet.nearest)
    GET /api/areas/at/?lat=&lon=[&coordsys=]                            (grid.api.AreaViewSet.at)

Why: Django's request cycle plus DRF (URL resolving, the request wrapper, negotiation, authentication, rendering)
costs several times the lookup itself, and the lookup's SQL was planned on every call. Here a lookup is the same
parameter parsing and validation (common.params), one EXECUTE of a server-side prepared statement on a persistent
psycopg2 connection of the serving thread, the same row mapping (lanes.selectors.nearest_rows,
grid.selectors.area_rows) and DRF's JSONRenderer.

The answer is the one Django would give, byte for byte and header for header (tests/test_fastlookup.py compares
them): the request and response hooks of the project's middleware run as in Django (security headers, language,
CSRF cookie repair, X-Frame-Options, Content-Length), the effect of the others is reproduced (sessions' Vary: Cookie,
the Content-Security-Policy with a fresh nonce; auth and messages have none here), and DRF's view headers (Allow, Vary: Accept) are added as its finalize_response does. Whatever this module does not
reproduce goes to Django unchanged: any method but GET, an Authorization header, a session cookie, an Accept header
that could choose another renderer, `?format=`, a request a middleware would answer itself (disallowed host, HTTPS
redirect), and every other path. It switches itself off (everything to Django, one warning) when the settings hold a
middleware it does not know or the views are configured differently from what it reproduces.

Answering again: the middleware hooks read nothing of a request but its host, scheme, language and cookies, so for
a request without cookies whose answer is a 200 the headers they produce are remembered per (path, host, scheme,
proxy headers, Accept-Language) — the first such request runs them, the next ones reuse the headers with their own
Content-Length and CSP nonce and the language the hooks chose (QUICK_HEADERS below; cleared when a setting changes).
Anything else (cookies, an error answer, a setting the key cannot capture) runs the hooks every time.

Database: one connection per serving thread (gthread workers), opened on first use, autocommit (no BEGIN/COMMIT
round trips), statements prepared once per connection. A failed statement drops the connection and is retried once
on a fresh one (a lookup only reads), so a database restart costs nothing but the reconnect; if the retry fails too
the answer is common.resilience's 503 (JSON, Retry-After), the same Django gives when the database is down.
"""

from __future__ import annotations

import logging
import secrets
import threading

import psycopg2
from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse, QueryDict
from django.urls import resolve
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.log import log_response
from django.utils.module_loading import import_string
from rest_framework.exceptions import APIException
from rest_framework.renderers import JSONRenderer

from common.api import exception_handler
from common.geo import CoordinateError, LonLat, parse_number, to_wgs84
from common.params import parse_limit, parse_within
from grid.selectors import AREAS_AT_SQL, area_rows
from lanes.selectors import NEAREST_ARGS, NEAREST_SQL, nearest_params, nearest_rows

logger = logging.getLogger(__name__)

# Accept headers DRF's negotiation answers with JSONRenderer whatever the view's other renderers are.
JSON_ACCEPTS = frozenset({"*/*", "application/json", "application/*"})

# Middleware whose effect on these two GET responses is nothing but their process_request/process_response hooks
# (django.utils.deprecation.MiddlewareMixin): run as Django runs them.
HOOK_MIDDLEWARE = frozenset(
    {
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.locale.LocaleMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    }
)
SESSION = "django.contrib.sessions.middleware.SessionMiddleware"
# Middleware whose whole effect here is known and cheaper to state than to run (a request without a session cookie,
# which is the only kind served here):
# - sessions: DRF's SessionAuthentication reads request.user, which reads the (empty) session, so SessionMiddleware
#   adds `Vary: Cookie` and saves nothing; reproduced by _session_response below;
# - auth: the anonymous user, no query;
# - messages: no message is read or added, so the storage writes nothing.
EMULATED = frozenset(
    {
        SESSION,
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    }
)


def _session_response(request, response):
    patch_vary_headers(response, ("Cookie",))
    return response


# Middleware with a __call__ of their own, and whether they leave a GET of `path` to the view unchanged (then the
# fast path may answer it; CSP's header is reproduced below).
CSP = "common.csp.CSPMiddleware"


def _no_rate_limit_rule(path: str) -> bool:
    from common.ratelimit import RULES

    return not any("GET" in rule.methods and rule.pattern.match(path) for rule in RULES)


PASS_THROUGH = {
    # changes only an outage's answer, and ours is the same 503
    "common.resilience.DatabaseUnavailableMiddleware": lambda path: True,
    # serves files under STATIC_URL only
    "whitenoise.middleware.WhiteNoiseMiddleware": lambda path: not path.startswith(settings.STATIC_URL or "/static/"),
    CSP: lambda path: True,
    # counts and limits the paths of its RULES only
    "common.ratelimit.RateLimitMiddleware": _no_rate_limit_rule,
}


# Entries of the remembered headers (FastLookups._quick); a full table is emptied, so odd headers cannot grow it.
QUICK_ENTRIES = 256
CSP_NONCE_MARK = "\x00nonce\x00"


class Fallback(Exception):
    """This request is Django's to answer."""


class DatabaseUnavailable(Exception):
    pass


def _positional(sql: str, names: tuple[str, ...]) -> str:
    return sql % {name: f"${i}" for i, name in enumerate(names, start=1)}


# name → (PREPARE statement, EXECUTE template): the selectors' SQL, with positional parameters.
STATEMENTS = {
    "lanechief_nearest": (
        "PREPARE lanechief_nearest(float8, float8, float8, float8, int4) AS " + _positional(NEAREST_SQL, NEAREST_ARGS),
        "EXECUTE lanechief_nearest(%s, %s, %s, %s, %s)",
    ),
    "lanechief_areas_at": (
        "PREPARE lanechief_areas_at(float8, float8) AS " + AREAS_AT_SQL % ("$1", "$2"),
        "EXECUTE lanechief_areas_at(%s, %s)",
    ),
}

# Options of settings.DATABASES[...]["OPTIONS"] that are Django's, not libpq's.
DJANGO_ONLY_OPTIONS = frozenset({"isolation_level", "assume_role", "pool", "server_side_binding"})


def connect_kwargs(alias: str = "default") -> dict:
    """libpq parameters of a Django database alias."""
    db = settings.DATABASES[alias]
    kwargs = {
        "dbname": db.get("NAME"),
        "user": db.get("USER"),
        "password": db.get("PASSWORD"),
        "host": db.get("HOST"),
        "port": db.get("PORT"),
    }
    kwargs.update({k: v for k, v in (db.get("OPTIONS") or {}).items() if k not in DJANGO_ONLY_OPTIONS})
    kwargs.setdefault("connect_timeout", 5)
    kwargs.setdefault("application_name", "lanechief-fastlookup")
    return {k: v for k, v in kwargs.items() if v not in (None, "")}


class Database:
    """One persistent autocommit connection per thread, with STATEMENTS prepared on it."""

    def __init__(self, kwargs: dict | None = None):
        self.kwargs = kwargs
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set = set()  # every thread's connection, for close_all()

    def connection(self):
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = psycopg2.connect(**(self.kwargs if self.kwargs is not None else connect_kwargs()))
            try:
                conn.autocommit = True
                conn.set_client_encoding("UTF8")
                with conn.cursor() as cur:
                    # A generic plan of these statements cannot use the KNN index (a sequential scan, ~1000× slower);
                    # the planner's own choice avoids it today, this makes sure it always does.
                    cur.execute("SET plan_cache_mode = force_custom_plan")
                    for prepare, _execute in STATEMENTS.values():
                        cur.execute(prepare)
            except BaseException:
                conn.close()
                raise
            self._local.conn = conn
            with self._lock:
                self._open.add(conn)
        return conn

    @staticmethod
    def _close(conn) -> None:
        try:
            conn.close()
        except psycopg2.Error:
            pass

    def discard(self) -> None:
        """Close this thread's connection (the next statement opens a new one)."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._lock:
                self._open.discard(conn)
            self._close(conn)

    def close_all(self) -> None:
        """Close every thread's connection (worker exit, tests)."""
        with self._lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            self._close(conn)

    @property
    def open_connections(self) -> int:
        with self._lock:
            return sum(1 for conn in self._open if not conn.closed)

    def fetch(self, name: str, args: tuple) -> list[tuple]:
        """Rows of one EXECUTE. A broken connection is replaced and the statement retried once; a second failure is
        DatabaseUnavailable (connection-level) or Fallback (anything else: Django answers as it would)."""
        execute = STATEMENTS[name][1]
        for attempt in (1, 2):
            try:
                with self.connection().cursor() as cur:
                    cur.execute(execute, args)
                    return cur.fetchall()
            except psycopg2.Error as exc:
                self.discard()
                if attempt == 1:
                    continue
                if isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError):
                    logger.warning("fast lookup: database unavailable (%s: %s)", type(exc).__name__, exc)
                    raise DatabaseUnavailable from exc
                logger.exception("fast lookup: %s failed; answering through Django", name)
                raise Fallback from exc
        raise AssertionError("unreachable")


def parse_lonlat(params: QueryDict) -> LonLat:
    """common.params.parse_point (common.geo.point_from_params) without building a GEOS point, which costs more than
    the rest of the parsing: the same checks in the same order, so the same messages."""
    lat = parse_number(params.get("lat"), "lat")
    lon = parse_number(params.get("lon"), "lon")
    return to_wgs84(lon, lat, params.get("coordsys"))


def nearest(params: QueryDict, db: Database) -> dict:
    """lanes.api.LaneViewSet.nearest."""
    point = parse_lonlat(params)
    within = parse_within(params.get("within"))
    limit = parse_limit(params.get("limit"))
    args = nearest_params(point.lon, point.lat, within_m=within.m, limit=limit)
    rows = db.fetch("lanechief_nearest", tuple(args[name] for name in NEAREST_ARGS))
    return {"point": {"lon": point.lon, "lat": point.lat}, "within_m": within.m, "lanes": nearest_rows(rows)}


def areas_at(params: QueryDict, db: Database) -> dict:
    """grid.api.AreaViewSet.at."""
    point = parse_lonlat(params)
    rows = db.fetch("lanechief_areas_at", (point.lon, point.lat))
    return {"point": {"lon": point.lon, "lat": point.lat}, "areas": area_rows(rows)}


# path → (handler, the DRF viewset and action it stands for)
ROUTES = {
    "/api/lanes/nearest/": (nearest, "lanes.api.LaneViewSet", "nearest"),
    "/api/areas/at/": (areas_at, "grid.api.AreaViewSet", "at"),
}


def _subclasses(classes, bases) -> bool:
    classes = list(classes)
    return len(classes) == len(bases) and all(issubclass(c, b) for c, b in zip(classes, bases, strict=True))


def _view_headers(path: str) -> dict | None:
    """DRF's default response headers of the view `path` resolves to (APIView.default_response_headers), or None
    when the view is not configured the way this module reproduces."""
    from rest_framework.authentication import BasicAuthentication, SessionAuthentication
    from rest_framework.negotiation import DefaultContentNegotiation
    from rest_framework.permissions import AllowAny
    from rest_framework.renderers import BrowsableAPIRenderer

    _handler, cls_path, action = ROUTES[path]
    match = resolve(path)
    cls, actions = getattr(match.func, "cls", None), getattr(match.func, "actions", None)
    if cls is None or f"{cls.__module__}.{cls.__qualname__}" != cls_path or actions is None:
        return None
    if actions.get("get") != action or set(actions) - {"get", "head"}:
        return None
    actions = {**actions, "head": actions.get("head", actions["get"])}  # what DRF's ViewSet.as_view adds per request
    view = cls(**getattr(match.func, "initkwargs", {}))
    view.action_map = actions
    for method, name in actions.items():
        setattr(view, method, getattr(view, name))
    view.action = action
    handler = getattr(cls, action)
    kwargs = getattr(handler, "kwargs", {})
    expected = (
        list(kwargs.get("renderer_classes", cls.renderer_classes)) == [JSONRenderer, BrowsableAPIRenderer],
        # subclasses too (common.access.BasicAuthentication refuses malformed credentials): a request with an
        # Authorization header or a session cookie is Django's anyway
        _subclasses(
            kwargs.get("authentication_classes", cls.authentication_classes),
            [SessionAuthentication, BasicAuthentication],
        ),
        list(kwargs.get("permission_classes", cls.permission_classes)) == [AllowAny],
        not list(kwargs.get("throttle_classes", cls.throttle_classes)),
        cls.versioning_class is None,
        cls.content_negotiation_class is DefaultContentNegotiation,
    )
    if not all(expected):
        return None
    return {"Allow": ", ".join(view.allowed_methods), "Vary": "Accept"}


class FastLookups:
    """WSGI middleware: answers ROUTES itself, passes every other request to `django_app` (Django's WSGIHandler)."""

    def __init__(self, django_app, *, db: Database | None = None):
        self.django = django_app
        self.db = db or Database()
        self._ready = False
        self._lock = threading.Lock()
        self.routes: dict = {}
        self.disabled_reason = ""
        # quick-path key → (language, headers with Content-Length and the CSP header as None placeholders)
        self._quick_headers: dict = {}
        self._quick_ok = False
        self._csp_template: str | None = None
        from django.core.signals import setting_changed

        setting_changed.connect(self._settings_changed)

    def _settings_changed(self, **kwargs) -> None:
        self._quick_headers = {}
        self._quick_ok = self._quick_allowed()
        self._csp_template = None

    @staticmethod
    def _quick_allowed() -> bool:
        """Whether the hooks' headers depend on nothing but the quick key (no User-Agent rules)."""
        return not getattr(settings, "DISALLOWED_USER_AGENTS", None)

    # --- set-up (lazily: the URL configuration and settings must be importable) ---------------------------------

    def _setup(self) -> None:
        with self._lock:
            if self._ready:
                return
            try:
                self._request_hooks, self._response_hooks, self._csp = self._middleware_hooks()
                for path, (handler, _cls, _action) in ROUTES.items():
                    refusing = [mw for mw in settings.MIDDLEWARE if mw in PASS_THROUGH and not PASS_THROUGH[mw](path)]
                    headers = None if refusing else _view_headers(path)
                    if headers is None:
                        why = f"middleware {', '.join(refusing)} acts on it" if refusing else "its view differs"
                        logger.warning("fast lookup: %s is served by Django (%s)", path, why)
                        continue
                    self.routes[path] = (handler, headers)
            except _Unknown as exc:
                self.disabled_reason = str(exc)
                logger.warning("fast lookup disabled: %s", exc)
                self.routes = {}
            self._quick_ok = self._quick_allowed()
            self._csp_template = None
            self._ready = True

    def _middleware_hooks(self):
        request_hooks, response_hooks = [], []
        for path in settings.MIDDLEWARE:
            if path in PASS_THROUGH:
                continue
            if path in EMULATED:
                if path == SESSION and "django.contrib.auth.middleware.AuthenticationMiddleware" in settings.MIDDLEWARE:
                    if settings.SESSION_SAVE_EVERY_REQUEST:
                        raise _Unknown("SESSION_SAVE_EVERY_REQUEST is on")
                    response_hooks.append(_session_response)
                continue
            if path not in HOOK_MIDDLEWARE:
                raise _Unknown(f"middleware {path} is not known to common.fastlookup")
            mw = import_string(path)(lambda request: None)
            if hasattr(mw, "process_request"):
                request_hooks.append(mw.process_request)
            if hasattr(mw, "process_response"):
                response_hooks.append(mw.process_response)
        response_hooks.reverse()
        return request_hooks, response_hooks, CSP in settings.MIDDLEWARE

    @property
    def enabled_paths(self) -> list[str]:
        self._ready or self._setup()
        return list(self.routes)

    # --- serving ----------------------------------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("PATH_INFO") not in ROUTES:
            return self.django(environ, start_response)
        self._ready or self._setup()
        route = self.routes.get(environ["PATH_INFO"])
        if route is None:
            return self.django(environ, start_response)
        key = self._quick_key(environ)
        if key is not None:
            entry = self._quick_headers.get(key)
            if entry is not None:
                answer = self._quick(environ, route, *entry)
                if answer is not None:
                    headers, body = answer
                    start_response("200 OK", headers)
                    return [body]
        previous = translation.get_language()
        language = None
        try:
            response = self._respond(WSGIRequest(dict(environ)), *route)
            language = translation.get_language()
        except Fallback:
            response = None
        finally:
            translation.activate(previous) if previous else translation.deactivate()
        if response is None:
            return self.django(environ, start_response)
        headers = [*response.items(), *(("Set-Cookie", c.output(header="")) for c in response.cookies.values())]
        if key is not None and response.status_code == 200 and not response.cookies:
            self._remember(key, language, headers)
        start_response(f"{response.status_code} {response.reason_phrase}", headers)
        return [response.content]

    # --- answering again with remembered headers ------------------------------------------------------------------

    def _quick_key(self, environ) -> tuple | None:
        """What the middleware hooks' headers of a 200 depend on, or None when the request has more (cookies: CSRF
        and language; an Authorization header or Accept header the full path sends to Django)."""
        if not self._quick_ok or "HTTP_COOKIE" in environ or "HTTP_AUTHORIZATION" in environ:
            return None
        proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
        return (
            environ["PATH_INFO"],
            environ.get("HTTP_HOST"),
            environ.get("SERVER_NAME"),
            environ.get("SERVER_PORT"),
            environ.get("wsgi.url_scheme"),
            environ.get(proxy[0]) if proxy else None,
            environ.get("HTTP_X_FORWARDED_HOST"),
            environ.get("HTTP_X_FORWARDED_PORT"),
            environ.get("HTTP_ACCEPT_LANGUAGE"),
            environ.get("HTTP_ACCEPT"),
        )

    def _remember(self, key: tuple, language: str | None, headers: list[tuple[str, str]]) -> None:
        from common.csp import HEADER

        marked = [(name, None if name in ("Content-Length", HEADER) else value) for name, value in headers]
        if len(self._quick_headers) >= QUICK_ENTRIES:
            self._quick_headers = {}
        self._quick_headers[key] = (language, marked)

    def _csp_value(self) -> str:
        template = self._csp_template
        if template is None:
            from common.csp import policy

            template = self._csp_template = policy(CSP_NONCE_MARK)
        return template.replace(CSP_NONCE_MARK, secrets.token_urlsafe(18))

    def _quick(self, environ, route, language, marked) -> tuple[list, bytes] | None:
        """The 200 answer with remembered headers, or None (anything but a 200: the full path answers it)."""
        handler = route[0]
        try:
            params = QueryDict(environ.get("QUERY_STRING", ""))
        except Exception:  # noqa: BLE001 - e.g. TooManyFieldsSent: the full path decides
            return None
        if "format" in params:
            return None
        previous = translation.get_language()
        if language and language != previous:
            translation.activate(language)
        try:
            data = handler(params, self.db)
        except Exception:  # noqa: BLE001 - bad input, outage, fallback: the full path answers as it would
            return None
        finally:
            if language and language != previous:
                translation.activate(previous) if previous else translation.deactivate()
        body = JSONRenderer().render(data)
        headers = [
            (name, value if value is not None else (str(len(body)) if name == "Content-Length" else self._csp_value()))
            for name, value in marked
        ]
        return headers, body

    def _eligible(self, request) -> None:
        meta = request.META
        if "HTTP_AUTHORIZATION" in meta:
            raise Fallback  # BasicAuthentication would check it (401 for bad credentials)
        accept = meta.get("HTTP_ACCEPT")
        if accept is not None and not {part.strip() for part in accept.split(",")} <= JSON_ACCEPTS:
            raise Fallback  # the browsable API or a 406 may be the answer
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            raise Fallback  # a session to load (and maybe a user): Django's queries, not ours
        try:
            params = request.GET
        except Exception:  # noqa: BLE001 - e.g. TooManyFieldsSent: Django answers it
            raise Fallback from None
        if "format" in params:
            raise Fallback  # DRF's URL format override
        return params

    def _respond(self, request, handler, view_headers) -> HttpResponse:
        params = self._eligible(request)
        nonce = secrets.token_urlsafe(18) if self._csp else ""
        for hook in self._request_hooks:
            try:
                if hook(request) is not None:
                    raise Fallback  # a redirect or refusal of a middleware: Django gives it
            except Fallback:
                raise
            except Exception:  # noqa: BLE001 - DisallowedHost, PermissionDenied…: Django's answer
                raise Fallback from None
        try:
            data, status = handler(params, self.db), 200
            drf = True
        except (CoordinateError, APIException) as exc:
            error = exception_handler(exc, {"request": request, "view": None})
            data, status, drf = error.data, error.status_code, True
        except DatabaseUnavailable:
            from common.resilience import unavailable_response

            response, drf = unavailable_response(request), False
        if drf:
            response = HttpResponse(JSONRenderer().render(data), status=status, content_type="application/json")
            vary = view_headers["Vary"]
            patch_vary_headers(response, [vary])
            response["Allow"] = view_headers["Allow"]
        for hook in self._response_hooks:
            response = hook(request, response)
        if self._csp:
            from common.csp import HEADER, policy

            if getattr(settings, "CSP_ENABLED", True) and HEADER not in response:
                response[HEADER] = policy(nonce)
        if response.status_code >= 400:
            log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        return response


class _Unknown(Exception):
    pass
