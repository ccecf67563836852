"""Content-Security-Policy with a fresh nonce per request.

Every response gets a policy that lets the browser run only our own files and the inline <script>/<style> blocks
that carry this request's nonce (folium's map script, our page styles): an injected <script> has no nonce and does
not run. Nothing remote is allowed, except the base-map tile server named by settings.MAP_TILES (images only).
Style *attributes* stay allowed (style-src-attr): Leaflet, the admin and our legends set them, and they cannot run
code.

Templates rendered with a request read the nonce as `{{ csp_nonce }}` (context processor `common.csp.nonce`);
templates rendered without one (form widgets) use `{% load csp %}{% csp_nonce %}`, which reads the nonce of the
request being served from a context variable.
"""

from __future__ import annotations

import contextvars
import re
import secrets
from urllib.parse import urlsplit

from django import template
from django.conf import settings
from django.utils.functional import SimpleLazyObject

HEADER = "Content-Security-Policy"
_current: contextvars.ContextVar[str] = contextvars.ContextVar("csp_nonce", default="")


def current_nonce() -> str:
    """The nonce of the request being served ("" outside a request)."""
    return _current.get()


def tile_origins() -> list[str]:
    """Origins the configured base map (settings.MAP_TILES) loads its tiles from; `{s}` subdomains become `*`."""
    from maps.offline import tile_config

    tiles = tile_config()
    if not tiles or not tiles.get("url"):
        return []
    parts = urlsplit(tiles["url"].replace("{s}", "__sub__"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return []
    host = parts.netloc.replace("__sub__", "*")
    return [f"{parts.scheme}://{host}"]


# Pages whose third-party bundle injects <style> elements before it can be given the nonce (ReDoc's style loader runs
# when its file loads): inline *styles* are allowed there; scripts still need the nonce.
INLINE_STYLE_PATHS = ("/api/redoc/",)


def policy(nonce: str, *, inline_styles: bool = False) -> str:
    """The Content-Security-Policy header value for a response whose inline blocks carry `nonce`."""
    images = ["'self'", "data:", "blob:", *tile_origins()]
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", f"'nonce-{nonce}'"],
        # with a nonce listed, browsers ignore 'unsafe-inline': so it is one or the other
        "style-src": ["'self'", "'unsafe-inline'" if inline_styles else f"'nonce-{nonce}'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": images,
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


class CSPMiddleware:
    """Sets request.csp_nonce and the policy header (settings.CSP_ENABLED, default on). A response that already has
    a policy keeps it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        nonce = secrets.token_urlsafe(18)
        request.csp_nonce = nonce
        token = _current.set(nonce)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        if getattr(settings, "CSP_ENABLED", True) and HEADER not in response:
            response[HEADER] = policy(nonce, inline_styles=request.path.startswith(INLINE_STYLE_PATHS))
        return response


def nonce(request) -> dict:
    """Context processor: `csp_nonce` for templates."""
    return {"csp_nonce": SimpleLazyObject(lambda: getattr(request, "csp_nonce", "") or current_nonce())}


_TAG = re.compile(r"<(script|style)(?=[\s>])(?![^>]*\snonce=)", re.IGNORECASE)


def add_nonce(html: str, value: str | None = None) -> str:
    """`html` (markup we generate ourselves, e.g. folium's header) with the nonce on every <script> and <style>."""
    value = current_nonce() if value is None else value
    if not value:
        return html
    return _TAG.sub(lambda m: f'<{m.group(1)} nonce="{value}"', html)


register = template.Library()


@register.simple_tag(name="csp_nonce")
def csp_nonce_tag() -> str:
    return current_nonce()
