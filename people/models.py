from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateRangeField, RangeOperators
from django.db import models
from django.db.models import F, Func, Q
from django.utils.translation import gettext_lazy as _


class Department(models.Model):
    """A district department (部门). In the Zhifu model 62 departments are spread over 12 street offices;
    each takes one area (片区) of a street office, headed by the department's head as area leader (片长)."""

    name = models.CharField(_("部门名称"), max_length=100, unique=True)
    code = models.CharField(_("编码"), max_length=32, blank=True)
    street_office = models.ForeignKey(
        "grid.Area",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="departments",
        limit_choices_to={"level": "street_office"},
        verbose_name=_("包联街道"),
    )

    class Meta:
        verbose_name = _("部门")
        verbose_name_plural = _("部门")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    """A lane chief, cadre, volunteer or squad member. `private_phone` is personal data: never shown on any
    public page or endpoint. `public_phone` is what the public may call (an office line, hotline or relay
    number, or the person's own mobile only if they chose to publish it)."""

    name = models.CharField(_("姓名"), max_length=50)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="person",
        verbose_name=_("登录账号"),
    )
    title = models.CharField(_("职务"), max_length=100, blank=True)
    department = models.ForeignKey(
        Department, models.SET_NULL, null=True, blank=True, related_name="people", verbose_name=_("部门")
    )
    private_phone = models.CharField(_("私人电话(不公开)"), max_length=32, blank=True)
    public_phone = models.CharField(_("公开联系电话"), max_length=32, blank=True)
    is_volunteer = models.BooleanField(_("志愿者"), default=False)
    is_party_member = models.BooleanField(_("党员"), default=False)

    class Meta:
        verbose_name = _("人员")
        verbose_name_plural = _("人员")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(name__regex=r"\S"), name="person_name_not_blank"),
            models.CheckConstraint(
                condition=Q(private_phone="") | Q(private_phone__regex=r"^[0-9+\- ]{3,32}$"),
                name="person_private_phone_format",
            ),
            models.CheckConstraint(
                condition=Q(public_phone="") | Q(public_phone__regex=r"^[0-9+\- ]{3,32}$"),
                name="person_public_phone_format",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    LANE_CHIEF = "lane_chief", _("街巷长")
    GENERAL_LANE_CHIEF = "general_lane_chief", _("总街巷长")
    AREA_LEADER = "area_leader", _("片长")


class DateRange(Func):
    function = "DATERANGE"
    output_field = DateRangeField()


class ChiefAssignmentQuerySet(models.QuerySet):
    def on(self, day):
        """Assignments in force on `day` (valid_from <= day, and valid_to empty or >= day)."""
        return self.filter(valid_from__lte=day).filter(Q(valid_to__isnull=True) | Q(valid_to__gte=day))


class ChiefAssignment(models.Model):
    """A person's appointment as lane chief of a lane, general lane chief (总街巷长) of a street office, or
    area leader (片长) of an area, for a period. Validity dates are inclusive; an open end means "still
    serving". History answers "who was this lane's chief on 3 March". The database refuses overlapping
    appointments of the same person to the same post."""

    person = models.ForeignKey(Person, models.PROTECT, related_name="assignments", verbose_name=_("人员"))
    role = models.CharField(_("角色"), max_length=32, choices=Role.choices, default=Role.LANE_CHIEF)
    lane = models.ForeignKey(
        "lanes.Lane", models.CASCADE, null=True, blank=True, related_name="chief_assignments", verbose_name=_("街巷")
    )
    area = models.ForeignKey(
        "grid.Area", models.CASCADE, null=True, blank=True, related_name="chief_assignments", verbose_name=_("区域")
    )
    duties = models.TextField(_("职责"), blank=True)
    valid_from = models.DateField(_("任职起"))
    valid_to = models.DateField(_("任职止"), null=True, blank=True)

    objects = ChiefAssignmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("街巷长任职")
        verbose_name_plural = _("街巷长任职")
        ordering = ["-valid_from", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(role="lane_chief", lane__isnull=False, area__isnull=True)
                    | Q(role__in=["general_lane_chief", "area_leader"], lane__isnull=True, area__isnull=False)
                ),
                name="assignment_target_matches_role",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")), name="assignment_dates_ordered"
            ),
            ExclusionConstraint(
                name="assignment_no_overlap",
                expressions=[
                    ("person", RangeOperators.EQUAL),
                    ("role", RangeOperators.EQUAL),
                    (models.functions.Coalesce("lane", 0), RangeOperators.EQUAL),
                    (models.functions.Coalesce("area", 0), RangeOperators.EQUAL),
                    (DateRange("valid_from", "valid_to", models.Value("[]")), RangeOperators.OVERLAPS),
                ],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} · {self.get_role_display()}"


class WorkGroup(models.Model):
    """A department's work group (工作组) that patrols several lanes every day; its leader sums up the
    day's patrols into the daily report (日报). Example: 27 lanes of 奇山街道 split among 6 groups."""

    name = models.CharField(_("工作组"), max_length=100)
    department = models.ForeignKey(Department, models.CASCADE, related_name="work_groups", verbose_name=_("部门"))
    leader = models.ForeignKey(
        Person, models.SET_NULL, null=True, blank=True, related_name="led_work_groups", verbose_name=_("组长")
    )
    members = models.ManyToManyField(Person, blank=True, related_name="work_groups", verbose_name=_("成员"))
    lanes = models.ManyToManyField("lanes.Lane", blank=True, related_name="work_groups", verbose_name=_("负责街巷"))

    class Meta:
        verbose_name = _("工作组")
        verbose_name_plural = _("工作组")
        constraints = [models.UniqueConstraint(fields=["department", "name"], name="workgroup_unique_name")]

    def __str__(self) -> str:
        return f"{self.department} · {self.name}"


class SquadKind(models.Model):
    """Kinds of squad (中队): 市容 street order, 环卫 sanitation, 市政 municipal works. Data, not code:
    a city may add its own (e.g. 园林 landscaping)."""

    code = models.SlugField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=50, unique=True)
    order = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("中队类型")
        verbose_name_plural = _("中队类型")
        ordering = ["order", "code"]

    def __str__(self) -> str:
        return self.name


class Squad(models.Model):
    """A squad (中队) of one kind, with a duty phone the public may call, members, and the area it serves:
    whole areas (street offices, communities, grid cells) and/or individual lanes. Routing picks the squad
    of the owning kind serving the most specific place: lane, then grid cell, community, street office."""

    name = models.CharField(_("中队名称"), max_length=100, unique=True)
    kind = models.ForeignKey(SquadKind, models.PROTECT, related_name="squads", verbose_name=_("类型"))
    duty_phone = models.CharField(_("值班电话"), max_length=32, blank=True)
    street_office = models.ForeignKey(
        "grid.Area",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="squads",
        limit_choices_to={"level": "street_office"},
        verbose_name=_("所属街道"),
    )
    service_areas = models.ManyToManyField(
        "grid.Area", blank=True, related_name="serving_squads", verbose_name=_("服务区域")
    )
    lanes = models.ManyToManyField("lanes.Lane", blank=True, related_name="squads", verbose_name=_("负责街巷"))
    members = models.ManyToManyField(Person, through="SquadMembership", blank=True, related_name="squads")

    class Meta:
        verbose_name = _("中队")
        verbose_name_plural = _("中队")
        ordering = ["kind__order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(duty_phone="") | Q(duty_phone__regex=r"^[0-9+\- ]{3,32}$"), name="squad_duty_phone_format"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SquadMembership(models.Model):
    squad = models.ForeignKey(Squad, models.CASCADE, related_name="memberships")
    person = models.ForeignKey(Person, models.CASCADE, related_name="squad_memberships")
    is_leader = models.BooleanField(_("队长"), default=False)

    class Meta:
        verbose_name = _("中队成员")
        verbose_name_plural = _("中队成员")
        constraints = [models.UniqueConstraint(fields=["squad", "person"], name="squadmembership_unique")]

    def __str__(self) -> str:
        return f"{self.squad} · {self.person}"
