"""Writes for statistics: publishing a bulletin freezes its figures and its page; residents' ratings of closed
cases and manually entered satisfaction surveys."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from stats.indicators import Period
from stats.models import Bulletin, CaseRating, RatingChannel, SatisfactionSurvey, SurveyLevel, SurveyMethod
from stats.selectors import bulletin_content


@transaction.atomic
def publish_bulletin(*, week: dt.date, by=None, note: str = "", kind: str = "week") -> Bulletin:
    """Freeze the figures of the period of `kind` containing `week` as a new bulletin version (1 for the first
    publication, n + 1 for a correction). The page is rendered now and stored; later data never changes it."""
    period = Period.of(kind, week)
    # Serialise publications of one period so that two corrections cannot take the same version number.
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"stats.bulletin:{kind}:{period.start}"])
    version = (Bulletin.objects.filter(kind=kind, period_start=period.start).aggregate(m=Max("version"))["m"] or 0) + 1
    now = timezone.now()
    content = bulletin_content(period)
    content["version"] = version
    content["published_at"] = timezone.localtime(now).isoformat(timespec="seconds")
    content["note"] = note
    html = render_to_string("stats/bulletin.html", {"c": content})
    return Bulletin.objects.create(
        kind=kind,
        period_start=period.start,
        period_end=period.end,
        label=period.label,
        version=version,
        note=note,
        published_at=now,
        published_by=by if by is not None and by.is_authenticated else None,
        content=content,
        html=html,
        sha256=hashlib.sha256(html.encode()).hexdigest(),
    )


# --- residents' satisfaction ---------------------------------------------------------------------------------------
class StatsError(Exception):
    """A refused request; `status_code` is the HTTP answer, `message` says what is wrong (Chinese, for users)."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StatsInputError(StatsError):
    status_code = 400


class StatsForbidden(StatsError):
    status_code = 403


class StatsNotFound(StatsError):
    status_code = 404


class StatsConflict(StatsError):
    status_code = 409


COMMENT_MAX = 500


def _int_in(value, lo: int, hi: int, what: str) -> int:
    if isinstance(value, bool):
        value = None
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise StatsInputError(_("%(what)s须为 %(lo)d–%(hi)d 的整数") % {"what": what, "lo": lo, "hi": hi}) from None
    if not lo <= number <= hi:
        raise StatsInputError(_("%(what)s须为 %(lo)d–%(hi)d 的整数") % {"what": what, "lo": lo, "hi": hi})
    return number


@transaction.atomic
def rate_case(*, tracking_code: str, score, comment: str = "", user=None, now=None) -> CaseRating:
    """A reporter's rating (1–5, optional comment) of a closed case, once per case. The case is found by its
    tracking code; a case reported from an account may be rated only by that account (recorded as the user), an
    anonymous report by whoever holds its tracking code. Raises StatsInputError (400), StatsForbidden (403),
    StatsNotFound (404), StatsConflict (409: not closed, already rated)."""
    from cases.models import Case, Status

    score = _int_in(score, 1, 5, _("评分"))
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise StatsInputError(_("评价不能超过 %(n)d 字") % {"n": COMMENT_MAX})
    code = str(tracking_code or "").strip().upper()
    case = None
    if code and len(code) <= 16:
        case = Case.objects.select_for_update(of=("self",)).filter(tracking_code=code).first()
    if case is None:
        raise StatsNotFound(_("查询码不存在，请核对后重试"))
    authenticated = user is not None and user.is_authenticated
    if case.reporter_id is not None and not (authenticated and user.pk == case.reporter_id):
        raise StatsForbidden(_("该案件由登录账号上报，请使用上报时的账号登录后评价"))
    if case.status != Status.CLOSED or case.closed_at is None:
        raise StatsConflict(_("案件尚未结案，结案后才能评价"))
    if CaseRating.objects.filter(case=case).exists():
        raise StatsConflict(_("该案件已评价过，每个案件只能评价一次"))
    now = now or timezone.now()
    by_account = case.reporter_id is not None
    try:
        with transaction.atomic():
            return CaseRating.objects.create(
                case=case,
                score=score,
                comment=comment,
                channel=RatingChannel.ACCOUNT if by_account else RatingChannel.TRACKING_CODE,
                user=user if by_account else None,
                case_closed_at=case.closed_at,
                rated_at=max(now, case.closed_at),
            )
    except IntegrityError:
        raise StatsConflict(_("该案件已评价过，每个案件只能评价一次")) from None


def _survey_unit(level: str, unit_id) -> dict:
    from grid.models import Area
    from people.models import Department, Squad

    try:
        unit_id = int(unit_id)
    except (TypeError, ValueError):
        raise StatsInputError(_("单位 id 须为整数")) from None
    if level == SurveyLevel.SQUAD:
        squad = Squad.objects.filter(pk=unit_id).first()
        if squad is None:
            raise StatsInputError(_("中队 %(id)d 不存在") % {"id": unit_id})
        return {"squad": squad}
    if level == SurveyLevel.DEPARTMENT:
        department = Department.objects.filter(pk=unit_id).first()
        if department is None:
            raise StatsInputError(_("部门 %(id)d 不存在") % {"id": unit_id})
        return {"department": department}
    area = Area.objects.filter(pk=unit_id, level=level).first()
    if area is None:
        raise StatsInputError(_("该层级下不存在区域 %(id)d") % {"id": unit_id})
    return {"area": area}


def may_enter_surveys(user) -> bool:
    return user is not None and user.is_authenticated and user.has_perm("stats.add_satisfactionsurvey")


@transaction.atomic
def enter_survey(
    *,
    by,
    level: str,
    unit_id,
    period_start: dt.date,
    period_end: dt.date,
    method: str,
    score,
    sample_size,
    note: str = "",
    now=None,
) -> SatisfactionSurvey:
    """Record a manually measured satisfaction result (电话回访 / 暗访 / 网上评分) for one unit and period
    [period_start, period_end). Needs the permission stats.add_satisfactionsurvey (403). One result per unit,
    period and method (409); bad input 400."""
    if not may_enter_surveys(by):
        raise StatsForbidden(_("您没有录入满意度调查结果的权限"))
    if level not in SurveyLevel.values:
        raise StatsInputError(_("单位层级须为 %(levels)s 之一") % {"levels": "、".join(SurveyLevel.values)})
    if method not in SurveyMethod.values:
        raise StatsInputError(_("调查方式须为 phone（电话回访）、visit（暗访）或 online（网上评分）"))
    if not isinstance(period_start, dt.date) or not isinstance(period_end, dt.date):
        raise StatsInputError(_("请提供调查起止日期"))
    if period_end <= period_start:
        raise StatsInputError(_("调查截止日期须晚于起始日期"))
    try:
        score = Decimal(str(score)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise StatsInputError(_("满意度得分须为 0–100 的数")) from None
    if not score.is_finite() or not Decimal(0) <= score <= Decimal(100):
        raise StatsInputError(_("满意度得分须为 0–100 的数"))
    sample_size = _int_in(sample_size, 1, 10_000_000, _("样本数"))
    note = (note or "").strip()
    if len(note) > 200:
        raise StatsInputError(_("说明不能超过 200 字"))
    unit = _survey_unit(level, unit_id)
    try:
        with transaction.atomic():
            return SatisfactionSurvey.objects.create(
                level=level,
                period_start=period_start,
                period_end=period_end,
                method=method,
                score=score,
                sample_size=sample_size,
                note=note,
                entered_by=by,
                entered_at=now or timezone.now(),
                **unit,
            )
    except IntegrityError:
        raise StatsConflict(_("该单位在该期间已有同一方式的调查结果；如需更正请先在后台删除原记录")) from None
