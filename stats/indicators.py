"""Indicators (考核指标) over one period and one unit level, computed in SQL (one aggregate query with FILTER
clauses per source table and grouping).

Definitions (see shared DOMAIN.md, "Indicators"), for a period [start, end) in settings.TIME_ZONE:
- closed (办结/结案数): cases whose closed_at falls in the period;
- overdue_open (超期未办结): cases not closed by the end of the period whose deadline passed before it ends;
- due (应结案数) = closed + overdue_open (void and merged cases never count);
- closed_on_time (按期结案): closed in the period, at or before the deadline (a case without a deadline — never
  dispatched to a clock — counts as on time);
- rework (返工): cases among `due` that went to rework (recheck or spot re-check failed) before the period ends;
- dispatched (派遣数): dispatch events in the period (dispatch, re-dispatch after a return, assignment);
  returned (退回数): return events in the period. For squads a dispatch counts for the squad it was sent to and a
  return for the squad that returned it; for areas both count where the case is;
- rates in per cent with 2 decimals (ROUND_HALF_UP): 结案率 = closed / due; 按期结案率 = closed_on_time / due;
  返工率 = rework / due; 准确派遣率 = (dispatched − returned) / dispatched; 巡查覆盖率 = lane-days covered / lane-days
  due (patrols.LaneDayCoverage). A zero denominator gives None ("no data"), never 0 %.
- avg_close_hours: mean wall-clock hours from report to closure of the cases closed in the period;
- 必到到场率 (attendance_rate) = must-attend cases reported in the period with a chief's attendance / must-attend
  cases reported in the period (category.must_attend; void and merged excluded); attended_on_time counts
  attendances that were not late.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Avg, BigIntegerField, Count, Exists, F, OuterRef, Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

TWO_PLACES = Decimal("0.01")

LEVELS = ("squad", "community", "street_office", "district")
PERIOD_KINDS = ("day", "week", "month", "quarter", "half_year")
LEVEL_LABELS = {
    "squad": _("中队"),
    "community": _("社区"),
    "street_office": _("街道"),
    "district": _("区"),
}
DISPATCH_ACTIONS = ("dispatch", "return", "assign")
EXCLUDED_STATUSES = ("void", "merged")


def pct(numerator: int, denominator: int) -> Decimal | None:
    """numerator / denominator in per cent, 2 decimals, half up; None when there is nothing to divide by."""
    if not denominator:
        return None
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Period:
    kind: str
    start: dt.date  # first day
    end: dt.date  # day after the last day

    @classmethod
    def of(cls, kind: str, day: dt.date) -> Period:
        """The period of `kind` containing `day`."""
        if kind == "day":
            return cls(kind, day, day + dt.timedelta(days=1))
        if kind == "week":
            start = day - dt.timedelta(days=day.weekday())
            return cls(kind, start, start + dt.timedelta(days=7))
        if kind == "month":
            start = day.replace(day=1)
        elif kind == "quarter":
            start = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        elif kind == "half_year":
            start = dt.date(day.year, 1 if day.month <= 6 else 7, 1)
        else:
            raise ValueError(f"unknown period kind {kind!r}; use one of {', '.join(PERIOD_KINDS)}")
        months = {"month": 1, "quarter": 3, "half_year": 6}[kind]
        m = start.month - 1 + months
        end = dt.date(start.year + m // 12, m % 12 + 1, 1)
        return cls(kind, start, end)

    @property
    def label(self) -> str:
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "week":
            y, w, _d = self.start.isocalendar()
            return f"{y}-W{w:02d}"
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}-H{1 if self.start.month == 1 else 2}"

    def previous(self) -> Period:
        return Period.of(self.kind, self.start - dt.timedelta(days=1))

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        tz = timezone.get_current_timezone()
        return (
            dt.datetime.combine(self.start, dt.time.min, tzinfo=tz),
            dt.datetime.combine(self.end, dt.time.min, tzinfo=tz),
        )


@dataclass
class UnitFigures:
    level: str
    unit_id: int
    code: str
    name: str
    due: int = 0
    closed: int = 0
    closed_on_time: int = 0
    overdue_open: int = 0
    rework: int = 0
    dispatched: int = 0
    returned: int = 0
    avg_close_hours: Decimal | None = None
    lanes_due: int = 0
    lanes_covered: int = 0
    must_attend: int = 0
    attended: int = 0
    attended_on_time: int = 0
    rates: dict = field(default_factory=dict)

    def compute_rates(self) -> None:
        self.rates = {
            "closure_rate": pct(self.closed, self.due),
            "on_time_closure_rate": pct(self.closed_on_time, self.due),
            "rework_rate": pct(self.rework, self.due),
            "accurate_dispatch_rate": pct(self.dispatched - self.returned, self.dispatched),
            "patrol_coverage_rate": pct(self.lanes_covered, self.lanes_due),
            "attendance_rate": pct(self.attended, self.must_attend),
            "attendance_on_time_rate": pct(self.attended_on_time, self.must_attend),
        }

    @property
    def has_data(self) -> bool:
        return self.due > 0

    def as_dict(self) -> dict:
        """JSON-ready: Decimals as strings ("93.72"), None stays None."""
        d = asdict(self)
        d["avg_close_hours"] = None if self.avg_close_hours is None else str(self.avg_close_hours)
        d["rates"] = {k: None if v is None else str(v) for k, v in self.rates.items()}
        return d


def _units(level: str) -> dict[int, tuple[str, str]]:
    """Every unit of `level`: id → (code, name)."""
    from grid.models import Area
    from people.models import Squad

    if level == "squad":
        return {pk: (str(pk), name) for pk, name in Squad.objects.values_list("pk", "name")}
    if level not in LEVELS:
        raise ValueError(f"unknown unit level {level!r}; use one of {', '.join(LEVELS)}")
    return {pk: (code, name) for pk, code, name in Area.objects.filter(level=level).values_list("pk", "code", "name")}


def _case_key(level: str) -> str:
    return {
        "squad": "squad_id",
        "community": "community_id",
        "street_office": "street_office_id",
        "district": "street_office__parent_id",
    }[level]


def _case_figures(level: str, start, end) -> dict[int, dict]:
    from cases.models import Case, CaseEvent

    key = _case_key(level)
    in_period = Q(closed_at__gte=start, closed_at__lt=end)
    overdue_open = Q(deadline__lt=end, created_at__lt=end) & (Q(closed_at__isnull=True) | Q(closed_at__gte=end))
    went_rework = CaseEvent.objects.filter(case=OuterRef("pk"), to_status="rework", at__lt=end)
    rows = (
        Case.objects.exclude(status__in=EXCLUDED_STATUSES)
        .filter(in_period | overdue_open)
        .filter(**{f"{key}__isnull": False})
        .annotate(unit=F(key), had_rework=Exists(went_rework))
        .values("unit")
        .annotate(
            closed=Count("pk", filter=in_period),
            closed_on_time=Count("pk", filter=in_period & (Q(deadline__isnull=True) | Q(closed_at__lte=F("deadline")))),
            overdue_open=Count("pk", filter=~in_period),
            rework=Count("pk", filter=Q(had_rework=True)),
            avg_close=Avg(F("closed_at") - F("created_at"), filter=in_period),
        )
    )
    return {r["unit"]: r for r in rows}


def _event_figures(level: str, start, end) -> dict[int, dict]:
    from cases.models import CaseEvent

    events = CaseEvent.objects.filter(at__gte=start, at__lt=end, action__in=DISPATCH_ACTIONS).exclude(
        case__status__in=EXCLUDED_STATUSES
    )
    out: dict[int, dict] = {}
    if level == "squad":
        # A dispatch counts for the squad it went to; a return for the squad that sent it back.
        sent = (
            events.annotate(unit=Cast(KeyTextTransform("squad_id", "data"), BigIntegerField()))
            .filter(unit__isnull=False)
            .values("unit")
            .annotate(n=Count("pk"))
        )
        back = (
            events.filter(action="return")
            .annotate(unit=Cast(KeyTextTransform("returned_by_squad_id", "data"), BigIntegerField()))
            .filter(unit__isnull=False)
            .values("unit")
            .annotate(n=Count("pk"))
        )
        for r in sent:
            out.setdefault(r["unit"], {"dispatched": 0, "returned": 0})["dispatched"] = r["n"]
        for r in back:
            out.setdefault(r["unit"], {"dispatched": 0, "returned": 0})["returned"] = r["n"]
        return out
    key = "case__" + _case_key(level)
    rows = (
        events.filter(**{f"{key}__isnull": False})
        .annotate(unit=F(key))
        .values("unit")
        .annotate(dispatched=Count("pk"), returned=Count("pk", filter=Q(action="return")))
    )
    return {r["unit"]: r for r in rows}


def _attendance_figures(level: str, start, end) -> dict[int, dict]:
    from cases.models import Attendance, Case

    key = _case_key(level)
    rows = (
        Case.objects.exclude(status__in=EXCLUDED_STATUSES)
        .filter(category__must_attend=True, created_at__gte=start, created_at__lt=end)
        .filter(**{f"{key}__isnull": False})
        .annotate(
            unit=F(key),
            was_attended=Exists(Attendance.objects.filter(case=OuterRef("pk"))),
            was_on_time=Exists(Attendance.objects.filter(case=OuterRef("pk"), late=False)),
        )
        .values("unit")
        .annotate(
            must_attend=Count("pk"),
            attended=Count("pk", filter=Q(was_attended=True)),
            attended_on_time=Count("pk", filter=Q(was_on_time=True)),
        )
    )
    return {r["unit"]: r for r in rows}


def _coverage_figures(level: str, period: Period) -> dict[int, dict]:
    from patrols.models import LaneDayCoverage

    if level == "squad":
        return {}
    key = {"community": "community_id", "street_office": "street_office_id", "district": "street_office__parent_id"}[
        level
    ]
    rows = (
        LaneDayCoverage.objects.filter(day__gte=period.start, day__lt=period.end, due=True)
        .filter(**{f"{key}__isnull": False})
        .annotate(unit=F(key))
        .values("unit")
        .annotate(due=Count("pk"), covered=Count("pk", filter=Q(covered=True)))
    )
    return {r["unit"]: r for r in rows}


def _hours(td: dt.timedelta | None) -> Decimal | None:
    if td is None:
        return None
    return (Decimal(td.total_seconds()) / 3600).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def unit_figures(*, period: Period, level: str) -> list[UnitFigures]:
    """The figures of every unit of `level` over `period`, in unit code order (squads by name). Units without
    any case or patrol duty in the period are included with zero counts and None rates."""
    units = _units(level)
    start, end = period.bounds()
    cases = _case_figures(level, start, end)
    events = _event_figures(level, start, end)
    coverage = _coverage_figures(level, period)
    attendance = _attendance_figures(level, start, end)
    out = []
    for unit_id, (code, name) in units.items():
        c = cases.get(unit_id, {})
        e = events.get(unit_id, {})
        g = coverage.get(unit_id, {})
        a = attendance.get(unit_id, {})
        f = UnitFigures(
            level=level,
            unit_id=unit_id,
            code=code,
            name=name,
            closed=c.get("closed", 0),
            closed_on_time=c.get("closed_on_time", 0),
            overdue_open=c.get("overdue_open", 0),
            rework=c.get("rework", 0),
            avg_close_hours=_hours(c.get("avg_close")),
            dispatched=e.get("dispatched", 0),
            returned=e.get("returned", 0),
            lanes_due=g.get("due", 0),
            lanes_covered=g.get("covered", 0),
            must_attend=a.get("must_attend", 0),
            attended=a.get("attended", 0),
            attended_on_time=a.get("attended_on_time", 0),
        )
        f.due = f.closed + f.overdue_open
        f.compute_rates()
        out.append(f)
    out.sort(key=lambda f: (f.name, f.unit_id) if level == "squad" else (f.code, f.unit_id))
    return out


def totals(figures: list[UnitFigures], *, level: str = "total", name: str = "") -> UnitFigures:
    """Sum of counts over `figures` with rates recomputed from the sums (never an average of rates)."""
    t = UnitFigures(level=level, unit_id=0, code="", name=name or str(_("合计")))
    for f in figures:
        for attr in ("due", "closed", "closed_on_time", "overdue_open", "rework", "dispatched", "returned"):
            setattr(t, attr, getattr(t, attr) + getattr(f, attr))
        for attr in ("lanes_due", "lanes_covered", "must_attend", "attended", "attended_on_time"):
            setattr(t, attr, getattr(t, attr) + getattr(f, attr))
    t.compute_rates()
    return t


__all__ = ["LEVELS", "PERIOD_KINDS", "Period", "UnitFigures", "pct", "totals", "unit_figures"]
