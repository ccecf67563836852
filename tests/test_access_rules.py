"""Every endpoint declares who may call it, and anonymous access is limited to an allow-list.

The whole URL configuration is walked (django.urls.get_resolver(), recursively, DRF routers included). A view passes
when its rule is explicit:
- DRF views: `permission_classes` set on the view class (or an `@action`), or `get_permissions` overridden —
  never the global DEFAULT_PERMISSION_CLASSES;
- plain Django views: login_required / permission_required, common.access.login_required_json or
  common.access.public_view; the Django admin's own wrapper (staff only);
- views of third-party packages we do not write: THIRD_PARTY below, one line each with its rule.

Which endpoints anonymous users reach is then computed from those rules (DRF: the permission classes asked with an
anonymous request for every method and action) and compared with ANONYMOUS_ALLOWED in both directions.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from common.access import LOGIN, PUBLIC, declared_rule

STAFF = "staff"  # the admin site's own check: active staff users only

# Views of Django and other packages, by "module.qualname" of the view function or class, with their rule.
THIRD_PARTY = {
    "django.contrib.admin.sites.AdminSite.login": PUBLIC,
    "django.contrib.admin.sites.AdminSite.catch_all_view": PUBLIC,  # redirects; what it reaches is checked there
    "django.contrib.auth.views.LoginView": PUBLIC,
    "django.contrib.auth.views.LogoutView": PUBLIC,
    "django.contrib.auth.views.PasswordChangeView": LOGIN,  # login_required on dispatch
    "django.contrib.auth.views.PasswordChangeDoneView": LOGIN,
    "django.contrib.auth.views.PasswordResetView": PUBLIC,
    "django.contrib.auth.views.PasswordResetDoneView": PUBLIC,
    "django.contrib.auth.views.PasswordResetConfirmView": PUBLIC,  # needs the e-mailed token
    "django.contrib.auth.views.PasswordResetCompleteView": PUBLIC,
    "django.views.i18n.set_language": PUBLIC,
}

# Endpoints anonymous users may reach: URL name (admin views under "admin:") → methods ("*": a plain Django view,
# whatever it answers). Public lookup pages and API, public report, tracking, Open311, login, static, health.
ANONYMOUS_ALLOWED = {
    "healthz": "*",
    "schema": {"GET"},
    "api-docs": {"GET"},
    "api-redoc": {"GET"},
    "area-list": {"GET"},
    "area-detail": {"GET"},
    "area-at": {"GET"},
    "lane-list": {"GET"},
    "lane-detail": {"GET"},
    "lane-nearest": {"GET"},
    "case-list": {"POST"},  # anonymous report (rate-limited); the list itself needs a login
    "case-track": {"GET"},
    "case-categories": {"GET"},
    "stats-ratings": {"POST"},  # a reporter rates their closed case through its tracking code (rate-limited)
    "cases-report": "*",
    "cases-track": "*",
    "home": "*",
    "lookup": "*",
    "lookup-lane": "*",
    "lookup-placard": "*",
    "lookup-api-lanes": "*",
    "lookup-api-nearest": "*",
    "open311-discovery": "*",
    "open311-services": "*",
    "open311-service": "*",
    "open311-requests": "*",  # GET search of public requests; POST needs an api_key
    "open311-updates": "*",  # POST with an api_key
    "open311-request": "*",
    "login": "*",
    "logout": "*",
    "password_reset": "*",
    "password_reset_done": "*",
    "password_reset_confirm": "*",
    "password_reset_complete": "*",
    "set_language": "*",
    "admin:login": "*",
    None: "*",  # the admin's catch-all (unnamed): redirects to the admin login
}

# Views whose file belongs to another engineer and still lacks a declaration: the lead adds the marker (see the
# report) and removes the line; strict xfail flips to a failure as soon as the declaration is there.
PENDING: dict[str, str] = {}


@dataclass(frozen=True)
class Endpoint:
    route: str
    name: str | None  # namespaced, e.g. "admin:index"
    callback: object

    @property
    def drf_class(self):
        return getattr(self.callback, "cls", None)

    @property
    def key(self) -> str:
        target = getattr(self.callback, "view_class", None) or self.callback
        return f"{target.__module__}.{target.__qualname__}"

    def __str__(self):
        return f"{self.route} ({self.name})"


def endpoints() -> list[Endpoint]:
    found: list[Endpoint] = []

    def walk(patterns, prefix: str, namespace: str | None):
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                ns = namespace
                if p.namespace:
                    ns = f"{namespace}:{p.namespace}" if namespace else p.namespace
                walk(p.url_patterns, route, ns)
            elif isinstance(p, URLPattern):
                name = p.name and (f"{namespace}:{p.name}" if namespace else p.name)
                found.append(Endpoint(route, name, p.callback))

    walk(get_resolver().url_patterns, "/", None)
    return found


ENDPOINTS = endpoints()


def _explicit_drf(ep: Endpoint) -> bool:
    if "permission_classes" in getattr(ep.callback, "initkwargs", {}):
        return True
    for klass in ep.drf_class.__mro__:
        if klass is APIView:
            break
        if "permission_classes" in klass.__dict__ or "get_permissions" in klass.__dict__:
            return True
    return False


# The admin's wrappers: admin_view itself, and the `wrap` of AdminSite/ModelAdmin.get_urls that calls it per request.
ADMIN_WRAPPERS = {
    "AdminSite.admin_view.<locals>.inner",
    "AdminSite.get_urls.<locals>.wrap.<locals>.wrapper",
    "ModelAdmin.get_urls.<locals>.wrap.<locals>._view_wrapper",
    "ModelAdmin.get_urls.<locals>.wrap.<locals>.wrapper",
}


def _admin_wrapped(callback) -> bool:
    """Whether the admin's staff check wraps `callback`: through `__wrapped__` and through the functions held in
    closures (admin_view's update_wrapper points `__wrapped__` past its csrf_protect/never_cache layers)."""
    todo, seen = [callback], set()
    while todo and len(seen) < 50:
        fn = todo.pop()
        if id(fn) in seen or not callable(fn):
            continue
        seen.add(id(fn))
        code = getattr(fn, "__code__", None)  # update_wrapper copies __qualname__, not the code's own name
        if code is not None and code.co_qualname in ADMIN_WRAPPERS:
            return True
        if getattr(fn, "__wrapped__", None) is not None:
            todo.append(fn.__wrapped__)
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if callable(value) and getattr(value, "__code__", None) is not None:
                todo.append(value)
    return False


def rule_of(ep: Endpoint) -> str | None:
    """The declared rule of a non-DRF view, or None when it has none."""
    if ep.key in THIRD_PARTY:
        return THIRD_PARTY[ep.key]
    if _admin_wrapped(ep.callback):
        return STAFF
    # Admin views built by `self.admin_site.admin_view(...)` for ModelAdmin are also caught above.
    return declared_rule(ep.callback)


def drf_anonymous_methods(ep: Endpoint) -> set[str]:
    """The HTTP methods of a DRF endpoint whose permission classes let an anonymous user through."""
    cls, callback = ep.drf_class, ep.callback
    actions = getattr(callback, "actions", None)
    if actions:
        # DRF maps HEAD to the GET action itself where the router did not: it follows GET's rule
        methods = {m.upper(): a for m, a in actions.items() if m != "head"}
    else:
        methods = {m.upper(): m for m in cls.http_method_names if hasattr(cls, m) and m not in ("options", "head")}
    factory = APIRequestFactory()
    allowed = set()
    for method, action in methods.items():
        request = factory.generic(method, ep.route)
        request.user = AnonymousUser()
        view = cls(**callback.initkwargs)
        view.action = action if actions else None
        view.action_map = actions or {}
        view.request = view.initialize_request(request)
        view.request.user = AnonymousUser()
        view.args, view.kwargs, view.format_kwarg = (), {}, None
        if all(p.has_permission(view.request, view) for p in view.get_permissions()):
            allowed.add(method)
    return allowed


def _id(ep: Endpoint) -> str:
    return f"{ep.route}"


def _params():
    for ep in ENDPOINTS:
        marks = []
        if ep.key in PENDING:
            marks.append(pytest.mark.xfail(strict=True, reason=PENDING[ep.key]))
        yield pytest.param(ep, id=_id(ep), marks=marks)


def test_the_url_configuration_is_walked_completely():
    routes = {ep.route for ep in ENDPOINTS}
    # One of each kind: a DRF router route, a DRF action, an APIView, a plain view, Open311 and the admin.
    for route in (
        "/api/^lanes/$",
        "/^api/cases/(?P<pk>[0-9]+)/accept/$",
        "/api/patrols/<int:pk>/finish/",
        "/lookup/",
        "/open311/v2/^requests\\.(?P<fmt>json|xml)$",
        "/admin/",
    ):
        assert route in routes, route
    assert len(ENDPOINTS) > 150  # the admin alone has several per model


@pytest.mark.parametrize("ep", list(_params()))
def test_every_view_declares_its_access_rule(ep):
    if ep.drf_class is not None:
        assert _explicit_drf(ep), f"{ep}: {ep.key} has no permission_classes of its own (the global default applies)"
    else:
        assert rule_of(ep) is not None, (
            f"{ep}: {ep.key} declares no access rule: add login_required / permission_required, or "
            "common.access.public_view (and list it in ANONYMOUS_ALLOWED)"
        )


def anonymous_access() -> dict[str | None, set[str] | str]:
    """URL name → what anonymous users may call ("*" for a public plain view), from the declared rules."""
    out: dict[str | None, set[str] | str] = {}
    for ep in ENDPOINTS:
        if ep.drf_class is not None:
            methods = drf_anonymous_methods(ep)
            if methods:
                out[ep.name] = methods
        elif rule_of(ep) == PUBLIC or ep.key in PENDING and ep.name in ANONYMOUS_ALLOWED:
            out[ep.name] = "*"
    return out


def test_anonymous_users_reach_only_the_allow_list():
    actual = anonymous_access()
    unexpected = {name: m for name, m in actual.items() if ANONYMOUS_ALLOWED.get(name) != m}
    assert not unexpected, f"anonymous access not in ANONYMOUS_ALLOWED (or with other methods): {unexpected}"
    missing = set(ANONYMOUS_ALLOWED) - set(actual)
    assert not missing, f"ANONYMOUS_ALLOWED lists endpoints that are not public (remove them): {missing}"
