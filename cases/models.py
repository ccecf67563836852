"""Cases (案件): must-report matters, must-attend occasions and events found in the lanes, routed to the squad
that owns them and driven through an explicit state machine (cases.workflow) with deadlines on a work calendar.

Invariants kept by the database:
- the case timeline (CaseEvent) is append-only: a trigger refuses UPDATE and DELETE (migration 0002);
- a case in a squad's queue names its squad; a merged case names the case it was merged into;
- one idempotency key (hashed with the reporter's identity) makes at most one case.
"""

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CategoryKind(models.TextChoices):
    MUST_REPORT = "must_report", _("六必报")
    MUST_ATTEND = "must_attend", _("六必到")
    EVENT = "event", _("事件")
    COMPONENT = "component", _("部件")


class DeadlineUnit(models.TextChoices):
    WORKING_HOURS = "working_hours", _("工作小时")
    WORKING_DAYS = "working_days", _("工作日")
    HOURS = "hours", _("自然小时")


# Owners that are not squad kinds: matters about residents go to the community or the street office.
OWNER_COMMUNITY = "community"
OWNER_STREET_OFFICE = "street_office"


class CategoryQuerySet(models.QuerySet):
    def reportable(self):
        """Active leaf categories: the ones a case may be filed under."""
        return self.filter(active=True, is_group=False)


class Category(models.Model):
    """A kind of matter (data, editable in the admin; seeded by migration 0003). Groups (六必报, 六必到,
    市容环境 …) only hold their sub-classes; cases are filed under leaf categories. `owner` is a squad kind
    code (people.SquadKind.code, e.g. "sanitation") or "community" / "street_office"."""

    code = models.SlugField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类别"), max_length=16, choices=CategoryKind.choices, default=CategoryKind.EVENT)
    parent = models.ForeignKey(
        "self", models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("上级类别")
    )
    is_group = models.BooleanField(_("仅作分组"), default=False)
    owner = models.CharField(
        _("责任方"),
        max_length=32,
        blank=True,
        help_text=_(
            "中队类型编码（如 street_order、sanitation、municipal），或 community（社区）、street_office（街道）"
        ),
    )
    deadline_amount = models.PositiveIntegerField(_("处置时限"), default=1)
    deadline_unit = models.CharField(
        _("时限单位"), max_length=16, choices=DeadlineUnit.choices, default=DeadlineUnit.WORKING_DAYS
    )
    sensitive = models.BooleanField(
        _("涉及居民个人信息"), default=False, help_text=_("敏感事项只派往社区或街道，永不公开")
    )
    must_attend = models.BooleanField(_("街巷长必到"), default=False)
    active = models.BooleanField(_("启用"), default=True)
    order = models.PositiveIntegerField(_("排序"), default=0)

    objects = CategoryQuerySet.as_manager()

    class Meta:
        verbose_name = _("案件类别")
        verbose_name_plural = _("案件类别")
        ordering = ["order", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(name__regex=r"\S"), name="category_name_not_blank"),
            models.CheckConstraint(condition=Q(is_group=True) | ~Q(owner=""), name="category_leaf_has_owner"),
            models.CheckConstraint(condition=Q(deadline_amount__gte=1), name="category_deadline_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Source(models.TextChoices):
    CHIEF = "chief", _("街巷长上报")
    PUBLIC = "public", _("群众举报")
    PATROL = "patrol", _("巡查发现")
    STAFF = "staff", _("工作人员录入")


class Status(models.TextChoices):
    REPORTED = "reported", _("已上报")
    DISPATCHED = "dispatched", _("已派遣")
    ACCEPTED = "accepted", _("处置中")
    RESOLVED = "resolved", _("已处置待核查")
    RECHECKED = "rechecked", _("已核查")
    CLOSED = "closed", _("已结案")
    REWORK = "rework", _("返工")
    SUSPENDED = "suspended", _("挂账")
    VOID = "void", _("已作废")
    MERGED = "merged", _("已合并")


# The deadline clock runs in these states (a squad or queue owes work).
CLOCK_STATUSES = (Status.DISPATCHED, Status.ACCEPTED, Status.REWORK)
# Not finished: shown in inboxes, offered as duplicates.
OPEN_STATUSES = (
    Status.REPORTED,
    Status.DISPATCHED,
    Status.ACCEPTED,
    Status.RESOLVED,
    Status.RECHECKED,
    Status.REWORK,
    Status.SUSPENDED,
)


class OwnerQueue(models.TextChoices):
    SQUAD = "squad", _("中队")
    COMMUNITY = "community", _("社区")
    STREET_OFFICE = "street_office", _("街道")


class ClockUnit(models.TextChoices):
    WORKING = "working", _("工作时间")
    NATURAL = "natural", _("自然时间")


class Case(models.Model):
    """One reported matter at one place. Written only by cases.services (every change goes through a
    workflow transition that takes a row lock, checks `version` and appends a CaseEvent)."""

    tracking_code = models.CharField(_("查询码"), max_length=16, unique=True)
    category = models.ForeignKey(Category, models.PROTECT, related_name="cases", verbose_name=_("类别"))
    point = models.PointField(_("位置"), srid=settings.GEO_SRID)
    description = models.TextField(_("描述"), max_length=2000, blank=True)
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices, default=Source.CHIEF)

    lane = models.ForeignKey(
        "lanes.Lane", models.SET_NULL, null=True, blank=True, related_name="cases", verbose_name=_("街巷")
    )
    lane_distance_m = models.FloatField(_("距街巷(米)"), null=True, blank=True)
    grid_cell = models.ForeignKey(
        "grid.Area", models.PROTECT, null=True, blank=True, related_name="cell_cases", verbose_name=_("网格")
    )
    community = models.ForeignKey(
        "grid.Area", models.PROTECT, null=True, blank=True, related_name="community_cases", verbose_name=_("社区")
    )
    street_office = models.ForeignKey(
        "grid.Area", models.PROTECT, related_name="street_office_cases", verbose_name=_("街道")
    )

    owner_queue = models.CharField(_("承办方"), max_length=16, choices=OwnerQueue.choices)
    squad = models.ForeignKey(
        "people.Squad", models.PROTECT, null=True, blank=True, related_name="cases", verbose_name=_("承办中队")
    )
    routing_reason = models.TextField(_("派遣依据"), blank=True)
    returned_squad_ids = ArrayField(models.BigIntegerField(), default=list, blank=True, verbose_name=_("已退回的中队"))

    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.REPORTED)
    version = models.PositiveIntegerField(_("版本"), default=1)

    # Deadline clock (cases.calendar): `limit_seconds` is the whole allowance (plus approved extensions) in
    # working seconds (clock_unit "working") or wall-clock seconds ("natural").
    clock_unit = models.CharField(_("计时方式"), max_length=8, choices=ClockUnit.choices, default=ClockUnit.WORKING)
    dispatched_at = models.DateTimeField(_("派遣时间"), null=True, blank=True)
    deadline = models.DateTimeField(_("处置期限"), null=True, blank=True)
    limit_seconds = models.PositiveIntegerField(_("时限(秒)"), default=0)
    suspended_at = models.DateTimeField(_("挂账时间"), null=True, blank=True)
    status_before_suspend = models.CharField(max_length=16, blank=True)
    extension_request = models.JSONField(_("待批延期申请"), null=True, blank=True)

    # Supervision (督办): 1 = notice to squad and street office; 2 = escalated to the district.
    supervision_level = models.PositiveSmallIntegerField(_("督办级别"), default=0)
    supervised_at = models.DateTimeField(_("督办时间"), null=True, blank=True)
    supervision_due = models.DateTimeField(_("督办整改期限"), null=True, blank=True)

    # Spot re-check (回头看): sampled after closure, awaiting re-inspection.
    spot_check_due = models.BooleanField(_("待回头看"), default=False)
    spot_sampled_at = models.DateTimeField(_("抽查时间"), null=True, blank=True)

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="reported_cases",
        verbose_name=_("上报人"),
    )
    # Private: only handlers of the case see it, never the public.
    reporter_contact = models.CharField(_("举报人联系方式(不公开)"), max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    merged_into = models.ForeignKey(
        "self", models.PROTECT, null=True, blank=True, related_name="merged_cases", verbose_name=_("合并到")
    )

    accepted_at = models.DateTimeField(_("受理时间"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("处置完成时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("上报时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("案件")
        verbose_name_plural = _("案件")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "deadline"]),
            models.Index(fields=["squad", "status"]),
            models.Index(fields=["category", "status"]),
            models.Index(fields=["created_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(version__gte=1), name="case_version_positive"),
            models.CheckConstraint(
                condition=~Q(owner_queue="squad") | Q(squad__isnull=False), name="case_squad_queue_has_squad"
            ),
            models.CheckConstraint(
                condition=(Q(status="merged") & Q(merged_into__isnull=False))
                | (~Q(status="merged") & Q(merged_into__isnull=True)),
                name="case_merged_has_target",
            ),
            models.CheckConstraint(condition=Q(supervision_level__lte=2), name="case_supervision_level_range"),
            models.CheckConstraint(condition=Q(status__in=[s.value for s in Status]), name="case_status_known"),
        ]

    def __str__(self) -> str:
        return f"{self.tracking_code} · {self.category.name}"


class CaseEvent(models.Model):
    """One step of a case's timeline: who did what, when, from which status to which, with a note and where.
    Append-only: the database refuses to update or delete a row (trigger in migration 0002)."""

    case = models.ForeignKey(Case, models.PROTECT, related_name="events", verbose_name=_("案件"))
    at = models.DateTimeField(_("时间"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="case_events",
        verbose_name=_("操作人"),
    )
    actor_name = models.CharField(_("操作人姓名"), max_length=100, blank=True)
    actor_role = models.CharField(_("操作身份"), max_length=32, blank=True)
    action = models.CharField(_("操作"), max_length=32)
    from_status = models.CharField(_("原状态"), max_length=16, blank=True)
    to_status = models.CharField(_("新状态"), max_length=16)
    note = models.TextField(_("说明"), max_length=2000, blank=True)
    point = models.PointField(_("操作位置"), srid=settings.GEO_SRID, null=True, blank=True)
    data = models.JSONField(_("附加信息"), default=dict, blank=True)

    class Meta:
        verbose_name = _("案件记录")
        verbose_name_plural = _("案件记录")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["case", "at"]), models.Index(fields=["action", "at"])]

    def __str__(self) -> str:
        return f"{self.case_id} {self.action} {self.from_status}→{self.to_status}"


class AttachmentKind(models.TextChoices):
    REPORT = "report", _("上报照片")
    BEFORE = "before", _("处置前")
    AFTER = "after", _("处置后")
    RECHECK = "recheck", _("核查")
    ATTENDANCE = "attendance", _("到场")


def attachment_path(instance, filename: str) -> str:
    return f"cases/{instance.case_id}/{filename}"


class Attachment(models.Model):
    """A photo of a case. The stored file is a re-encoding of the upload (EXIF, including location, stripped);
    the location read from the EXIF before stripping is kept in `exif_point`. Files are served only through
    the API to people who may read the case."""

    case = models.ForeignKey(Case, models.PROTECT, related_name="attachments", verbose_name=_("案件"))
    kind = models.CharField(_("类型"), max_length=16, choices=AttachmentKind.choices, default=AttachmentKind.REPORT)
    file = models.FileField(_("文件"), upload_to=attachment_path, max_length=300)
    content_type = models.CharField(max_length=32)
    size_bytes = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    exif_point = models.PointField(_("照片拍摄位置"), srid=settings.GEO_SRID, null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="case_attachments"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("案件照片")
        verbose_name_plural = _("案件照片")
        ordering = ["created_at", "id"]


class Attendance(models.Model):
    """A chief's presence at the scene of a must-attend occasion (六必到): where (checked against the case
    point within settings CASE_ATTEND_RADIUS_M), when, a note and a photo."""

    case = models.ForeignKey(Case, models.PROTECT, related_name="attendances", verbose_name=_("案件"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="case_attendances")
    person_name = models.CharField(_("到场人"), max_length=100, blank=True)
    point = models.PointField(_("到场位置"), srid=settings.GEO_SRID)
    distance_m = models.FloatField(_("距现场(米)"))
    at = models.DateTimeField(_("到场时间"))
    late = models.BooleanField(_("迟到"), default=False)
    note = models.TextField(_("说明"), max_length=2000, blank=True)
    photo = models.ForeignKey(Attachment, models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = _("到场记录")
        verbose_name_plural = _("到场记录")
        ordering = ["at", "id"]


class StaffScope(models.Model):
    """Ties a user to the areas they work for: street office staff (街道工作人员) of a street office or a
    community, or district staff (a district area). A district scope, a superuser, or membership of the
    Django group "district_admin" makes a district admin (sees every case)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="case_scopes")
    area = models.ForeignKey(
        "grid.Area",
        models.CASCADE,
        related_name="staff_scopes",
        limit_choices_to={"level__in": ["district", "street_office", "community"]},
        verbose_name=_("负责区域"),
    )

    class Meta:
        verbose_name = _("工作人员辖区")
        verbose_name_plural = _("工作人员辖区")
        constraints = [models.UniqueConstraint(fields=["user", "area"], name="staffscope_unique")]

    def __str__(self) -> str:
        return f"{self.user} · {self.area}"


class CalendarDay(models.Model):
    """An exception to the weekly pattern of working days: a public holiday on a weekday (is_workday=False)
    or a make-up working day on a weekend (is_workday=True, 调休上班)."""

    date = models.DateField(_("日期"), unique=True)
    is_workday = models.BooleanField(_("上班"), default=False)
    note = models.CharField(_("说明"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("节假日/调休")
        verbose_name_plural = _("节假日/调休")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'上班' if self.is_workday else '休息'} {self.note}"
