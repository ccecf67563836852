"""Daily patrols (365巡查): who walked where, which lanes their GPS track really covered, and every lane's
coverage day by day.

- Patrol: one patrol by one person on one day, with its cleaned GPS track (uploaded GPX / GeoJSON, or built
  from points a phone sends while walking), the lanes the patroller ticked off, findings, notes and photos.
- PatrolLane: what the track covered, lane by lane (computed by patrols.coverage; never typed in).
- LaneDayCoverage: one row per lane per closed day: due or a rest day, covered or missed, by which patrols,
  and a snapshot of who answered for the lane that day (work groups, departments, lane chiefs), so that past
  reports stay true when work groups change later.
- DailyReport: the daily report (日报) of a work group, a department or a street office, frozen at day close.

Everything derived (PatrolLane, LaneDayCoverage, DailyReport) is written by patrols.services only.
"""

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from common.geo import GeogLength


class PatrolSource(models.TextChoices):
    GPX = "gpx", _("GPX 文件")
    GEOJSON = "geojson", _("GeoJSON 文件")
    LIVE = "live", _("手机实时记录")


class PatrolStatus(models.TextChoices):
    LIVE = "live", _("巡查中")
    FINISHED = "finished", _("已完成")
    FLAGGED = "flagged", _("待核查")  # finished, but the track is far from every lane or empty


class Patrol(models.Model):
    """One patrol (巡查) by one person on one day. `department` and `work_group` are a snapshot taken when the
    patrol is recorded (people move between groups; the record keeps where they patrolled for). `day` is the
    local date (settings.TIME_ZONE) the patrol belongs to; the track never holds points from another day."""

    person = models.ForeignKey("people.Person", models.PROTECT, related_name="patrols", verbose_name=_("巡查人"))
    department = models.ForeignKey(
        "people.Department", models.SET_NULL, null=True, blank=True, related_name="patrols", verbose_name=_("部门")
    )
    work_group = models.ForeignKey(
        "people.WorkGroup", models.SET_NULL, null=True, blank=True, related_name="patrols", verbose_name=_("工作组")
    )
    day = models.DateField(_("巡查日期"), db_index=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    track = models.LineStringField(_("轨迹"), srid=settings.GEO_SRID, null=True, blank=True)
    length_m = models.GeneratedField(
        expression=GeogLength("track"),
        output_field=models.FloatField(),
        db_persist=True,
        verbose_name=_("轨迹长度(米)"),
    )
    source = models.CharField(_("来源"), max_length=16, choices=PatrolSource.choices)
    coordsys = models.CharField(_("原始坐标系"), max_length=8, default="wgs84")
    upload_name = models.CharField(_("上传文件名"), max_length=200, blank=True)
    # sha256 of the uploaded bytes: the same file uploaded twice by one person makes one patrol.
    upload_hash = models.CharField(_("文件摘要"), max_length=64, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=PatrolStatus.choices, default=PatrolStatus.FINISHED)
    notes = models.TextField(_("备注"), blank=True)
    # What cleaning did (points read / kept, jumps removed, messages): shown to the patroller.
    cleaning = models.JSONField(_("轨迹清洗记录"), default=dict, blank=True)
    ticked_lanes = models.ManyToManyField(
        "lanes.Lane", blank=True, related_name="ticked_in_patrols", verbose_name=_("自报已巡街巷")
    )
    covered_lanes = models.ManyToManyField(
        "lanes.Lane", through="PatrolLane", blank=True, related_name="patrols", verbose_name=_("轨迹覆盖街巷")
    )
    coverage_computed_at = models.DateTimeField(_("覆盖计算时间"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("录入人")
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("巡查记录")
        verbose_name_plural = _("巡查记录")
        ordering = ["-day", "-started_at", "-id"]
        permissions = [
            ("view_all_patrols", _("查看全部巡查与日报")),
            ("close_patrol_day", _("执行巡查日结")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "upload_hash", "day"], condition=~Q(upload_hash=""), name="patrol_upload_once"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(started_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="patrol_times_ordered",
            ),
            models.CheckConstraint(
                condition=Q(track__isnull=True) | Q(status=PatrolStatus.LIVE) | Q(track__isvalid=True),
                name="patrol_track_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["person", "day"]),
            models.Index(fields=["work_group", "day"]),
            models.Index(fields=["department", "day"]),
            models.Index(fields=["day", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.person} · {self.day}"


class PatrolPoint(models.Model):
    """One GPS fix sent from the phone page during a live patrol, in order. The patrol's track is rebuilt from
    the kept points; `kept` is false for fixes the cleaning dropped (impossible speed, poor accuracy, another day)
    and `reason` says why."""

    patrol = models.ForeignKey(Patrol, models.CASCADE, related_name="points", verbose_name=_("巡查"))
    seq = models.PositiveIntegerField(_("序号"))
    point = models.PointField(_("位置"), srid=settings.GEO_SRID, spatial_index=False)
    recorded_at = models.DateTimeField(_("定位时间"))
    accuracy_m = models.FloatField(_("定位精度(米)"), null=True, blank=True)
    kept = models.BooleanField(_("保留"), default=True)
    reason = models.CharField(_("剔除原因"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("轨迹点")
        verbose_name_plural = _("轨迹点")
        ordering = ["patrol", "seq"]
        constraints = [models.UniqueConstraint(fields=["patrol", "seq"], name="patrolpoint_unique_seq")]


class PatrolLane(models.Model):
    """A lane near a patrol's track: `share` of the lane's length lies within the buffer of the track; the lane
    counts as covered by the patrol when share ≥ the minimum share in force when it was computed. Near misses
    (share ≥ half the minimum) are kept too, so a patroller can see what almost counted."""

    patrol = models.ForeignKey(Patrol, models.CASCADE, related_name="lane_links")
    lane = models.ForeignKey("lanes.Lane", models.CASCADE, related_name="patrol_links")
    covered_m = models.FloatField(_("覆盖长度(米)"))
    share = models.FloatField(_("覆盖比例"))
    covered = models.BooleanField(_("计为已巡"))

    class Meta:
        verbose_name = _("巡查覆盖街巷")
        verbose_name_plural = _("巡查覆盖街巷")
        constraints = [
            models.UniqueConstraint(fields=["patrol", "lane"], name="patrollane_unique"),
            models.CheckConstraint(condition=Q(share__gte=0) & Q(share__lte=1.000001), name="patrollane_share_range"),
        ]
        indexes = [models.Index(fields=["lane", "covered"])]


class LaneDayCoverage(models.Model):
    """A lane on a closed day. `due`: the lane had to be patrolled (false on its kind's rest days); `covered`: at
    least one finished patrol of that day covered it (share ≥ minimum) — whoever walked it; `best_share`: the
    largest share any one patrol covered. Responsibility is a snapshot of that day: the work groups holding the
    lane, their departments and the lane chiefs' departments, and the lane chiefs in office."""

    day = models.DateField(_("日期"))
    lane = models.ForeignKey("lanes.Lane", models.CASCADE, related_name="day_coverage", verbose_name=_("街巷"))
    community = models.ForeignKey(
        "grid.Area", models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("社区")
    )
    street_office = models.ForeignKey(
        "grid.Area", models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("街道")
    )
    work_group_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    department_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    chief_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    due = models.BooleanField(_("应巡"))
    covered = models.BooleanField(_("已巡"))
    best_share = models.FloatField(_("最高覆盖比例"), default=0.0)
    patrol_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    patroller_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    computed_at = models.DateTimeField(_("计算时间"))

    class Meta:
        verbose_name = _("街巷每日巡查覆盖")
        verbose_name_plural = _("街巷每日巡查覆盖")
        ordering = ["-day", "lane"]
        constraints = [models.UniqueConstraint(fields=["day", "lane"], name="lanedaycoverage_unique")]
        indexes = [
            models.Index(fields=["lane", "day"]),
            models.Index(fields=["day", "community"]),
            models.Index(fields=["day", "street_office"]),
            GinIndex(fields=["work_group_ids"], name="ldc_work_groups_gin"),
            GinIndex(fields=["department_ids"], name="ldc_departments_gin"),
        ]

    @property
    def missed(self) -> bool:
        return self.due and not self.covered


class Finding(models.Model):
    """Something a patroller found on the way (a must-report matter, an event or a damaged component). It
    becomes a case through the dispatch flow; `case_id` is that case once filed (null until then)."""

    patrol = models.ForeignKey(Patrol, models.CASCADE, related_name="findings", verbose_name=_("巡查"))
    point = models.PointField(_("位置"), srid=settings.GEO_SRID, null=True, blank=True)
    lane = models.ForeignKey(
        "lanes.Lane", models.SET_NULL, null=True, blank=True, related_name="findings", verbose_name=_("街巷")
    )
    category_code = models.CharField(_("类别编码"), max_length=32, blank=True)
    description = models.TextField(_("描述"))
    case_id = models.BigIntegerField(_("案件编号"), null=True, blank=True, db_index=True)
    case_error = models.CharField(_("转案件失败原因"), max_length=300, blank=True)
    found_at = models.DateTimeField(_("发现时间"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("巡查发现")
        verbose_name_plural = _("巡查发现")
        ordering = ["found_at", "id"]
        constraints = [models.CheckConstraint(condition=Q(description__regex=r"\S"), name="finding_description")]


class PatrolPhoto(models.Model):
    patrol = models.ForeignKey(Patrol, models.CASCADE, related_name="photos", verbose_name=_("巡查"))
    finding = models.ForeignKey(
        Finding, models.CASCADE, null=True, blank=True, related_name="photos", verbose_name=_("发现")
    )
    image = models.ImageField(_("照片"), upload_to="patrols/%Y/%m/")
    sha256 = models.CharField(max_length=64)
    point = models.PointField(_("拍摄位置"), srid=settings.GEO_SRID, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("巡查照片")
        verbose_name_plural = _("巡查照片")
        ordering = ["created_at", "id"]


class ReportScope(models.TextChoices):
    WORK_GROUP = "work_group", _("工作组")
    DEPARTMENT = "department", _("部门")
    STREET_OFFICE = "street_office", _("街道")


class DailyReport(models.Model):
    """The daily report (日报) of one work group, department or street office for one closed day, frozen at day
    close (regenerated if the day is closed again). `data` holds the figures and lists shown on the page and in
    the XLSX export (see patrols.reports)."""

    day = models.DateField(_("日期"))
    scope = models.CharField(_("范围"), max_length=16, choices=ReportScope.choices)
    scope_id = models.BigIntegerField(_("对象编号"))
    scope_name = models.CharField(_("名称"), max_length=200)
    street_office = models.ForeignKey(
        "grid.Area", models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("街道")
    )
    lanes_due = models.PositiveIntegerField(_("应巡街巷"))
    lanes_covered = models.PositiveIntegerField(_("已巡街巷"))
    lanes_missed = models.PositiveIntegerField(_("漏巡街巷"))
    patrols = models.PositiveIntegerField(_("巡查次数"))
    findings = models.PositiveIntegerField(_("发现问题"))
    data = models.JSONField(_("内容"), default=dict)
    created_at = models.DateTimeField(_("生成时间"))

    class Meta:
        verbose_name = _("巡查日报")
        verbose_name_plural = _("巡查日报")
        ordering = ["-day", "scope", "scope_name"]
        constraints = [
            models.UniqueConstraint(fields=["day", "scope", "scope_id"], name="dailyreport_unique"),
            models.CheckConstraint(
                condition=Q(lanes_covered__lte=F("lanes_due")) & Q(lanes_missed__lte=F("lanes_due")),
                name="dailyreport_counts",
            ),
        ]
        indexes = [models.Index(fields=["scope", "scope_id", "day"])]

    @property
    def coverage_rate(self) -> float | None:
        """Covered / due, or None ("no data") when nothing was due."""
        return self.lanes_covered / self.lanes_due if self.lanes_due else None

    def __str__(self) -> str:
        return f"{self.scope_name} · {self.day}"
