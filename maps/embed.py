"""Embed a folium map in a Django template: its <head> part, its <div> and its <script>, rendered separately so the
page keeps its own layout (no iframe, no data: URL). The page's Content-Security-Policy (common/csp.py) runs only
inline blocks with the request's nonce: every <script>/<style> of the header gets it here, and templates put the map
script in `<script nonce="{{ csp_nonce }}">`."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.safestring import SafeString, mark_safe

from common.csp import add_nonce


@dataclass(frozen=True)
class RenderedMap:
    name: str  # the JavaScript variable holding the L.map
    header: SafeString
    html: SafeString
    script: SafeString


def render_map(fmap, *, nonce: str | None = None) -> RenderedMap:
    """`nonce`: the request's CSP nonce (default: that of the request being served)."""
    figure = fmap.get_root()
    figure.render()
    return RenderedMap(
        name=fmap.get_name(),
        header=mark_safe(add_nonce(figure.header.render(), nonce)),  # noqa: S308 - folium output built from our own data
        html=mark_safe(figure.html.render()),  # noqa: S308
        script=mark_safe(figure.script.render()),  # noqa: S308
    )
