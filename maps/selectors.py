"""Reads for the map pages."""

from __future__ import annotations

from django.contrib.gis.db.models import Extent
from django.core.cache import cache

from lanes.models import Lane

SEARCH_LIMIT = 30


def lanes_matching(query: str, *, limit: int = SEARCH_LIMIT):
    """Lanes whose name contains `query` (Chinese partial match), with their community, name order."""
    query = (query or "").strip()
    if not query:
        return Lane.objects.none()
    return (
        Lane.objects.filter(name__icontains=query)
        .select_related("community")
        .only("id", "name", "kind", "community__name", "community__code")
        .order_by("name", "community__code", "id")[:limit]
    )


def lanes_extent() -> tuple[float, float, float, float] | None:
    """(minlon, minlat, maxlon, maxlat) of all lanes, cached for a few minutes."""
    extent = cache.get("maps:lanes_extent")
    if extent is None:
        extent = Lane.objects.aggregate(e=Extent("geom"))["e"]
        cache.set("maps:lanes_extent", extent, 300)
    return extent
