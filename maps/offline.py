"""folium maps that load nothing from the internet: every JS/CSS file folium (and its plugins) would fetch from a
CDN is served from our static files (static/vendor/), and base-map tiles are optional (settings.MAP_TILES).
"""

from __future__ import annotations

import folium
from django.conf import settings
from django.templatetags.static import static
from folium.template import Template

# folium asset name → our static file. Names are folium's own (Map.default_js / default_css and plugins').
LOCAL_ASSETS = {
    "leaflet": "vendor/leaflet/leaflet.js",
    "jquery": "vendor/jquery/jquery.min.js",
    "bootstrap": "vendor/bootstrap/js/bootstrap.bundle.min.js",
    "awesome_markers": "vendor/awesome-markers/leaflet.awesome-markers.js",
    "leaflet_css": "vendor/leaflet/leaflet.css",
    "bootstrap_css": "vendor/bootstrap/css/bootstrap.min.css",
    "awesome_markers_font_css": "vendor/fontawesome/css/all.min.css",
    "awesome_markers_css": "vendor/awesome-markers/leaflet.awesome-markers.css",
    "markerclusterjs": "vendor/markercluster/leaflet.markercluster.js",
    "markerclustercss": "vendor/markercluster/MarkerCluster.css",
    "markerclusterdefaultcss": "vendor/markercluster/MarkerCluster.Default.css",
    "leaflet-heat.js": "vendor/leaflet-heat/leaflet_heat.min.js",
}
# Assets folium loads that our maps do not need (glyph icons, rotated-icon CSS): dropped rather than fetched.
DROPPED = {"glyphicons_css", "awesome_rotate_css"}


# What a map needs when it uses no folium icon markers and no Bootstrap widgets (the public pages): Leaflet alone.
LIGHT_ASSETS = {"leaflet", "leaflet_css"}


def localize(element, *, only: set[str] | None = None) -> None:
    """Point an element's (Map's or plugin's) default_js/default_css at local static files, dropping the rest
    (and, with `only`, every asset not named in it)."""
    for attr in ("default_js", "default_css"):
        assets = getattr(element, attr, None)
        if not assets:
            continue
        local = []
        for name, url in assets:
            if name in DROPPED or (only is not None and name not in only):
                continue
            if name not in LOCAL_ASSETS:
                raise ValueError(f"folium asset {name!r} ({url}) has no local copy in static/vendor/")
            local.append((name, static(LOCAL_ASSETS[name])))
        setattr(element, attr, local)


TILE_PRESETS = {
    "osm": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "© OpenStreetMap contributors", "wgs84"),
    "tianditu": (
        "https://t0.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default"
        "&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=%(key)s",
        "© 天地图",
        "wgs84",
    ),
    "amap": (
        "https://webrd01.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        "© 高德地图",
        "gcj02",
    ),
}


def tile_config() -> dict | None:
    """The configured base layer: None (no tiles), or url/attribution and the datum overlays must be shifted to."""
    value = (settings.MAP_TILES or "none").strip()
    if value.lower() == "none":
        return None
    if value.lower() in TILE_PRESETS:
        url, attribution, datum = TILE_PRESETS[value.lower()]
        if value.lower() == "tianditu":
            url = url % {"key": settings.TIANDITU_KEY}
        return {"url": url, "attribution": attribution, "datum": datum}
    return {"url": value, "attribution": getattr(settings, "MAP_TILES_ATTRIBUTION", "") or "tiles", "datum": "wgs84"}


class EmbeddedMap(folium.Map):
    """folium.Map for embedding in our own pages: its header keeps the map's own size rules but not folium's
    page-wide ones (html/body at 100 % height, a viewport that forbids zooming the page)."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
            <style>
                #{{ this.get_name() }} {
                    position: {{this.position}};
                    width: {{this.width[0]}}{{this.width[1]}};
                    height: {{this.height[0]}}{{this.height[1]}};
                    left: {{this.left[0]}}{{this.left[1]}};
                    top: {{this.top[0]}}{{this.top[1]}};
                }
                .leaflet-container { font-size: {{this.font_size}}; }
            </style>
        {% endmacro %}

        {% macro html(this, kwargs) %}
            <div class="folium-map" id={{ this.get_name()|tojson }} ></div>
        {% endmacro %}

        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.map(
                {{ this.get_name()|tojson }},
                {
                    center: {{ this.location|tojson }},
                    crs: L.CRS.{{ this.crs }},
                    ...{{this.options|tojavascript}}
                }
            );
            {%- if this.control_scale %}
            L.control.scale({imperial: false}).addTo({{ this.get_name() }});
            {%- endif %}
        {% endmacro %}
        """
    )


def offline_map(*, light: bool = False, **kwargs) -> folium.Map:
    """A folium Map with local assets and the configured (or no) base layer, for embedding (maps.embed). Without
    tiles the map still draws every overlay on a plain background, so it stays usable when no tile server answers.
    `light`: Leaflet only (no jQuery, Bootstrap or icon fonts) — for pages that draw their own overlays."""
    tiles = tile_config()
    kwargs.setdefault("control_scale", True)
    max_zoom = kwargs.pop("max_zoom", 19)
    min_zoom = kwargs.pop("min_zoom", None)
    fmap = EmbeddedMap(tiles=None, **kwargs)
    # folium passes the zoom limits only to its own tile layer; the map needs them too (marker clustering does)
    fmap.options["max_zoom"] = max_zoom
    if min_zoom is not None:
        fmap.options["min_zoom"] = min_zoom
    localize(fmap, only=LIGHT_ASSETS if light else None)
    if tiles:
        folium.TileLayer(tiles=tiles["url"], attr=tiles["attribution"], name="底图", max_zoom=max_zoom).add_to(fmap)
    return fmap
