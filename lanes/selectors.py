"""Reads and spatial queries on lanes."""

from django.contrib.gis.db.models.functions import GeometryDistance
from django.contrib.gis.geos import Point
from django.contrib.gis.measure import D

from common.geo import GeogDistance

# How many KNN candidates (by `<->`, in degrees) are re-ranked by metric distance per result wanted.
# In degrees, east-west distances look longer than they are by 1/cos(latitude) (1.17 at 31°N), so a
# shortlist of 8 × limit + 16 always contains the metric nearest in real street networks.
SHORTLIST_FACTOR = 8
SHORTLIST_MIN = 16


def nearest_lane_ids_sql(queryset, point: Point, *, within: D | None = None, limit: int = 5):
    from lanes.models import Lane

    shortlist = Lane.objects.order_by(GeometryDistance("geom", point)).values("pk")[
        : limit * SHORTLIST_FACTOR + SHORTLIST_MIN
    ]
    qs = queryset.filter(pk__in=shortlist).annotate(distance_m=GeogDistance("geom", point))
    if within is not None:
        qs = qs.filter(distance_m__lte=within.m)
    return qs.order_by("distance_m", "pk")[:limit]
