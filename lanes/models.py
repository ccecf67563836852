from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.gis.geos import Point
from django.contrib.gis.measure import D
from django.contrib.postgres.fields import ArrayField
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from common.geo import GeogDistance, GeogLength


class LaneKind(models.TextChoices):
    MAIN = "main", _("主干道")
    SECONDARY = "secondary", _("次干道")
    BACK = "back", _("背街小巷")


class LaneQuerySet(models.QuerySet):
    def nearest(self, point: Point, *, within: D | None = None, limit: int = 5):
        """Lanes nearest to `point`, with `distance_m` in metres on the spheroid.

        KNN on the GiST index shortlists candidates (`<->` in degrees is only used to shortlist: it
        distorts east-west against north-south); the shortlist is then ordered by the true metric
        distance. `within` bounds the search radius in metres. One SQL statement.
        """
        from lanes.selectors import nearest_lane_ids_sql  # local: keeps the SQL in one place

        return nearest_lane_ids_sql(self, point, within=within, limit=limit)

    def with_distance(self, point: Point):
        return self.annotate(distance_m=GeogDistance("geom", point))


class Lane(models.Model):
    """A lane (街巷): a named street segment that people patrol, usually one named street between two
    cross streets or the whole named street inside one community. Several OSM ways (split at every
    junction, one per direction on dual carriageways) make one lane. Its grid cells (LaneCell) are
    derived from the geometry by database triggers, so they stay correct whoever changes it."""

    name = models.CharField(_("街巷名称"), max_length=200)
    name_zh = models.CharField(_("中文名"), max_length=200, blank=True)
    kind = models.CharField(_("类型"), max_length=16, choices=LaneKind.choices, default=LaneKind.BACK)
    geom = models.MultiLineStringField(_("走向"), srid=settings.GEO_SRID)
    length_m = models.GeneratedField(
        expression=GeogLength("geom"), output_field=models.FloatField(), db_persist=True, verbose_name=_("长度(米)")
    )
    community = models.ForeignKey(
        "grid.Area",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="lanes",
        verbose_name=_("所属社区"),
        limit_choices_to={"level": "community"},
    )
    grid_cells = models.ManyToManyField("grid.Area", through="LaneCell", related_name="cell_lanes", blank=True)
    # Identity for idempotent imports: e.g. "osm:南京西路:3" (source, name, component); unique when set.
    source_key = models.CharField(_("来源标识"), max_length=300, blank=True)
    osm_way_ids = ArrayField(models.BigIntegerField(), default=list, blank=True, verbose_name=_("OSM路段"))
    tags = models.JSONField(_("属性"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LaneQuerySet.as_manager()

    class Meta:
        verbose_name = _("街巷")
        verbose_name_plural = _("街巷")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["source_key"], condition=~Q(source_key=""), name="lane_source_key_unique"),
            models.CheckConstraint(condition=Q(name__regex=r"\S"), name="lane_name_not_blank"),
            models.CheckConstraint(condition=Q(geom__isvalid=True), name="lane_geom_valid"),
        ]
        indexes = [models.Index(fields=["name"]), models.Index(fields=["kind"])]

    def __str__(self) -> str:
        return self.name


class LaneCell(models.Model):
    """Which unit grid cells a lane runs through. Maintained by triggers on lanes_lane and grid_area
    (see migration lanes 0002); never written by application code."""

    lane = models.ForeignKey(Lane, models.CASCADE, related_name="cell_links")
    cell = models.ForeignKey("grid.Area", models.CASCADE, related_name="lane_links")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["lane", "cell"], name="lanecell_unique")]
