"""Writes on people, chiefs, squads and work groups. Keyword-only, typed, each in one transaction.

Every function validates before writing and raises django.core.exceptions.ValidationError with a message in
Chinese that says what is wrong and what to do next. The database constraints (phone format, date order, no
overlapping appointments) back these checks up.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from grid.models import Area, Level
from lanes.models import Lane
from people.models import ChiefAssignment, Department, Person, Role, Squad, SquadKind, SquadMembership, WorkGroup

# ---------------------------------------------------------------------------------------------------------------
# Phones
# ---------------------------------------------------------------------------------------------------------------

_DASHES = "‐‑‒–—―－﹣−"
_PHONE_SHAPE = re.compile(r"^\+?[0-9][0-9\-]*[0-9]$")
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")


def normalize_phone(value: object) -> str:
    """A phone number as stored: digits with optional leading + and dashes (full-width digits, Chinese dashes,
    spaces and brackets around an area code are accepted). "" for empty input. Raises ValidationError for
    anything that cannot be a phone number in mainland China: mobiles have 11 digits (1[3-9]…), landlines an
    area code starting with 0 (10–12 digits with it, or 7–8 digits without), service numbers 3–5 digits
    (110, 12345, 95598), 400/800 numbers 10 digits; +country numbers 8–15 digits. An extension may follow
    a dash, e.g. 0535-6601234-8012."""
    if value is None:
        return ""
    if isinstance(value, bool):
        raise ValidationError(_("电话号码格式不对：%(value)s") % {"value": value})
    if isinstance(value, int):
        value = str(value)
    elif isinstance(value, float):
        if not value.is_integer():
            raise ValidationError(_("电话号码格式不对：%(value)s") % {"value": value})
        value = str(int(value))
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if not text:
        return ""
    if _SCIENTIFIC.match(text):
        raise ValidationError(
            _(
                "电话号码「%(value)s」被 Excel 存成了科学计数法，号码已丢失；请把该列设为“文本”格式、重新填写号码后再保存"
            )
            % {"value": text}
        )
    for dash in _DASHES:
        text = text.replace(dash, "-")
    text = re.sub(r"[\s()]", "", text)  # "(0535) 660 1234" → "05356601234"
    if not _PHONE_SHAPE.match(text) or "--" in text or len(text) > 32:
        raise ValidationError(_("电话号码格式不对：「%(value)s」（只能包含数字、开头的 + 和 -）") % {"value": value})
    digits = text.replace("-", "").lstrip("+")
    main = text.lstrip("+").split("-")
    if text.startswith("+"):
        ok = 8 <= len(digits) <= 18
    elif digits.startswith("0"):
        # area code + number, optionally "-extension"; the extension is not counted.
        number = "".join(main[:2]) if len(main) >= 2 and len(main[0]) <= 4 else main[0]
        ok = 10 <= len(number) <= 12
    elif digits.startswith("1"):
        ok = len(digits) in (3, 4, 5) or (len(digits) == 11 and digits[1] in "3456789")
        if not ok and len(digits) >= 6:
            raise ValidationError(
                _("手机号码应为 11 位：「%(value)s」有 %(n)d 位") % {"value": value, "n": len(digits)}
            )
    elif digits.startswith(("400", "800")) and len(digits) == 10:
        ok = True
    else:
        ok = len(main[0]) in (5, 7, 8)  # 95598-style service numbers, local numbers without the area code
    if not ok:
        raise ValidationError(_("电话号码位数不对：「%(value)s」") % {"value": value})
    return text


def _phone_field(field: str, value: object) -> str:
    try:
        return normalize_phone(value)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from None


def clean_name(value: str) -> str:
    """Names as people type them in spreadsheets: "张　三" (padded to align with three-character names) is 张三."""
    text = unicodedata.normalize("NFKC", value or "").strip()
    if text and all(_is_cjk(ch) or ch.isspace() for ch in text):
        text = re.sub(r"\s+", "", text)
    return re.sub(r"\s+", " ", text)


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or ch in "·•"


# ---------------------------------------------------------------------------------------------------------------
# Departments and people
# ---------------------------------------------------------------------------------------------------------------


def _check_level(area: Area | None, level: str, field: str) -> None:
    if area is not None and area.level != level:
        raise ValidationError(
            {
                field: _("「%(area)s」是%(actual)s，这里需要%(level)s")
                % {"area": area.name, "actual": Level(area.level).label, "level": Level(level).label}
            }
        )


@transaction.atomic
def department_create(*, name: str, code: str = "", street_office: Area | None = None) -> Department:
    name = clean_name(name)
    if not name:
        raise ValidationError({"name": _("部门名称不能为空")})
    if Department.objects.filter(name=name).exists():
        raise ValidationError({"name": _("部门「%(name)s」已存在") % {"name": name}})
    _check_level(street_office, Level.STREET_OFFICE, "street_office")
    return Department.objects.create(name=name, code=code.strip(), street_office=street_office)


@transaction.atomic
def department_get_or_create(*, name: str) -> tuple[Department, bool]:
    name = clean_name(name)
    if not name:
        raise ValidationError({"name": _("部门名称不能为空")})
    department = Department.objects.filter(name=name).first()
    if department is not None:
        return department, False
    return Department.objects.create(name=name), True


PERSON_FIELDS = (
    "name",
    "title",
    "department",
    "private_phone",
    "public_phone",
    "is_volunteer",
    "is_party_member",
    "user",
)


def _clean_person_fields(fields: dict) -> dict:
    out = dict(fields)
    if "name" in out:
        out["name"] = clean_name(out["name"])
        if not out["name"]:
            raise ValidationError({"name": _("姓名不能为空")})
        if len(out["name"]) > Person._meta.get_field("name").max_length:
            raise ValidationError({"name": _("姓名太长")})
    if "title" in out:
        out["title"] = (out["title"] or "").strip()
    for field in ("private_phone", "public_phone"):
        if field in out:
            out[field] = _phone_field(field, out[field])
    return out


@transaction.atomic
def person_create(
    *,
    name: str,
    title: str = "",
    department: Department | None = None,
    private_phone: str = "",
    public_phone: str = "",
    is_volunteer: bool = False,
    is_party_member: bool = False,
    user=None,
) -> Person:
    """A person (lane chief, cadre, volunteer, squad member). `private_phone` is never shown publicly;
    `public_phone` is the number the public may call (office, hotline or relay; a personal mobile only if
    the person chose to publish it)."""
    fields = _clean_person_fields(
        {
            "name": name,
            "title": title,
            "department": department,
            "private_phone": private_phone,
            "public_phone": public_phone,
            "is_volunteer": is_volunteer,
            "is_party_member": is_party_member,
            "user": user,
        }
    )
    return Person.objects.create(**fields)


@transaction.atomic
def person_update(*, person: Person, **changes) -> Person:
    """Change some of a person's fields (name, title, department, private_phone, public_phone,
    is_volunteer, is_party_member, user). Returns the person; saves only the fields that changed."""
    unknown = set(changes) - set(PERSON_FIELDS)
    if unknown:
        raise TypeError(f"person_update: unknown fields {sorted(unknown)}")
    changes = _clean_person_fields(changes)
    changed = [field for field, value in changes.items() if getattr(person, field) != value]
    for field in changed:
        setattr(person, field, changes[field])
    if changed:
        person.save(update_fields=changed)
    return person


# ---------------------------------------------------------------------------------------------------------------
# Appointments: lane chief, general lane chief, area leader
# ---------------------------------------------------------------------------------------------------------------


def _period(valid_from: date, valid_to: date | None) -> str:
    return f"{valid_from.isoformat()} 至 {valid_to.isoformat() if valid_to else _('今')}"


def _overlapping(*, person: Person, role: str, lane: Lane | None, area: Area | None, valid_from, valid_to):
    qs = ChiefAssignment.objects.filter(person=person, role=role, lane=lane, area=area)
    qs = qs.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=valid_from))
    if valid_to is not None:
        qs = qs.filter(valid_from__lte=valid_to)
    return qs.order_by("valid_from", "pk")


def _assign(
    *,
    person: Person,
    role: str,
    lane: Lane | None,
    area: Area | None,
    valid_from: date,
    valid_to: date | None,
    duties: str,
) -> ChiefAssignment:
    if not isinstance(valid_from, date):
        raise ValidationError({"valid_from": _("请填写任职日期")})
    if valid_to is not None and valid_to < valid_from:
        raise ValidationError(
            {"valid_to": _("任职止日期 %(to)s 早于任职起日期 %(from)s") % {"to": valid_to, "from": valid_from}}
        )
    target = lane.name if lane is not None else area.name
    clash = _overlapping(person=person, role=role, lane=lane, area=area, valid_from=valid_from, valid_to=valid_to)
    existing = clash.first()
    if existing is not None:
        raise ValidationError(
            _(
                "%(person)s 已是「%(target)s」的%(role)s（%(old)s），与新任职（%(new)s）重叠；"
                "请先结束原任职，或调整任职日期"
            )
            % {
                "person": person.name,
                "target": target,
                "role": Role(role).label,
                "old": _period(existing.valid_from, existing.valid_to),
                "new": _period(valid_from, valid_to),
            },
            code="overlap",
        )
    try:
        with transaction.atomic():
            return ChiefAssignment.objects.create(
                person=person,
                role=role,
                lane=lane,
                area=area,
                valid_from=valid_from,
                valid_to=valid_to,
                duties=(duties or "").strip(),
            )
    except IntegrityError as exc:  # a concurrent writer won the race; the exclusion constraint refused ours
        if "assignment_no_overlap" in str(exc):
            raise ValidationError(
                _("%(person)s 在「%(target)s」的任职与已有任职重叠；请刷新后重试")
                % {"person": person.name, "target": target},
                code="overlap",
            ) from None
        raise


@transaction.atomic
def assign_lane_chief(
    *, person: Person, lane: Lane, valid_from: date, valid_to: date | None = None, duties: str = ""
) -> ChiefAssignment:
    """Appoint `person` lane chief (街巷长) of `lane` from `valid_from` to `valid_to` (inclusive; None = still
    serving). Refuses a period overlapping another appointment of the same person to the same lane. A lane may
    have several chiefs at once (Zhifu: 517 cadres on 460 segments)."""
    return _assign(
        person=person,
        role=Role.LANE_CHIEF,
        lane=lane,
        area=None,
        valid_from=valid_from,
        valid_to=valid_to,
        duties=duties,
    )


@transaction.atomic
def assign_general_lane_chief(
    *, person: Person, street_office: Area, valid_from: date, valid_to: date | None = None, duties: str = ""
) -> ChiefAssignment:
    """Appoint `person` general lane chief (总街巷长) of a street office."""
    _check_level(street_office, Level.STREET_OFFICE, "area")
    return _assign(
        person=person,
        role=Role.GENERAL_LANE_CHIEF,
        lane=None,
        area=street_office,
        valid_from=valid_from,
        valid_to=valid_to,
        duties=duties,
    )


@transaction.atomic
def assign_area_leader(
    *, person: Person, area: Area, valid_from: date, valid_to: date | None = None, duties: str = ""
) -> ChiefAssignment:
    """Appoint `person` area leader (片长) of an area (a street office or one of its communities)."""
    if area.level not in (Level.STREET_OFFICE, Level.COMMUNITY):
        raise ValidationError({"area": _("片长负责的区域应是街道或社区，「%(area)s」不是") % {"area": area.name}})
    return _assign(
        person=person,
        role=Role.AREA_LEADER,
        lane=None,
        area=area,
        valid_from=valid_from,
        valid_to=valid_to,
        duties=duties,
    )


@transaction.atomic
def end_assignment(*, assignment: ChiefAssignment, on: date) -> ChiefAssignment:
    """End an appointment: `on` is the last day in office (inclusive). Ending on the day it already ends is a
    no-op; an appointment cannot be ended before it starts, nor extended by this function."""
    assignment = ChiefAssignment.objects.select_for_update().get(pk=assignment.pk)
    if on < assignment.valid_from:
        raise ValidationError(
            _("结束日期 %(on)s 早于任职起日期 %(from)s；如任职从未生效，请直接删除该任职")
            % {"on": on, "from": assignment.valid_from}
        )
    if assignment.valid_to is not None:
        if assignment.valid_to == on:
            return assignment
        if assignment.valid_to < on:
            raise ValidationError(
                _("该任职已于 %(to)s 结束，不能改到更晚的 %(on)s") % {"to": assignment.valid_to, "on": on}
            )
    assignment.valid_to = on
    assignment.save(update_fields=["valid_to"])
    return assignment


# ---------------------------------------------------------------------------------------------------------------
# Squads
# ---------------------------------------------------------------------------------------------------------------


def squad_kind_get(kind: SquadKind | str) -> SquadKind:
    """A SquadKind from an instance or its code ("street_order", "sanitation", "municipal", …)."""
    if isinstance(kind, SquadKind):
        return kind
    found = SquadKind.objects.filter(code=kind).first()
    if found is None:
        codes = "、".join(SquadKind.objects.values_list("code", flat=True))
        raise ValidationError(
            {"kind": _("未知的中队类型「%(kind)s」，可用：%(codes)s") % {"kind": kind, "codes": codes}}
        )
    return found


@transaction.atomic
def squad_create(
    *,
    name: str,
    kind: SquadKind | str,
    duty_phone: str,
    street_office: Area | None = None,
    service_areas: Iterable[Area] = (),
    lanes: Iterable[Lane] = (),
) -> Squad:
    """A squad (中队) of `kind` with a public duty phone, serving whole areas (street offices, communities,
    grid cells) and/or individual lanes. A squad given only a street office serves that whole street office
    (see people.selectors.squads_for_lane for the precedence)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("中队名称不能为空")})
    if Squad.objects.filter(name=name).exists():
        raise ValidationError({"name": _("中队「%(name)s」已存在") % {"name": name}})
    kind = squad_kind_get(kind)
    _check_level(street_office, Level.STREET_OFFICE, "street_office")
    squad = Squad.objects.create(
        name=name, kind=kind, duty_phone=_phone_field("duty_phone", duty_phone), street_office=street_office
    )
    areas = list(service_areas)
    if areas:
        squad.service_areas.add(*areas)
    lanes = list(lanes)
    if lanes:
        squad.lanes.add(*lanes)
    return squad


@transaction.atomic
def squad_update(*, squad: Squad, **changes) -> Squad:
    """Change a squad's name, duty_phone or street_office."""
    allowed = {"name", "duty_phone", "street_office"}
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"squad_update: unknown fields {sorted(unknown)}")
    if "duty_phone" in changes:
        changes["duty_phone"] = _phone_field("duty_phone", changes["duty_phone"])
    if "name" in changes:
        changes["name"] = (changes["name"] or "").strip()
        if not changes["name"]:
            raise ValidationError({"name": _("中队名称不能为空")})
        if Squad.objects.filter(name=changes["name"]).exclude(pk=squad.pk).exists():
            raise ValidationError({"name": _("中队「%(name)s」已存在") % {"name": changes["name"]}})
    if "street_office" in changes:
        _check_level(changes["street_office"], Level.STREET_OFFICE, "street_office")
    changed = [field for field, value in changes.items() if getattr(squad, field) != value]
    for field in changed:
        setattr(squad, field, changes[field])
    if changed:
        squad.save(update_fields=changed)
    return squad


@transaction.atomic
def squad_add_lanes(*, squad: Squad, lanes: Iterable[Lane]) -> Squad:
    squad.lanes.add(*list(lanes))
    return squad


@transaction.atomic
def squad_remove_lanes(*, squad: Squad, lanes: Iterable[Lane]) -> Squad:
    squad.lanes.remove(*list(lanes))
    return squad


@transaction.atomic
def squad_set_service_areas(*, squad: Squad, areas: Iterable[Area]) -> Squad:
    squad.service_areas.set(list(areas))
    return squad


@transaction.atomic
def squad_add_member(*, squad: Squad, person: Person, is_leader: bool = False) -> SquadMembership:
    membership, created = SquadMembership.objects.get_or_create(
        squad=squad, person=person, defaults={"is_leader": is_leader}
    )
    if not created and membership.is_leader != is_leader:
        membership.is_leader = is_leader
        membership.save(update_fields=["is_leader"])
    return membership


@transaction.atomic
def squad_remove_member(*, squad: Squad, person: Person) -> None:
    SquadMembership.objects.filter(squad=squad, person=person).delete()


# ---------------------------------------------------------------------------------------------------------------
# Work groups
# ---------------------------------------------------------------------------------------------------------------


@transaction.atomic
def work_group_create(
    *,
    department: Department,
    name: str,
    leader: Person | None = None,
    members: Iterable[Person] = (),
    lanes: Iterable[Lane] = (),
) -> WorkGroup:
    """A department's work group (工作组) patrolling some lanes every day. The leader is also a member."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("工作组名称不能为空")})
    if WorkGroup.objects.filter(department=department, name=name).exists():
        raise ValidationError(
            {"name": _("部门「%(dept)s」已有工作组「%(name)s」") % {"dept": department.name, "name": name}}
        )
    group = WorkGroup.objects.create(department=department, name=name, leader=leader)
    people = list(members) + ([leader] if leader is not None else [])
    if people:
        group.members.add(*people)
    lanes = list(lanes)
    if lanes:
        group.lanes.add(*lanes)
    return group


@transaction.atomic
def work_group_set_leader(*, work_group: WorkGroup, leader: Person | None) -> WorkGroup:
    work_group.leader = leader
    work_group.save(update_fields=["leader"])
    if leader is not None:
        work_group.members.add(leader)
    return work_group


@transaction.atomic
def work_group_add_members(*, work_group: WorkGroup, people: Iterable[Person]) -> WorkGroup:
    work_group.members.add(*list(people))
    return work_group


@transaction.atomic
def work_group_remove_member(*, work_group: WorkGroup, person: Person) -> WorkGroup:
    if work_group.leader_id == person.pk:
        raise ValidationError(_("%(person)s 是组长，请先更换组长") % {"person": person.name})
    work_group.members.remove(person)
    return work_group


@transaction.atomic
def work_group_set_lanes(*, work_group: WorkGroup, lanes: Iterable[Lane]) -> WorkGroup:
    work_group.lanes.set(list(lanes))
    return work_group
