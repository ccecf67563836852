"""Writes for patrols. Keyword-only, typed; each public function is one transaction.

Input problems raise TrackError (patrols.importers.tracks) with a message for the patroller; the API answers
400 (UploadTooLarge: 413). Nothing is written when a track is refused.

Day rule: a patrol belongs to one local day (settings.TIME_ZONE). An uploaded track whose timestamps cross
midnight is split into one patrol per day (each part must hold at least two fixes; smaller parts are dropped
with a message). When the upload names its `day`, every fix must be on that day, else the track is refused.
A track without timestamps needs `day`. Live patrols: fixes sent on another day than the patrol's are ignored.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from django.conf import settings
from django.contrib.gis.geos import LineString, Point
from django.contrib.gis.measure import D
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from patrols import conf, coverage
from patrols.importers.tracks import RawPoint, TrackError, number_at, parse_time, parse_track
from patrols.models import (
    DailyReport,
    Finding,
    LaneDayCoverage,
    Patrol,
    PatrolLane,
    PatrolPhoto,
    PatrolPoint,
    PatrolSource,
    PatrolStatus,
)
from patrols.selectors import track_near_lanes
from patrols.tracks import Fix, clean, local_day, split_by_day, to_fixes

log = logging.getLogger(__name__)


class UploadTooLarge(TrackError):
    """The upload is over the size or point limit (HTTP 413)."""


class PatrolStateError(TrackError):
    """The patrol is not in a state that allows this (e.g. points sent to a finished patrol)."""


@dataclass
class UploadOutcome:
    patrols: list[Patrol]
    created: bool  # False: the same file was uploaded before; `patrols` are the existing ones
    messages: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------------
# Helpers


def _line(fixes: list[Fix]) -> LineString:
    return LineString([(f.lon, f.lat) for f in fixes], srid=settings.GEO_SRID)


def _work_group_for(person, lane_ids: set[int] | None = None):
    """The work group a patrol is recorded for: the person's only group; with several, the one holding most of
    the lanes the track covered (ties: lowest id); None when the person is in no group."""
    from django.db.models import Q

    from people.models import WorkGroup

    groups = list(WorkGroup.objects.filter(Q(members=person) | Q(leader=person)).distinct().order_by("id"))
    if len(groups) <= 1 or not lane_ids:
        return groups[0] if groups else None
    through = WorkGroup.lanes.through.objects
    best = max(
        groups,
        key=lambda g: (through.filter(workgroup_id=g.id, lane_id__in=lane_ids).count(), -g.id),
    )
    return best


def _check_size(data: bytes) -> None:
    limit = conf.get("PATROL_UPLOAD_MAX_BYTES")
    if len(data) > limit:
        raise UploadTooLarge(
            _("轨迹文件 %(size).1f MB，超过 %(max).1f MB 上限。请分段导出后分别上传。")
            % {"size": len(data) / 1048576, "max": limit / 1048576}
        )


def _check_points(n: int) -> None:
    limit = conf.get("PATROL_MAX_POINTS")
    if n > limit:
        raise UploadTooLarge(
            _("轨迹有 %(n)d 个点，超过 %(max)d 个上限。请降低记录频率或分段上传。") % {"n": n, "max": limit}
        )


def _lane_ids(ids) -> list[int]:
    """The ticked lanes, checked: unknown ids refuse the request (nothing written)."""
    from lanes.models import Lane

    ids = sorted({int(i) for i in ids or ()})
    if not ids:
        return []
    known = set(Lane.objects.filter(id__in=ids).values_list("id", flat=True))
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise TrackError(_("没有编号为 %(ids)s 的街巷。") % {"ids": "、".join(map(str, unknown[:10]))})
    return ids


def _far_message() -> str:
    return _("轨迹距离所有街巷都超过 %(m)d 米，不能作为街巷巡查记录。请确认上传的是本次巡查的轨迹。") % {
        "m": round(conf.get("PATROL_MAX_LANE_DISTANCE_M"))
    }


# ---------------------------------------------------------------------------------------------------------------
# Uploads


def patrol_upload(
    *,
    person,
    data: bytes,
    filename: str = "",
    fmt: str | None = None,
    coordsys: str = "wgs84",
    day: date | None = None,
    notes: str = "",
    ticked_lane_ids: list[int] | tuple = (),
    created_by=None,
    now: datetime | None = None,
) -> UploadOutcome:
    """Record patrol(s) from an uploaded GPX / GeoJSON track of `person` (see the module docstring for the
    day rule and patrols.tracks for cleaning). The same file uploaded again by the same person returns the
    patrols it made the first time (created=False)."""
    now = now or timezone.now()
    _check_size(data)
    ticked_lane_ids = _lane_ids(ticked_lane_ids)
    digest = hashlib.sha256(data).hexdigest()
    existing = list(Patrol.objects.filter(person=person, upload_hash=digest).order_by("day", "id"))
    if existing:
        return UploadOutcome(existing, False, [_("该轨迹文件已上传过，未重复记录。")])

    parsed = parse_track(data, filename=filename, fmt=fmt)
    _check_points(len(parsed.points))
    result = clean(to_fixes(parsed.points, coordsys=coordsys), now=now)
    messages = list(result.messages)

    if result.timed:
        parts = split_by_day(result.fixes)
        if day is not None and set(parts) != {day}:
            raise TrackError(
                _("轨迹时间在 %(days)s，与填写的巡查日期 %(day)s 不符。请核对日期，或不填日期按轨迹时间记录。")
                % {"days": "、".join(d.isoformat() for d in parts), "day": day.isoformat()}
            )
        if len(parts) > 1:
            small = [d for d, fx in parts.items() if len(fx) < 2]
            parts = {d: fx for d, fx in parts.items() if len(fx) >= 2}
            messages.append(
                _("轨迹跨越午夜，已按日期拆分为 %(n)d 条巡查记录。") % {"n": len(parts)}
                + (
                    _("（%(days)s 只有 1 个定位点，已忽略）") % {"days": "、".join(d.isoformat() for d in small)}
                    if small
                    else ""
                )
            )
            if not parts:
                raise TrackError(_("每个日期的有效定位点都少于 2 个，无法形成轨迹。"))
    else:
        if day is None:
            raise TrackError(_("轨迹中没有时间信息，请填写巡查日期（day）。"))
        if day > timezone.localdate(now):
            raise TrackError(_("巡查日期 %(day)s 在未来。") % {"day": day.isoformat()})
        parts = {day: result.fixes}

    lines = {d: _line(fx) for d, fx in parts.items()}
    far = [d for d, line in lines.items() if not track_near_lanes(line)]
    if len(far) == len(lines):
        raise TrackError(_far_message())
    for d in far:
        messages.append(
            _("%(day)s 的轨迹距离所有街巷都超过 %(m)d 米，已忽略。")
            % {"day": d.isoformat(), "m": round(conf.get("PATROL_MAX_LANE_DISTANCE_M"))}
        )
        del lines[d]

    source = PatrolSource.GPX if parsed.format == "gpx" else PatrolSource.GEOJSON
    try:
        with transaction.atomic():
            created = []
            for d, line in lines.items():
                fx = parts[d]
                patrol = Patrol.objects.create(
                    person=person,
                    department_id=person.department_id,
                    day=d,
                    started_at=fx[0].t,
                    ended_at=fx[-1].t,
                    track=line,
                    source=source,
                    coordsys=(coordsys or "wgs84").lower(),
                    upload_name=(filename or "")[:200],
                    upload_hash=digest,
                    status=PatrolStatus.FINISHED,
                    notes=notes,
                    cleaning=result.summary() | {"messages": messages},
                    created_by=created_by,
                )
                if ticked_lane_ids:
                    patrol.ticked_lanes.set(ticked_lane_ids)
                created.append(patrol)
            _compute_coverage([p.id for p in created])
            for patrol in created:
                _snapshot_work_group(patrol)
    except IntegrityError:
        existing = list(Patrol.objects.filter(person=person, upload_hash=digest).order_by("day", "id"))
        if existing:  # the same upload raced in from another request
            return UploadOutcome(existing, False, [_("该轨迹文件已上传过，未重复记录。")])
        raise
    return UploadOutcome(created, True, messages)


def _snapshot_work_group(patrol: Patrol) -> None:
    lane_ids = set(PatrolLane.objects.filter(patrol=patrol, covered=True).values_list("lane_id", flat=True))
    group = _work_group_for(patrol.person, lane_ids)
    if group is not None and patrol.work_group_id != group.id:
        patrol.work_group = group
        patrol.save(update_fields=["work_group", "updated_at"])


# ---------------------------------------------------------------------------------------------------------------
# Live patrols


def patrol_start(
    *,
    person,
    coordsys: str = "wgs84",
    notes: str = "",
    ticked_lane_ids: list[int] | tuple = (),
    created_by=None,
    now: datetime | None = None,
) -> Patrol:
    """Open a live patrol for today; the phone page then sends points (patrol_add_points)."""
    now = now or timezone.now()
    coordsys = (coordsys or "wgs84").lower()
    if coordsys not in ("wgs84", "gcj02"):
        raise TrackError(_("坐标系只能是 wgs84 或 gcj02。"))
    ticked_lane_ids = _lane_ids(ticked_lane_ids)
    with transaction.atomic():
        patrol = Patrol.objects.create(
            person=person,
            department_id=person.department_id,
            work_group=_work_group_for(person),
            day=local_day(now),
            started_at=now,
            source=PatrolSource.LIVE,
            coordsys=coordsys,
            status=PatrolStatus.LIVE,
            notes=notes,
            created_by=created_by,
        )
        if ticked_lane_ids:
            patrol.ticked_lanes.set(ticked_lane_ids)
    return patrol


def patrol_add_points(*, patrol: Patrol, points: list[dict], now: datetime | None = None) -> dict:
    """Append fixes to a live patrol and rebuild its track from all kept fixes. Each point: lon, lat, optional
    t (ISO 8601 or Unix ms; default: now) and accuracy (metres). Coordinates are in the patrol's coordsys. A fix
    already stored (same time) is skipped, so a phone may resend a batch safely. Returns counts and messages."""
    now = now or timezone.now()
    limit = conf.get("PATROL_MAX_BATCH_POINTS")
    if not isinstance(points, list) or not points:
        raise TrackError(_("没有收到定位点。"))
    if len(points) > limit:
        raise UploadTooLarge(_("一次最多提交 %(max)d 个定位点。") % {"max": limit})
    raws = []
    accuracies = []
    for i, p in enumerate(points):
        if not isinstance(p, dict):
            raise TrackError(_("第 %(n)d 个定位点格式错误。") % {"n": i + 1})
        t = parse_time(p["t"]) if p.get("t") not in (None, "") else now
        raws.append(RawPoint(number_at(p.get("lon"), _("经度"), i), number_at(p.get("lat"), _("纬度"), i), t))
        acc = p.get("accuracy")
        accuracies.append(number_at(acc, _("精度"), i) if acc not in (None, "") else None)
    fixes = to_fixes(raws, coordsys=patrol.coordsys)  # validates ranges: one bad point refuses the batch
    messages = []
    with transaction.atomic():
        patrol = Patrol.objects.select_for_update().get(pk=patrol.pk)
        if patrol.status != PatrolStatus.LIVE:
            raise PatrolStateError(_("这次巡查已结束，不能再添加定位点。"))
        known = set(PatrolPoint.objects.filter(patrol=patrol).values_list("recorded_at", flat=True))
        seq = (
            PatrolPoint.objects.filter(patrol=patrol).order_by("-seq").values_list("seq", flat=True).first() or 0
        ) + 1
        new = []
        other_day = 0
        for fix, acc in zip(fixes, accuracies, strict=True):
            if fix.t in known:
                continue
            known.add(fix.t)
            on_day = local_day(fix.t) == patrol.day
            other_day += not on_day
            new.append(
                PatrolPoint(
                    patrol=patrol,
                    seq=seq,
                    point=Point(fix.lon, fix.lat, srid=settings.GEO_SRID),
                    recorded_at=fix.t,
                    accuracy_m=acc,
                    kept=on_day,
                    reason="" if on_day else "other_day",
                )
            )
            seq += 1
        PatrolPoint.objects.bulk_create(new)
        if other_day:
            messages.append(
                _("%(n)d 个定位点不在巡查当天（%(day)s），已忽略。") % {"n": other_day, "day": patrol.day.isoformat()}
            )
        rebuilt = _rebuild_track(patrol, now=now)
    return {
        "received": len(points),
        "stored": len(new),
        "duplicates": len(points) - len(new),
        "points_kept": rebuilt.get("points_kept", 0),
        "messages": messages + rebuilt.get("messages", []),
    }


def _rebuild_track(patrol: Patrol, *, now: datetime) -> dict:
    """Clean all on-day points of a live patrol again and store the track (None while under two fixes)."""
    rows = list(PatrolPoint.objects.filter(patrol=patrol).exclude(reason="other_day").order_by("recorded_at", "seq"))
    fixes = [Fix(r.point.x, r.point.y, r.recorded_at, r.accuracy_m, i) for i, r in enumerate(rows)]
    summary: dict = {"points_in": len(rows), "points_kept": 0, "messages": []}
    track = None
    kept_idx: set[int] = set()
    reasons: dict[int, str] = {}
    if fixes:
        try:
            result = clean(fixes, now=now)
        except TrackError as exc:
            summary["messages"] = [str(exc)]
            reasons = {f.index: f.reason or "too_few" for f in fixes}
        else:
            summary = result.summary()
            track = _line(result.fixes)
            kept_idx = {f.index for f in result.fixes}
            reasons = {f.index: f.reason for f in result.dropped}
    changed = []
    for i, row in enumerate(rows):
        kept = i in kept_idx
        reason = "" if kept else reasons.get(i, "repeat")
        if row.kept != kept or row.reason != reason:
            row.kept, row.reason = kept, reason
            changed.append(row)
    PatrolPoint.objects.bulk_update(changed, ["kept", "reason"])
    patrol.track = track
    patrol.cleaning = summary
    patrol.save(update_fields=["track", "cleaning", "updated_at"])
    return summary


def patrol_finish(*, patrol: Patrol, now: datetime | None = None, force: bool = False) -> Patrol:
    """End a live patrol: rebuild and check its track, compute the lanes it covered. A patrol without a usable
    track (under two fixes) or far from every lane is refused (TrackError) unless `force` (day close), which
    keeps it as "flagged" (待核查): it then counts for nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        patrol = Patrol.objects.select_for_update().select_related("person").get(pk=patrol.pk)
        if patrol.status != PatrolStatus.LIVE:
            raise PatrolStateError(_("这次巡查已经结束。"))
        summary = _rebuild_track(patrol, now=now)
        last = PatrolPoint.objects.filter(patrol=patrol, kept=True).order_by("-recorded_at").first()
        problem = None
        if patrol.track is None:
            problem = _("有效定位点少于 2 个，无法形成轨迹。") + "".join(summary.get("messages", [])[:1])
        elif not track_near_lanes(patrol.track):
            problem = _far_message()
        if problem and not force:
            raise TrackError(problem)
        if last is not None:
            ended = last.recorded_at
        else:
            ended = now if local_day(now) == patrol.day else patrol.started_at
        patrol.ended_at = max(ended, patrol.started_at) if patrol.started_at else ended
        if problem:
            patrol.status = PatrolStatus.FLAGGED
            patrol.cleaning = {**summary, "messages": [*summary.get("messages", []), problem]}
        else:
            patrol.status = PatrolStatus.FINISHED
        patrol.save(update_fields=["ended_at", "status", "cleaning", "updated_at"])
        if patrol.status == PatrolStatus.FINISHED:
            _compute_coverage([patrol.id])
            _snapshot_work_group(patrol)
    return patrol


def patrol_discard(*, patrol: Patrol) -> None:
    """Delete a live patrol (started by mistake)."""
    with transaction.atomic():
        patrol = Patrol.objects.select_for_update().get(pk=patrol.pk)
        if patrol.status != PatrolStatus.LIVE:
            raise PatrolStateError(_("只能删除进行中的巡查。"))
        patrol.delete()


def patrol_update(*, patrol: Patrol, notes: str | None = None, ticked_lane_ids: list[int] | None = None) -> Patrol:
    if ticked_lane_ids is not None:
        ticked_lane_ids = _lane_ids(ticked_lane_ids)
    with transaction.atomic():
        if notes is not None:
            patrol.notes = notes
            patrol.save(update_fields=["notes", "updated_at"])
        if ticked_lane_ids is not None:
            patrol.ticked_lanes.set(ticked_lane_ids)
    return patrol


# ---------------------------------------------------------------------------------------------------------------
# Findings and photos


def _nearest_lane_id(point: Point) -> int | None:
    from lanes.models import Lane

    # limit=3, not 1: lanes.selectors.nearest_lane_ids_sql bounds its search radius by the farthest of `limit`
    # KNN lanes; with limit=1 and a point lying on a lane that radius is 0 and floating point misses the lane.
    hit = Lane.objects.nearest(point, within=D(m=50), limit=3).first()
    return hit.id if hit else None


def finding_add(
    *,
    patrol: Patrol,
    description: str,
    category_code: str = "",
    point: Point | None = None,
    found_at: datetime | None = None,
    photos=(),
    now: datetime | None = None,
) -> Finding:
    """Record a finding on a patrol and file it as a case through the dispatch flow (cases.services.report_case,
    source "patrol"). If the case cannot be filed (unknown category, no place), the finding is kept with the
    reason in `case_error` and can be filed again with finding_file_case."""
    now = now or timezone.now()
    description = (description or "").strip()
    if not description:
        raise TrackError(_("请填写发现的问题。"))
    if len(description) > 2000:
        raise TrackError(_("描述不能超过 2000 字。"))
    cleaned = _clean_photos(photos)
    if point is None and patrol.track is not None:
        point = Point(*patrol.track.coords[-1], srid=settings.GEO_SRID)
    with transaction.atomic():
        finding = Finding.objects.create(
            patrol=patrol,
            point=point,
            lane_id=_nearest_lane_id(point) if point is not None else None,
            category_code=(category_code or "").strip()[:32],
            description=description,
            found_at=found_at or now,
        )
        for photo in cleaned:
            _store_photo(patrol=patrol, finding=finding, photo=photo)
    if finding.category_code:
        finding_file_case(finding=finding, photos=photos, now=now)
    return finding


def finding_file_case(*, finding: Finding, photos=(), now: datetime | None = None) -> Finding:
    """File (or re-file) the case of a finding. Idempotent: the idempotency key is the finding's id."""
    if finding.case_id is not None:
        return finding
    error = ""
    case_id = None
    if finding.point is None:
        error = _("缺少位置，无法转为案件。")
    else:
        try:
            from cases.services import CaseError, report_case
        except ImportError:
            error = _("案件模块不可用。")
        else:
            patrol = finding.patrol
            try:
                res = report_case(
                    category_code=finding.category_code,
                    point=finding.point,
                    description=finding.description,
                    lane_id=finding.lane_id,
                    reporter=patrol.person.user,
                    idempotency_key=f"patrol-finding:{finding.id}",
                    photos=photos,
                    source="patrol",
                    now=now,
                )
                case_id = res.case.id
            except CaseError as exc:
                error = str(exc.message)[:300]
    with transaction.atomic():
        finding.case_id = case_id
        finding.case_error = error
        finding.save(update_fields=["case_id", "case_error"])
    return finding


def _clean_photos(photos) -> list:
    photos = list(photos or [])
    if not photos:
        return []
    from cases.photos import PhotoError, clean_photo

    if len(photos) > 6:
        raise TrackError(_("最多上传 6 张照片。"))
    try:
        return [clean_photo(p) for p in photos]
    except PhotoError as exc:
        raise TrackError(str(exc)) from None


def _store_photo(*, patrol: Patrol, finding: Finding | None, photo) -> PatrolPhoto:
    from django.core.files.base import ContentFile

    obj = PatrolPhoto(patrol=patrol, finding=finding, sha256=photo.sha256, point=photo.exif_point)
    obj.image.save(f"{photo.sha256[:16]}.{photo.extension}", ContentFile(photo.content), save=False)
    obj.save()
    return obj


def patrol_add_photos(*, patrol: Patrol, photos, finding: Finding | None = None) -> list[PatrolPhoto]:
    """Photos are checked and re-encoded without metadata (cases.photos.clean_photo); EXIF location is kept."""
    cleaned = _clean_photos(photos)
    if not cleaned:
        raise TrackError(_("没有收到照片。"))
    with transaction.atomic():
        return [_store_photo(patrol=patrol, finding=finding, photo=p) for p in cleaned]


# ---------------------------------------------------------------------------------------------------------------
# Coverage and day close


# From this many tracks on, coverage runs as a parallel query (patrols.coverage.store_patrol_lanes).
PARALLEL_MIN_PATROLS = 32


def _compute_coverage(patrol_ids: list[int]) -> None:
    if not patrol_ids:
        return
    with connection.cursor() as cur:
        coverage.store_patrol_lanes(cur, patrol_ids=patrol_ids, parallel=len(patrol_ids) >= PARALLEL_MIN_PATROLS)
    Patrol.objects.filter(id__in=patrol_ids).update(coverage_computed_at=timezone.now())


def patrol_coverage_compute(*, patrol_ids: list[int] | None = None, day: date | None = None) -> int:
    """(Re)compute PatrolLane for the given patrols, or for every finished patrol of `day` (one statement).
    Returns the number of patrols computed."""
    if (patrol_ids is None) == (day is None):
        raise ValueError("give patrol_ids or day")
    with transaction.atomic():
        if day is not None:
            patrol_ids = list(
                Patrol.objects.filter(day=day, status=PatrolStatus.FINISHED, track__isnull=False).values_list(
                    "id", flat=True
                )
            )
        _compute_coverage(patrol_ids)
    return len(patrol_ids)


def lane_day_coverage_build(*, day: date, now: datetime | None = None) -> int:
    """Replace the LaneDayCoverage rows of `day` from the lanes, responsibilities in force that day, and the
    PatrolLane rows of its finished patrols. Returns the number of lanes."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM patrols_lanedaycoverage WHERE day = %s", [day])
        cur.execute(coverage.lane_day_rows_sql(), {**coverage.day_params(day), "now": now})
        return cur.rowcount


def daily_reports_generate(*, day: date, now: datetime | None = None) -> int:
    """Build (or rebuild) the daily reports of every work group, department and street office for a closed day
    (patrols.reports.report_data). Returns how many were written."""
    from patrols.reports import DayReports, report_scopes

    now = now or timezone.now()
    n = 0
    with transaction.atomic():
        DailyReport.objects.filter(day=day).delete()
        reports = DayReports(day)
        rows = []
        for scope, scope_id, name, street_office_id in report_scopes():
            data = reports.data(scope, scope_id)
            rows.append(
                DailyReport(
                    day=day,
                    scope=scope,
                    scope_id=scope_id,
                    scope_name=name[:200],
                    street_office_id=street_office_id,
                    lanes_due=data["lanes_due"],
                    lanes_covered=data["lanes_covered"],
                    lanes_missed=data["lanes_missed"],
                    patrols=data["patrols_count"],
                    findings=data["findings_count"],
                    data=data,
                    created_at=now,
                )
            )
            n += 1
        DailyReport.objects.bulk_create(rows, batch_size=200)
    return n


@dataclass
class CloseResult:
    day: date
    live_finished: int = 0
    patrols: int = 0
    lanes: int = 0
    lanes_due: int = 0
    lanes_covered: int = 0
    reports: int = 0


def close_day(*, day: date, now: datetime | None = None) -> CloseResult:
    """Close a day: finish its live patrols left open (only once the day is over), compute the lanes every
    finished patrol covered, build LaneDayCoverage and the daily reports. Idempotent: closing again replaces
    what an earlier close wrote (e.g. after late uploads)."""
    now = now or timezone.now()
    result = CloseResult(day=day)
    if day < timezone.localdate(now):
        for patrol in Patrol.objects.filter(day=day, status=PatrolStatus.LIVE):
            patrol_finish(patrol=patrol, now=now, force=True)
            result.live_finished += 1
    with transaction.atomic():
        result.patrols = patrol_coverage_compute(day=day)
        result.lanes = lane_day_coverage_build(day=day, now=now)
        qs = LaneDayCoverage.objects.filter(day=day, due=True)
        result.lanes_due = qs.count()
        result.lanes_covered = qs.filter(covered=True).count()
        result.reports = daily_reports_generate(day=day, now=now)
    return result


# ---------------------------------------------------------------------------------------------------------------
# Alerts


def missed_lane_alerts(*, day: date) -> int:
    """Tell each work group leader which of the group's lanes nobody patrolled on `day` (a closed day). One
    notification per group and day (delivery key), so running it twice sends nothing new. Returns how many
    notifications were handed to notify."""
    from notify.services import Recipient, notify
    from people.models import WorkGroup

    sent = 0
    groups = WorkGroup.objects.filter(leader__isnull=False).select_related("leader", "department").order_by("id")
    for group in groups:
        rows = list(
            LaneDayCoverage.objects.filter(day=day, due=True, covered=False, work_group_ids__contains=[group.id])
            .select_related("lane")
            .order_by("lane__name", "lane_id")
        )
        if not rows:
            continue
        due = LaneDayCoverage.objects.filter(day=day, due=True, work_group_ids__contains=[group.id]).count()
        report = DailyReport.objects.filter(day=day, scope="work_group", scope_id=group.id).first()
        notify(
            event="patrols.missed_lanes",
            recipients=[Recipient(kind="person", id=group.leader_id, name=group.leader.name)],
            payload={
                "day": day.isoformat(),
                "work_group": {"id": group.id, "name": group.name, "department": group.department.name},
                "lanes_due": due,
                "lanes_missed": len(rows),
                "missed_lanes": [{"id": r.lane_id, "name": r.lane.name} for r in rows],
                "report_id": report.id if report else None,
                "text": _("漏巡街巷：%(lanes)s") % {"lanes": "、".join(r.lane.name for r in rows[:50])},
                "title": _("%(day)s %(group)s 漏巡街巷 %(n)d 条")
                % {"day": day.isoformat(), "group": group.name, "n": len(rows)},
            },
            delivery_key=f"patrols.missed_lanes:{group.id}:{day.isoformat()}",
        )
        sent += 1
    return sent
