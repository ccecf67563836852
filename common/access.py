"""Every view declares who may call it; tests/test_access_rules.py checks that none relies on a default.

- DRF views: `permission_classes` set on the view (or `get_permissions` overridden), never the global default.
- Plain Django views: `login_required` / `permission_required` (django.contrib.auth), `login_required_json` below
  (for JSON fetched by scripts: 401 instead of a redirect), or `public_view` for pages anyone may open. The
  anonymous allow-list of the test says which public views are expected; a new public view must be added there.

The declaration is recorded on the function (`view.access_rule`), so it survives other decorators (`wraps` copies
`__dict__`) and can be read from the URL configuration.
"""

from __future__ import annotations

from functools import wraps

from django.http import JsonResponse
from django.utils.translation import gettext as _
from rest_framework import authentication
from rest_framework.exceptions import AuthenticationFailed

ACCESS_ATTR = "access_rule"
PUBLIC = "public"
LOGIN = "login"


def public_view(view):
    """Anyone may call this view, logged in or not (what it shows must be public data)."""
    setattr(view, ACCESS_ATTR, PUBLIC)
    return view


def login_required_json(view):
    """Like login_required, but an anonymous request gets 401 JSON (these are fetched by scripts, not browsed)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"detail": _("请先登录")}, status=401)
        return view(request, *args, **kwargs)

    setattr(wrapped, ACCESS_ATTR, LOGIN)
    return wrapped


def declared_rule(view) -> str | None:
    """The access rule declared on a plain Django view function: "public", "login", "permission" or None.

    Looks through the `__wrapped__` chain for `public_view` / `login_required_json` markers and for
    django.contrib.auth's `user_passes_test` wrappers (what login_required and permission_required build)."""
    seen = set()
    fn = view
    while fn is not None and id(fn) not in seen:
        seen.add(id(fn))
        rule = fn.__dict__.get(ACCESS_ATTR) if hasattr(fn, "__dict__") else None
        if rule:
            return rule
        code = getattr(fn, "__code__", None)
        # The code object tells: `wraps` copies __module__ and __qualname__ of the wrapped view onto a wrapper.
        if (
            code is not None
            and code.co_qualname.startswith("user_passes_test.")
            and code.co_filename.endswith("django/contrib/auth/decorators.py")
        ):
            test = _closure_value(fn, "test_func")
            return "permission" if getattr(test, "__name__", "") == "check_perms" else LOGIN
        fn = getattr(fn, "__wrapped__", None)
    return None


def _closure_value(fn, name: str):
    code = fn.__code__
    if fn.__closure__ is None or name not in code.co_freevars:
        return None
    return fn.__closure__[code.co_freevars.index(name)].cell_contents


class BasicAuthentication(authentication.BasicAuthentication):
    """DRF's HTTP Basic authentication (settings.REST_FRAMEWORK), but credentials PostgreSQL cannot hold (a NUL
    character) are a 401, not a 500 from the user lookup (found by fuzzing: Basic credentials "\\x00:x")."""

    def authenticate_credentials(self, userid, password, request=None):
        if "\x00" in userid or "\x00" in password:
            raise AuthenticationFailed(_("用户名或密码无效。"))
        return super().authenticate_credentials(userid, password, request)


def _register_schema_extension():
    from drf_spectacular.authentication import BasicScheme

    class BasicAuthenticationScheme(BasicScheme):  # the OpenAPI basicAuth scheme, as for DRF's own class
        target_class = "common.access.BasicAuthentication"

    return BasicAuthenticationScheme


_register_schema_extension()
