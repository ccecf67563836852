"""Embed a folium map in a Django template: its <head> part, its <div> and its <script>, rendered separately so the
page keeps its own layout (no iframe, no data: URL)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class RenderedMap:
    name: str  # the JavaScript variable holding the L.map
    header: SafeString
    html: SafeString
    script: SafeString


def render_map(fmap) -> RenderedMap:
    figure = fmap.get_root()
    figure.render()
    return RenderedMap(
        name=fmap.get_name(),
        header=mark_safe(figure.header.render()),  # noqa: S308 - folium output built from our own data
        html=mark_safe(figure.html.render()),  # noqa: S308
        script=mark_safe(figure.script.render()),  # noqa: S308
    )
