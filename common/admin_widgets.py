"""Geometry editing in the admin without the internet.

Django's GIS admin widget (django.contrib.gis.forms.OSMWidget, Django 5.2) loads OpenLayers 7.2.2 from a CDN
(cdn.jsdelivr.net) and draws OpenStreetMap tiles. Here OpenLayers is served from our static files
(static/vendor/ol/, see static/vendor/README.md) and the base layer is optional:

- settings.MAP_TILES == "none" (the default): no base layer; the geometry is drawn on a plain background and is
  still editable (draw, modify, delete) — the admin works on a machine with no network at all;
- "osm", "tianditu", a URL template: those tiles (the same presets as the folium maps, maps.offline.tile_config).
  Tiles in another datum (GCJ-02, e.g. "amap") would put every vertex hundreds of metres off the street it is
  drawn on, so the editor then shows no tiles rather than misleading ones.

Use OfflineGISModelAdmin (or OfflineGeoAdminMixin) for every model with a geometry field.
"""

from __future__ import annotations

import json
from functools import cached_property

from django.contrib import admin
from django.contrib.gis.admin.options import GeoModelAdminMixin
from django.contrib.gis.forms import OSMWidget
from django.template import engines
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

OL_VERSION = "7.2.2"  # the version Django 5.2's OpenLayersWidget asks for
OL_JS = "vendor/ol/ol.js"
OL_CSS = "vendor/ol/ol.css"

# Default view when a form has no geometry yet (an "add" page): the demo data's extent centre. Admins of a
# real deployment override it with gis_widget_kwargs = {"attrs": {"default_lon": …, "default_lat": …}}.
DEFAULT_LON = 121.4737
DEFAULT_LAT = 31.2304
DEFAULT_ZOOM = 14

# Django's own template, with only the base layer replaced (the map, drawing and serialisation are Django's).
_TEMPLATE = """{% extends "gis/openlayers-osm.html" %}
{% block base_layer %}
{% if tiles %}
var base_layer = new ol.layer.Tile({source: new ol.source.XYZ({url: {{ tiles.url_js|safe }},
  attributions: {{ tiles.attribution_js|safe }}, maxZoom: 19, crossOrigin: null})});
{% else %}
/* MAP_TILES = "none": an empty vector layer as the base, so nothing is fetched (Django's MapWidget would fall
   back to OpenStreetMap tiles if no base layer were given). */
var base_layer = new ol.layer.Vector({source: new ol.source.Vector()});
document.getElementById("{{ id }}_map").classList.add("dj_map_blank");
{% endif %}
{% endblock %}
"""


def _tile_config() -> dict | None:
    from maps.offline import tile_config  # one list of tile presets for every map of the project

    tiles = tile_config()
    if not tiles or tiles.get("datum", "wgs84") != "wgs84" or not tiles.get("url"):
        return None
    return tiles


class OfflineMapWidget(OSMWidget):
    """OSMWidget with OpenLayers from our static files and an optional base layer (settings.MAP_TILES)."""

    default_lon = DEFAULT_LON
    default_lat = DEFAULT_LAT
    default_zoom = DEFAULT_ZOOM

    class Media:
        extend = False  # replace OSMWidget's CDN assets instead of adding to them
        css = {"all": (OL_CSS, "gis/css/ol3.css", "vendor/ol/admin-map.css")}
        js = (OL_JS, "gis/js/OLMapWidget.js")

    @cached_property
    def _template(self):
        return engines["django"].from_string(_TEMPLATE)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        tiles = _tile_config()
        context["tiles"] = (
            {
                # JSON string literals are valid JavaScript; "</" is escaped so a URL cannot close the <script>.
                "url_js": json.dumps(tiles["url"]).replace("</", "<\\/"),
                "attribution_js": json.dumps(tiles.get("attribution") or "").replace("</", "<\\/"),
            }
            if tiles
            else None
        )
        return context

    def _render(self, template_name, context, renderer=None):
        html = self._template.render(context)
        if context.get("tiles") is None:
            html += format_html(
                '<p class="help dj_map_note">{}</p>', _("未配置底图（MAP_TILES=none）：仅显示几何图形，仍可编辑。")
            )
        return mark_safe(html)  # rendered by the Django template engine, which escapes the values


class OfflineGeoAdminMixin(GeoModelAdminMixin):
    """Every geometry field edited with OfflineMapWidget."""

    gis_widget = OfflineMapWidget
    gis_widget_kwargs: dict = {}


class OfflineGISModelAdmin(OfflineGeoAdminMixin, admin.ModelAdmin):
    """Base ModelAdmin for geographic models: maps that load nothing from the internet."""
