"""Writes on cases. Every change of a case goes through `report_case` or `transition` (or the periodic sweeps),
inside one transaction: the case row is locked (SELECT … FOR UPDATE), the client's `version` is checked (stale →
CaseConflict, HTTP 409), cases.workflow decides whether the actor's roles allow the action from the current
state, the effect is applied, the version bumped, a CaseEvent appended and notifications enqueued."""

from __future__ import annotations

import hashlib
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.gis.geos import Point
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import conf, notifications, routing
from cases import workflow as wf
from cases.calendar import WorkCalendar
from cases.models import (
    CLOCK_STATUSES,
    OPEN_STATUSES,
    OWNER_COMMUNITY,
    OWNER_STREET_OFFICE,
    Attachment,
    AttachmentKind,
    Attendance,
    Case,
    CaseEvent,
    OwnerQueue,
    Source,
    Status,
)
from cases.permissions import Scope, can_read, roles_for, scope_for
from cases.photos import PhotoError, clean_photo
from cases.selectors import distance_from


class CaseError(Exception):
    """A refused request; `status_code` is the HTTP answer, `message` says what is wrong (Chinese, for users)."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CaseInputError(CaseError):
    status_code = 400


class CaseForbidden(CaseError):
    status_code = 403


class CaseNotFound(CaseError):
    status_code = 404


class CaseConflict(CaseError):
    status_code = 409


TRACKING_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I
MAX_EXTENSION_HOURS = 24 * 30
ROLE_PRIORITY = [
    wf.SYSTEM,
    wf.SQUAD_LEADER,
    wf.SQUAD_MEMBER,
    wf.LANE_CHIEF,
    wf.STREET_STAFF,
    wf.DISTRICT_ADMIN,
    wf.REPORTER,
    wf.HANDLER,
]


@dataclass
class ReportResult:
    case: Case
    created: bool  # False: an earlier submission with the same idempotency key


# --- helpers ------------------------------------------------------------------------------------------------
def new_tracking_code() -> str:
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(10))


def idempotency_hash(key: str, user) -> str:
    """Keys are per reporter: the same key from another account (or anonymously) is a different submission."""
    who = f"user:{user.pk}" if user is not None and user.is_authenticated else "anon"
    return hashlib.sha256(f"{who}\n{key}".encode()).hexdigest()


def _clean_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = str(key).strip()
    if not key:
        return None
    if len(key) > 200 or not key.isprintable():
        raise CaseInputError(_("Idempotency-Key 须为不超过 200 个可打印字符"))
    return key


def _clean_photos(photos) -> list:
    photos = list(photos or [])
    if len(photos) > conf.get("CASE_PHOTO_MAX_COUNT"):
        raise CaseInputError(_("最多上传 %(n)d 张照片") % {"n": conf.get("CASE_PHOTO_MAX_COUNT")})
    try:
        return [clean_photo(p) for p in photos]
    except PhotoError as exc:
        error = CaseInputError(str(exc))
        error.status_code = exc.status_code  # 413 for an oversized photo
        raise error from None


def _store_photo(case: Case, cleaned, *, kind: str, user, now=None) -> Attachment:
    attachment = Attachment(
        case=case,
        created_at=now or timezone.now(),
        kind=kind,
        content_type=cleaned.content_type,
        size_bytes=len(cleaned.content),
        width=cleaned.width,
        height=cleaned.height,
        sha256=cleaned.sha256,
        exif_point=cleaned.exif_point,
        uploaded_by=user if user is not None and user.is_authenticated else None,
    )
    attachment.file.save(f"{uuid.uuid4().hex}.{cleaned.extension}", ContentFile(cleaned.content), save=False)
    attachment.save()
    return attachment


def _actor_name(user, scope: Scope | None = None) -> str:
    """How `user` is named on the timeline: their person's name, else their full name, else the username. A scope
    read for this user (cases.permissions.scope_for) already holds the person's name: no further read."""
    if user is None or not user.is_authenticated:
        return str(_("公众"))
    if scope is not None and scope.user_id == user.pk:
        name = scope.person_name
    else:
        person = getattr(user, "person", None)
        name = person.name if person is not None else None
    return name if name is not None else (user.get_full_name() or user.get_username())


def _event(
    case: Case,
    *,
    action: str,
    from_status: str,
    to_status: str,
    now,
    user=None,
    role: str = "",
    note: str = "",
    point: Point | None = None,
    data: dict | None = None,
    scope: Scope | None = None,
) -> CaseEvent:
    """An unsaved timeline step (see _record); `scope`: the user's, when read already (names them)."""
    return CaseEvent(
        case=case,
        at=now,
        actor=user if user is not None and user.is_authenticated else None,
        actor_name=_actor_name(user, scope) if role != wf.SYSTEM else str(_("系统")),
        actor_role=role,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        point=point,
        data=data or {},
    )


def _record(
    case: Case,
    *,
    action: str,
    from_status: str,
    to_status: str,
    now,
    user=None,
    role: str = "",
    note: str = "",
    point: Point | None = None,
    data: dict | None = None,
) -> CaseEvent:
    event = _event(
        case,
        action=action,
        from_status=from_status,
        to_status=to_status,
        now=now,
        user=user,
        role=role,
        note=note,
        point=point,
        data=data,
    )
    event.save(force_insert=True)
    return event


def _main_role(transition: wf.Transition, roles: set[str]) -> str:
    """The role an action is recorded under: the most specific one that allows it (for "handler", the concrete
    role behind it: squad leader / member, street staff, district admin)."""
    usable = transition.roles & roles
    if wf.HANDLER in usable:
        usable |= roles & {wf.SQUAD_LEADER, wf.SQUAD_MEMBER, wf.STREET_STAFF, wf.DISTRICT_ADMIN}
    for role in ROLE_PRIORITY:
        if role in usable:
            return role
    return ""


def _start_clock(case: Case, now, calendar: WorkCalendar) -> None:
    allowance = calendar.allowance(case.category.deadline_amount, case.category.deadline_unit)
    case.clock_unit = allowance.clock_unit
    case.limit_seconds = allowance.seconds
    case.deadline = calendar.add(now, allowance.seconds, allowance.clock_unit)
    case.dispatched_at = case.dispatched_at or now
    case.supervision_level = 0
    case.supervised_at = None
    case.supervision_due = None
    case.extension_request = None


def _apply_route(case: Case, route: routing.Route) -> None:
    case.owner_queue = route.owner_queue
    case.squad = route.squad
    case.routing_reason = route.reason


# --- submission ----------------------------------------------------------------------------------------------
def report_case(
    *,
    category_code: str,
    point: Point,
    description: str = "",
    lane_id: int | None = None,
    reporter=None,
    contact: str = "",
    idempotency_key: str | None = None,
    photos=(),
    source: str | None = None,
    now=None,
    reporter_scope: Scope | None = None,
    calendar: WorkCalendar | None = None,
) -> ReportResult:
    """File a case and dispatch it at once (routing decides where). A retried submission with the same
    idempotency key returns the first case (created=False). Everything is checked before anything is written:
    a bad input raises CaseInputError and leaves the database unchanged.

    The hot path of the API: one statement reads everything (routing.plan_report: earlier submission, category,
    place, squads), the case is inserted once, already dispatched (its timeline still records "report" then
    "dispatch"), both events in one INSERT, then the notification and its job. `reporter_scope` (the reporter's
    cases.permissions scope) and `calendar` may be passed by a caller that already has them."""
    key = _clean_key(idempotency_key)
    key_hash = idempotency_hash(key, reporter) if key else None
    plan = routing.plan_report(category_code=category_code, point=point, lane_id=lane_id, idempotency_key=key_hash)
    if plan.existing_case_id is not None:
        existing = Case.objects.filter(pk=plan.existing_case_id).first()
        if existing is not None:
            return ReportResult(existing, False)
    description = (description or "").strip()
    if len(description) > 2000:
        raise CaseInputError(_("描述不能超过 2000 字"))
    contact = (contact or "").strip()
    if len(contact) > 64:
        raise CaseInputError(_("联系方式不能超过 64 个字符"))
    category = plan.category
    if category is None:
        raise CaseInputError(_("未知的案件类别：%(code)s") % {"code": str(category_code)[:40]})
    cleaned = _clean_photos(photos)
    if plan.error:
        raise CaseInputError(plan.error)
    place, route = plan.place, plan.route
    authenticated = reporter is not None and reporter.is_authenticated
    if source is None:
        source = Source.PUBLIC
        if authenticated:
            reporter_scope = reporter_scope if reporter_scope is not None else scope_for(reporter)
            if reporter_scope.lane_ids:
                source = Source.CHIEF
            elif reporter_scope.is_staff_anywhere or reporter_scope.squad_ids:
                source = Source.STAFF
    now = now or timezone.now()
    calendar = calendar or WorkCalendar.load()
    try:
        with transaction.atomic():
            # Inserted in its final state of this transaction (dispatched, version 2): the same row as reporting
            # then dispatching, written once. The timeline records both steps.
            case = Case(
                tracking_code=new_tracking_code(),
                category=category,
                point=point,
                description=description,
                source=source,
                lane=place.lane,
                lane_distance_m=place.lane_distance_m,
                grid_cell=place.grid_cell,
                community=place.community,
                street_office=place.street_office,
                status=Status.DISPATCHED,
                version=2,
                created_at=now,
                reporter=reporter if authenticated else None,
                reporter_contact=contact,
                idempotency_key=key_hash,
            )
            _apply_route(case, route)
            _start_clock(case, now, calendar)
            case.dispatched_at = now
            _insert_case_and_events(
                case,
                [
                    _event(
                        case,
                        action="report",
                        from_status="",
                        to_status=Status.REPORTED,
                        now=now,
                        user=reporter,
                        role=wf.REPORTER if authenticated else "",
                        point=point,
                        note=description[:200],
                        scope=reporter_scope,
                    ),
                    _event(
                        case,
                        action="dispatch",
                        from_status=Status.REPORTED,
                        to_status=Status.DISPATCHED,
                        now=now,
                        role=wf.SYSTEM,
                        note=case.routing_reason,
                        data=_dispatch_data(case),
                    ),
                ],
            )
            for photo in cleaned:
                _store_photo(case, photo, kind=AttachmentKind.REPORT, user=reporter, now=now)
            notifications.case_dispatched(case)
    except IntegrityError:
        if key_hash:
            existing = Case.objects.filter(idempotency_key=key_hash).first()
            if existing is not None:  # the same submission raced in from a second connection
                return ReportResult(existing, False)
        raise
    return ReportResult(case, True)


def _insert_values(obj, fields) -> tuple[list[str], list]:
    """Placeholders and parameters for `fields` of a new `obj`, prepared as the ORM's INSERT prepares them
    (pre_save: defaults such as auto_now; get_db_prep_save: adapters for geometries, JSON, arrays)."""
    from django.db import connection

    placeholders, params = [], []
    for f in fields:
        value = f.get_db_prep_save(f.pre_save(obj, add=True), connection)
        placeholders.append(f.get_placeholder(value, None, connection) if hasattr(f, "get_placeholder") else "%s")
        params.append(value)
    return placeholders, params


def _insert_case_and_events(case: Case, events: list[CaseEvent]) -> None:
    """INSERT a new case and its first timeline events in one statement (what case.save(force_insert=True) then
    CaseEvent.objects.bulk_create(events) write, in one round trip and without the ORM's query compiler: this is
    on every submission). Sets the primary keys and marks the instances saved, as the ORM does."""
    from django.db import connection

    case_fields = [f for f in Case._meta.concrete_fields if not f.primary_key]
    event_fields = [f for f in CaseEvent._meta.concrete_fields if not f.primary_key and f.attname != "case_id"]
    case_ph, params = _insert_values(case, case_fields)
    rows = []
    for event in events:
        event_ph, event_params = _insert_values(event, event_fields)
        rows.append("((SELECT id FROM c), " + ", ".join(event_ph) + ")")
        params += event_params
    sql = (
        f"WITH c AS (INSERT INTO {Case._meta.db_table} ({', '.join(f.column for f in case_fields)}) "
        f"VALUES ({', '.join(case_ph)}) RETURNING id), "
        f"e AS (INSERT INTO {CaseEvent._meta.db_table} (case_id, {', '.join(f.column for f in event_fields)}) "
        f"VALUES {', '.join(rows)} RETURNING id) "
        "SELECT (SELECT id FROM c), ARRAY(SELECT id FROM e ORDER BY id)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        case_id, event_ids = cursor.fetchone()
    for obj, pk in [(case, case_id), *zip(events, event_ids, strict=True)]:
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
    for event in events:
        event.case = case  # the case_id read when the event was made was None


def _dispatch_data(case: Case, data: dict | None = None) -> dict:
    event_data = {"owner_queue": case.owner_queue, "squad_id": case.squad_id, "reason": case.routing_reason}
    event_data.update(data or {})
    return event_data


def _dispatch(
    case: Case, *, now, calendar: WorkCalendar, action: str, user=None, role=wf.SYSTEM, note="", data=None
) -> None:
    """Put the case in its (already chosen) queue with a fresh clock, record it and tell the queue."""
    from_status = case.status
    case.status = Status.DISPATCHED
    case.dispatched_at = now
    _start_clock(case, now, calendar)
    case.accepted_at = None
    case.version += 1
    case.save()
    event_data = _dispatch_data(case, data)
    _record(
        case,
        action=action,
        from_status=from_status,
        to_status=Status.DISPATCHED,
        now=now,
        user=user,
        role=role,
        note=note or case.routing_reason,
        data=event_data,
    )
    notifications.case_dispatched(case)


# --- transitions ------------------------------------------------------------------------------------------------
def _lock(case_id) -> Case:
    try:
        return (
            Case.objects.select_for_update(of=("self",))
            .select_related("category", "street_office", "community", "lane", "squad")
            .get(pk=case_id)
        )
    except (Case.DoesNotExist, ValueError, TypeError):
        raise CaseNotFound(_("案件不存在")) from None


def _check_version(case: Case, version) -> None:
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise CaseInputError(_("请提供案件版本号 version（整数）")) from None
    if version != case.version:
        raise CaseConflict(
            _("案件已被他人更新（当前版本 %(current)d，您提交的是 %(sent)d），请刷新后重试")
            % {"current": case.version, "sent": version}
        )


@transaction.atomic
def transition(
    *,
    case_id: int,
    action: str,
    user,
    version,
    note: str = "",
    point: Point | None = None,
    params: dict | None = None,
    photos=(),
    now=None,
) -> Case:
    """Take workflow `action` on a case as `user`. Raises CaseNotFound (cannot read it), CaseForbidden (role),
    CaseConflict (stale version or not allowed in the current state), CaseInputError (missing or bad input)."""
    if action not in wf.USER_ACTIONS:
        raise CaseInputError(_("未知操作：%(action)s") % {"action": str(action)[:40]})
    note = (note or "").strip()
    if len(note) > 2000:
        raise CaseInputError(_("说明不能超过 2000 字"))
    cleaned = _clean_photos(photos)
    scope = scope_for(user)
    if action == "merge" and str((params or {}).get("into", "")).isdigit():
        # Two cases change: lock both in id order, so that A→B and B→A merged at once cannot deadlock.
        list(
            Case.objects.select_for_update(of=("self",))
            .filter(pk__in=[case_id, int(params["into"])])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    case = _lock(case_id)
    if not can_read(scope, case):
        raise CaseNotFound(_("案件不存在"))
    roles = roles_for(scope, case)
    transition_def = wf.get(action)
    if not (transition_def.roles & roles):
        raise CaseForbidden(_("您无权对此案件执行「%(label)s」") % {"label": transition_def.label})
    _check_version(case, version)
    try:
        transition_def = wf.check(action, status=case.status, roles=roles)
    except wf.IllegalTransition as exc:
        raise CaseConflict(exc.message) from None
    if transition_def.note_required and not note:
        raise CaseInputError(_("「%(label)s」须填写说明或理由") % {"label": transition_def.label})
    now = now or timezone.now()
    ctx = _Ctx(
        case=case,
        user=user,
        scope=scope,
        role=_main_role(transition_def, roles),
        note=note,
        point=point,
        params=params or {},
        photos=cleaned,
        now=now,
        calendar=WorkCalendar.load(),
    )
    EFFECTS[action](ctx)
    return case


@dataclass
class _Ctx:
    case: Case
    user: object
    scope: Scope
    role: str
    note: str
    point: Point | None
    params: dict
    photos: list
    now: object
    calendar: WorkCalendar

    def record(self, action: str, from_status: str, *, data: dict | None = None, bump: bool = True) -> CaseEvent:
        if bump:
            self.case.version += 1
        self.case.save()
        return _record(
            self.case,
            action=action,
            from_status=from_status,
            to_status=self.case.status,
            now=self.now,
            user=self.user,
            role=self.role,
            note=self.note,
            point=self.point,
            data=data,
        )


def _accept(ctx: _Ctx) -> None:
    was = ctx.case.status
    ctx.case.status = Status.ACCEPTED
    ctx.case.accepted_at = ctx.now
    ctx.record("accept", was)


def _assign(ctx: _Ctx) -> None:
    from people.models import Squad

    case = ctx.case
    squad = Squad.objects.select_related("kind").filter(pk=_int_param(ctx.params, "squad")).first()
    if squad is None:
        raise CaseInputError(_("指派的中队不存在"))
    if case.category.sensitive or case.category.owner in (OWNER_COMMUNITY, OWNER_STREET_OFFICE):
        raise CaseInputError(_("该类别由社区或街道办理，不能指派给中队"))
    if squad.kind.code != case.category.owner:
        raise CaseInputError(
            _("类别「%(cat)s」须由%(kind)s类中队办理，「%(squad)s」不是")
            % {"cat": case.category.name, "kind": case.category.owner, "squad": squad.name}
        )
    case.owner_queue = OwnerQueue.SQUAD
    case.squad = squad
    case.routing_reason = _("%(who)s指派：%(squad)s") % {"who": _actor_name(ctx.user), "squad": squad.name}
    _dispatch(
        case,
        now=ctx.now,
        calendar=ctx.calendar,
        action="assign",
        user=ctx.user,
        role=ctx.role,
        note=ctx.note or case.routing_reason,
    )


def _return(ctx: _Ctx) -> None:
    case = ctx.case
    if case.owner_queue != OwnerQueue.SQUAD or case.squad_id is None:
        raise CaseConflict(_("案件不在中队手中，无法退回"))
    returned_by = case.squad
    case.returned_squad_ids = [*case.returned_squad_ids, case.squad_id]
    place = routing.Place(
        point=case.point,
        street_office=case.street_office,
        community=case.community,
        grid_cell=case.grid_cell,
        district=case.street_office.parent,
        lane=case.lane,
        lane_distance_m=case.lane_distance_m,
    )
    route = routing.route(case.category, place, exclude_ids=case.returned_squad_ids)
    _apply_route(case, route)
    _dispatch(
        case,
        now=ctx.now,
        calendar=ctx.calendar,
        action="return",
        user=ctx.user,
        role=ctx.role,
        note=ctx.note,
        data={"returned_by_squad_id": returned_by.pk, "returned_by": returned_by.name},
    )


def _work_started_at(case: Case):
    """When the current round of work began (accept, or the latest rework); resuming does not restart it."""
    last = (
        CaseEvent.objects.filter(case=case, to_status__in=[Status.ACCEPTED, Status.REWORK])
        .exclude(action="resume")
        .order_by("-at", "-id")
        .values_list("at", flat=True)
        .first()
    )
    return last or case.accepted_at or case.created_at


def _resolve(ctx: _Ctx) -> None:
    case = ctx.case
    for photo in ctx.photos:
        _store_photo(case, photo, kind=AttachmentKind.AFTER, user=ctx.user, now=ctx.now)
    has_after = Attachment.objects.filter(
        case=case, kind=AttachmentKind.AFTER, created_at__gte=_work_started_at(case)
    ).exists()
    if not has_after:
        raise CaseInputError(_("处置完毕须上传处置后照片"))
    was = case.status
    case.status = Status.RESOLVED
    case.resolved_at = ctx.now
    ctx.record("resolve", was)


def _recheck_pass(ctx: _Ctx) -> None:
    for photo in ctx.photos:
        _store_photo(ctx.case, photo, kind=AttachmentKind.RECHECK, user=ctx.user, now=ctx.now)
    ctx.case.status = Status.RECHECKED
    ctx.record("recheck_pass", Status.RESOLVED)


def _to_rework(ctx: _Ctx, action: str) -> None:
    case = ctx.case
    for photo in ctx.photos:
        _store_photo(case, photo, kind=AttachmentKind.RECHECK, user=ctx.user, now=ctx.now)
    was = case.status
    case.status = Status.REWORK
    case.resolved_at = None
    case.closed_at = None
    case.spot_check_due = False
    _start_clock(case, ctx.now, ctx.calendar)  # the rework gets the category's full time limit again
    ctx.record(action, was)
    notifications.case_dispatched(case)


def _close(ctx: _Ctx) -> None:
    ctx.case.status = Status.CLOSED
    ctx.case.closed_at = ctx.now
    ctx.record("close", Status.RECHECKED)


def _request_extension(ctx: _Ctx) -> None:
    case = ctx.case
    if case.extension_request:
        raise CaseConflict(_("已有待审批的延期申请"))
    hours = _number_param(ctx.params, "hours")
    if not 0 < hours <= MAX_EXTENSION_HOURS:
        raise CaseInputError(_("延期小时数须大于 0 且不超过 %(max)d") % {"max": MAX_EXTENSION_HOURS})
    case.extension_request = {
        "hours": hours,
        "reason": ctx.note,
        "by": _actor_name(ctx.user),
        "at": ctx.now.isoformat(),
    }
    ctx.record("request_extension", case.status, data={"hours": hours})
    notifications.extension_requested(case)


def _approve_extension(ctx: _Ctx) -> None:
    case = ctx.case
    request = case.extension_request
    if not request:
        raise CaseConflict(_("没有待审批的延期申请"))
    seconds = int(float(request["hours"]) * 3600)
    old = case.deadline
    case.deadline = ctx.calendar.add(case.deadline or ctx.now, seconds, case.clock_unit)
    case.limit_seconds += seconds
    case.extension_request = None
    ctx.record(
        "approve_extension",
        case.status,
        data={
            "hours": request["hours"],
            "old_deadline": old.isoformat() if old else None,
            "new_deadline": case.deadline.isoformat(),
        },
    )


def _reject_extension(ctx: _Ctx) -> None:
    case = ctx.case
    if not case.extension_request:
        raise CaseConflict(_("没有待审批的延期申请"))
    hours = case.extension_request["hours"]
    case.extension_request = None
    ctx.record("reject_extension", case.status, data={"hours": hours})


def _suspend(ctx: _Ctx) -> None:
    case = ctx.case
    was = case.status
    case.status_before_suspend = was
    case.suspended_at = ctx.now
    case.status = Status.SUSPENDED
    ctx.record("suspend", was)


def _resume(ctx: _Ctx) -> None:
    case = ctx.case
    if case.deadline is not None and case.suspended_at is not None:
        left = ctx.calendar.elapsed(case.suspended_at, case.deadline, case.clock_unit)
        if left > 0:
            case.deadline = ctx.calendar.add(ctx.now, left, case.clock_unit)
        else:  # overdue when suspended: stays overdue by as much
            case.deadline = ctx.now - (case.suspended_at - case.deadline)
    case.status = case.status_before_suspend or Status.DISPATCHED
    case.status_before_suspend = ""
    suspended_at = case.suspended_at
    case.suspended_at = None
    ctx.record("resume", Status.SUSPENDED, data={"suspended_at": suspended_at.isoformat() if suspended_at else None})


def _void(ctx: _Ctx) -> None:
    was = ctx.case.status
    ctx.case.status = Status.VOID
    ctx.case.extension_request = None
    ctx.record("void", was)


def _merge(ctx: _Ctx) -> None:
    case = ctx.case
    target_id = _int_param(ctx.params, "into")
    if target_id == case.pk:
        raise CaseInputError(_("不能合并到自身"))
    target = Case.objects.select_for_update(of=("self",)).filter(pk=target_id).first()
    if target is None or not can_read(ctx.scope, target):
        raise CaseInputError(_("要合并到的案件不存在"))
    if target.status not in OPEN_STATUSES or target.category_id != case.category_id:
        raise CaseInputError(_("只能合并到同类别、未办结的案件"))
    radius = conf.get("CASE_DUPLICATE_RADIUS_M")
    distance = (
        Case.objects.filter(pk=target.pk).annotate(d=distance_from("point", case.point)).values_list("d", flat=True)[0]
    )
    if distance > radius:
        raise CaseInputError(_("两案相距 %(d).0f 米，超过 %(max).0f 米，不是重复案件") % {"d": distance, "max": radius})
    was = case.status
    case.status = Status.MERGED
    case.merged_into = target
    case.extension_request = None
    ctx.record("merge", was, data={"into": target.pk, "into_code": target.tracking_code, "distance_m": distance})
    _record(
        target,
        action="merged_in",
        from_status=target.status,
        to_status=target.status,
        now=ctx.now,
        user=ctx.user,
        role=ctx.role,
        note=ctx.note,
        data={"from": case.pk, "from_code": case.tracking_code},
    )


def _spot_check_pass(ctx: _Ctx) -> None:
    if not ctx.case.spot_check_due:
        raise CaseConflict(_("该案件未被抽中回头看"))
    ctx.case.spot_check_due = False
    ctx.record("spot_check_pass", Status.CLOSED)


def _spot_check_fail(ctx: _Ctx) -> None:
    if not ctx.case.spot_check_due:
        raise CaseConflict(_("该案件未被抽中回头看"))
    _to_rework(ctx, "spot_check_fail")


def _attend(ctx: _Ctx) -> None:
    raise CaseInputError(_("到场请使用到场登记接口"))


EFFECTS = {
    "accept": _accept,
    "assign": _assign,
    "return": _return,
    "resolve": _resolve,
    "recheck_pass": _recheck_pass,
    "recheck_fail": lambda ctx: _to_rework(ctx, "recheck_fail"),
    "close": _close,
    "request_extension": _request_extension,
    "approve_extension": _approve_extension,
    "reject_extension": _reject_extension,
    "suspend": _suspend,
    "resume": _resume,
    "void": _void,
    "merge": _merge,
    "spot_check_pass": _spot_check_pass,
    "spot_check_fail": _spot_check_fail,
    "attend": _attend,
}
assert set(EFFECTS) == set(wf.USER_ACTIONS), "every user action of the workflow needs an effect"


def _int_param(params: dict, name: str) -> int:
    try:
        return int(params.get(name))
    except (TypeError, ValueError):
        raise CaseInputError(_("参数 %(name)s 须为整数") % {"name": name}) from None


def _number_param(params: dict, name: str) -> float:
    try:
        value = float(params.get(name))
    except (TypeError, ValueError):
        raise CaseInputError(_("参数 %(name)s 须为数字") % {"name": name}) from None
    if not math.isfinite(value):
        raise CaseInputError(_("参数 %(name)s 须为数字") % {"name": name})
    return value


# --- attachments and attendance ---------------------------------------------------------------------------------
@transaction.atomic
def add_attachment(*, case_id: int, user, upload, kind: str = AttachmentKind.BEFORE, now=None) -> Attachment:
    """Attach a photo to a case the user may act on (reporter, chief, squad, staff, admin)."""
    if kind not in AttachmentKind.values or kind == AttachmentKind.ATTENDANCE:
        raise CaseInputError(_("照片类型须为 report、before、after 或 recheck"))
    cleaned = _clean_photos([upload])[0]
    scope = scope_for(user)
    case = _lock(case_id)
    if not can_read(scope, case):
        raise CaseNotFound(_("案件不存在"))
    if case.status in (Status.VOID, Status.MERGED):
        raise CaseConflict(_("案件已作废或已合并，不能再上传照片"))
    return _store_photo(case, cleaned, kind=kind, user=user, now=now)


@transaction.atomic
def record_attendance(*, case_id: int, user, point: Point, note: str = "", photo=None, now=None) -> Attendance:
    """A lane chief's attendance at a must-attend occasion, within CASE_ATTEND_RADIUS_M of the case."""
    note = (note or "").strip()
    if len(note) > 2000:
        raise CaseInputError(_("说明不能超过 2000 字"))
    cleaned = _clean_photos([photo])[0] if photo is not None else None
    scope = scope_for(user)
    case = _lock(case_id)
    if not can_read(scope, case):
        raise CaseNotFound(_("案件不存在"))
    roles = roles_for(scope, case)
    try:
        transition_def = wf.check("attend", status=case.status, roles=roles)
    except wf.RoleNotAllowed as exc:
        raise CaseForbidden(exc.message) from None
    except wf.IllegalTransition as exc:
        raise CaseConflict(exc.message) from None
    if not case.category.must_attend:
        raise CaseInputError(_("类别「%(cat)s」不是必到事项") % {"cat": case.category.name})
    distance = Case.objects.filter(pk=case.pk).annotate(d=distance_from("point", point)).values_list("d", flat=True)[0]
    radius = conf.get("CASE_ATTEND_RADIUS_M")
    if distance > radius:
        raise CaseInputError(_("您距现场 %(d).0f 米，须在 %(max).0f 米以内登记到场") % {"d": distance, "max": radius})
    now = now or timezone.now()
    attachment = _store_photo(case, cleaned, kind=AttachmentKind.ATTENDANCE, user=user, now=now) if cleaned else None
    late = now > case.created_at + timedelta(hours=conf.get("CASE_ATTEND_DUE_HOURS"))
    attendance = Attendance.objects.create(
        case=case,
        user=user,
        person_name=_actor_name(user),
        point=point,
        distance_m=distance,
        at=now,
        late=late,
        note=note,
        photo=attachment,
    )
    _record(
        case,
        action="attend",
        from_status=case.status,
        to_status=case.status,
        now=now,
        user=user,
        role=_main_role(transition_def, roles),
        note=note,
        point=point,
        data={"distance_m": round(distance, 1), "late": late, "attendance_id": attendance.pk},
    )
    return attendance


# --- periodic: supervision and spot re-checks ---------------------------------------------------------------------
@dataclass
class SweepResult:
    supervised: list[int]
    escalated: list[int]


def sweep_overdue(*, now=None) -> SweepResult:
    """Overdue cases get a supervision notice (督办) to the squad and the street office, with a new time limit
    (the category's); still overdue when that runs out, they are escalated to the district. Each case in its own
    short transaction; cases locked by someone else are left for the next sweep."""
    now = now or timezone.now()
    calendar = WorkCalendar.load()
    result = SweepResult([], [])
    candidates = list(
        Case.objects.filter(status__in=CLOCK_STATUSES, deadline__lt=now, supervision_level__lt=2)
        .order_by("deadline")
        .values_list("pk", flat=True)
    )
    for case_id in candidates:
        with transaction.atomic():
            case = (
                Case.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("category", "street_office", "street_office__parent", "squad", "community", "lane")
                .filter(pk=case_id, status__in=CLOCK_STATUSES, deadline__lt=now)
                .first()
            )
            if case is None:
                continue
            if case.supervision_level == 0:
                allowance = calendar.allowance(case.category.deadline_amount, case.category.deadline_unit)
                case.supervision_level = 1
                case.supervised_at = now
                case.supervision_due = calendar.add(now, allowance.seconds, allowance.clock_unit)
                case.save()
                _record(
                    case,
                    action="supervise",
                    from_status=case.status,
                    to_status=case.status,
                    now=now,
                    role=wf.SYSTEM,
                    note=_("案件超期，发出督办通知，限期 %(due)s 前整改")
                    % {"due": timezone.localtime(case.supervision_due).strftime("%Y-%m-%d %H:%M")},
                    data={
                        "level": 1,
                        "deadline": case.deadline.isoformat(),
                        "supervision_due": case.supervision_due.isoformat(),
                    },
                )
                notifications.case_supervised(case)
                result.supervised.append(case.pk)
            elif case.supervision_level == 1 and case.supervision_due and case.supervision_due < now:
                case.supervision_level = 2
                case.supervised_at = now
                case.save()
                _record(
                    case,
                    action="escalate",
                    from_status=case.status,
                    to_status=case.status,
                    now=now,
                    role=wf.SYSTEM,
                    note=_("督办期限已过仍未办结，升级至区级督办"),
                    data={"level": 2, "supervision_due": case.supervision_due.isoformat()},
                )
                notifications.case_escalated(case)
                result.escalated.append(case.pk)
    return result


def sample_spot_checks(*, now=None, share: float | None = None, days: int = 7, rng=None) -> list[int]:
    """回头看: sample `share` (CASE_SPOT_CHECK_SHARE) of the cases closed in the past `days` days, at least one
    when any was closed, for on-site re-inspection. Returns the sampled case ids."""
    now = now or timezone.now()
    share = conf.get("CASE_SPOT_CHECK_SHARE") if share is None else share
    if not 0 < share <= 1:
        return []
    pool = list(
        Case.objects.filter(
            status=Status.CLOSED,
            closed_at__gte=now - timedelta(days=days),
            closed_at__lte=now,
            spot_check_due=False,
            spot_sampled_at__isnull=True,
        ).values_list("pk", flat=True)
    )
    if not pool:
        return []
    rng = rng or secrets.SystemRandom()
    chosen = sorted(rng.sample(pool, max(1, math.ceil(share * len(pool)))))
    sampled = []
    with transaction.atomic():
        for case in (
            Case.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("category", "street_office", "lane", "squad", "community")
            .filter(pk__in=chosen, status=Status.CLOSED)
        ):
            case.spot_check_due = True
            case.spot_sampled_at = now
            case.save()
            _record(
                case,
                action="spot_sample",
                from_status=case.status,
                to_status=case.status,
                now=now,
                role=wf.SYSTEM,
                note=_("抽中回头看，请现场复查"),
                data={"share": share, "pool": len(pool)},
            )
            notifications.spot_check_sampled(case)
            sampled.append(case.pk)
    return sampled


__all__ = [
    "CaseConflict",
    "CaseError",
    "CaseForbidden",
    "CaseInputError",
    "CaseNotFound",
    "ReportResult",
    "SweepResult",
    "add_attachment",
    "record_attendance",
    "report_case",
    "sample_spot_checks",
    "sweep_overdue",
    "transition",
]


def purge_all_cases() -> None:
    """Remove every case with its timeline, photos records and attendances: ONLY for resetting demo or test
    databases (e.g. before unloading the demo data set). TRUNCATE is deliberate here: the timeline refuses row
    deletes by design (migration 0002), and a reset is the one legitimate exception. Stored photo files are
    not removed."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE cases_attendance, cases_attachment, cases_caseevent, cases_case CASCADE")
