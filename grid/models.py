from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.gis.geos import Point
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from common.geo import GeogArea


class Level(models.TextChoices):
    DISTRICT = "district", _("区")
    STREET_OFFICE = "street_office", _("街道")
    COMMUNITY = "community", _("社区")
    GRID_CELL = "grid_cell", _("网格")


# Code length per level under the unit-grid rule (DB11/T 2157-2023 style):
# 6-digit district (GB/T 2260) + 3-digit street office + 3-digit community + 3-digit grid sequence.
CODE_LENGTH = {Level.DISTRICT: 6, Level.STREET_OFFICE: 9, Level.COMMUNITY: 12, Level.GRID_CELL: 15}
PARENT_LEVEL = {
    Level.DISTRICT: None,
    Level.STREET_OFFICE: Level.DISTRICT,
    Level.COMMUNITY: Level.STREET_OFFICE,
    Level.GRID_CELL: Level.COMMUNITY,
}
LEVEL_ORDER = [Level.DISTRICT, Level.STREET_OFFICE, Level.COMMUNITY, Level.GRID_CELL]


class AreaQuerySet(models.QuerySet):
    def covering(self, point: Point):
        """Areas whose polygon contains `point` (WGS-84), outermost level first. One indexed statement."""
        return self.filter(geom__intersects=point).order_by("depth")

    def at_level(self, level: str):
        return self.filter(level=level)

    def grid_cells(self):
        return self.filter(level=Level.GRID_CELL)

    def communities(self):
        return self.filter(level=Level.COMMUNITY)

    def street_offices(self):
        return self.filter(level=Level.STREET_OFFICE)


class Area(models.Model):
    """One administrative or management area: district (区) → street office (街道) → community (社区) →
    unit grid cell (网格, about 100 m × 100 m). All levels share one table so that "every area containing
    this point" is a single indexed query. The code encodes the hierarchy: a child's code starts with its
    parent's code (see CODE_LENGTH); the database enforces length, digits and the prefix-by-level rule.
    `illustrative` marks boundaries that are not official (e.g. the demo's, derived from streets)."""

    level = models.CharField(_("层级"), max_length=16, choices=Level.choices)
    depth = models.GeneratedField(
        expression=models.Case(
            models.When(level=Level.DISTRICT, then=0),
            models.When(level=Level.STREET_OFFICE, then=1),
            models.When(level=Level.COMMUNITY, then=2),
            default=3,
        ),
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )
    code = models.CharField(_("编码"), max_length=15, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    parent = models.ForeignKey(
        "self", models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("上级")
    )
    geom = models.MultiPolygonField(_("边界"), srid=settings.GEO_SRID)
    area_m2 = models.GeneratedField(
        expression=GeogArea("geom"), output_field=models.FloatField(), db_persist=True, verbose_name=_("面积(平方米)")
    )
    illustrative = models.BooleanField(_("示意边界"), default=False, help_text=_("边界非官方，仅作演示或示意"))
    source = models.CharField(_("来源"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AreaQuerySet.as_manager()

    class Meta:
        verbose_name = _("区域")
        verbose_name_plural = _("区域")
        ordering = ["code"]
        indexes = [models.Index(fields=["level", "code"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(level=Level.DISTRICT, code__regex=r"^[0-9]{6}$", parent__isnull=True)
                    | Q(level=Level.STREET_OFFICE, code__regex=r"^[0-9]{9}$", parent__isnull=False)
                    | Q(level=Level.COMMUNITY, code__regex=r"^[0-9]{12}$", parent__isnull=False)
                    | Q(level=Level.GRID_CELL, code__regex=r"^[0-9]{15}$", parent__isnull=False)
                ),
                name="area_code_matches_level",
            ),
            models.CheckConstraint(condition=Q(name__regex=r"\S"), name="area_name_not_blank"),
            models.CheckConstraint(condition=Q(geom__isvalid=True), name="area_geom_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"
