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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

TWO_PLACES = Decimal("0.01")

LEVELS = ("squad", "department", "community", "street_office", "district")
PERIOD_KINDS = ("day", "week", "month", "quarter", "half_year")
LEVEL_LABELS = {
    "squad": _("中队"),
    "department": _("部门"),
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


# Satisfaction: a reporter's 1–5 rating becomes (score − 1) × 25 points (1 → 0, 3 → 50, 5 → 100).
RATING_POINTS = {1: 0, 2: 25, 3: 50, 4: 75, 5: 100}

# [deadline, closed_at] as a range (open at the deadline, unbounded while unclosed; empty when closed before the
# deadline): a case is overdue and unclosed at instant T exactly when this range contains T. Indexed (GiST) by
# stats migration 0003 with the same expression.
OVERDUE_RANGE = "tstzrange({t}.deadline, CASE WHEN {t}.closed_at IS NULL THEN NULL ELSE greatest({t}.deadline, {t}.closed_at) END, '(]')"


def dispatch_limit_seconds() -> int:
    """The dispatch time limit (verify + register + dispatch), settings STATS_DISPATCH_LIMIT_WORKING_HOURS (1)."""
    return int(float(getattr(settings, "STATS_DISPATCH_LIMIT_WORKING_HOURS", 1)) * 3600)


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
    dispatch_due: int = 0
    dispatched_on_time: int = 0
    avg_close_hours: Decimal | None = None
    lanes_due: int = 0
    lanes_covered: int = 0
    must_attend: int = 0
    attended: int = 0
    attended_on_time: int = 0
    ratings: int = 0
    rating_points: int = 0
    survey_sample: int = 0
    survey_points: Decimal = Decimal(0)  # Σ score × sample size
    rates: dict = field(default_factory=dict)

    def compute_rates(self) -> None:
        self.rates = {
            "closure_rate": pct(self.closed, self.due),
            "on_time_closure_rate": pct(self.closed_on_time, self.due),
            "rework_rate": pct(self.rework, self.due),
            "accurate_dispatch_rate": pct(self.dispatched - self.returned, self.dispatched),
            "on_time_dispatch_rate": pct(self.dispatched_on_time, self.dispatch_due),
            "patrol_coverage_rate": pct(self.lanes_covered, self.lanes_due),
            "attendance_rate": pct(self.attended, self.must_attend),
            "attendance_on_time_rate": pct(self.attended_on_time, self.must_attend),
            "satisfaction_rate": self.satisfaction(),
        }

    def satisfaction(self) -> Decimal | None:
        """Mean points over every respondent: each rating counts once, each survey as many times as its sample."""
        n = self.ratings + self.survey_sample
        if not n:
            return None
        return ((Decimal(self.rating_points) + Decimal(self.survey_points)) / n).quantize(
            TWO_PLACES, rounding=ROUND_HALF_UP
        )

    @property
    def has_data(self) -> bool:
        return self.due > 0

    def as_dict(self) -> dict:
        """JSON-ready: Decimals as strings ("93.72"), None stays None."""
        d = asdict(self)
        d["avg_close_hours"] = None if self.avg_close_hours is None else str(self.avg_close_hours)
        d["survey_points"] = str(self.survey_points)
        d["rates"] = {k: None if v is None else str(v) for k, v in self.rates.items()}
        return d


COUNT_FIELDS = (
    "due",
    "closed",
    "closed_on_time",
    "overdue_open",
    "rework",
    "dispatched",
    "returned",
    "dispatch_due",
    "dispatched_on_time",
    "lanes_due",
    "lanes_covered",
    "must_attend",
    "attended",
    "attended_on_time",
    "ratings",
    "rating_points",
    "survey_sample",
    "survey_points",
)


def _check_levels(levels) -> tuple[str, ...]:
    levels = tuple(levels)
    for level in levels:
        if level not in LEVELS:
            raise ValueError(f"unknown unit level {level!r}; use one of {', '.join(LEVELS)}")
    return levels


def _units(level: str) -> dict[int, tuple[str, str]]:
    """Every unit of `level`: id → (code, name)."""
    from grid.models import Area
    from people.models import Department, Squad

    if level == "squad":
        return {pk: (str(pk), name) for pk, name in Squad.objects.values_list("pk", "name")}
    if level == "department":
        return {pk: (code, name) for pk, code, name in Department.objects.values_list("pk", "code", "name")}
    _check_levels([level])
    return {pk: (code, name) for pk, code, name in Area.objects.filter(level=level).values_list("pk", "code", "name")}


def _tables() -> dict[str, str]:
    from cases.models import Attendance, Case, CaseEvent, Category
    from grid.models import Area
    from patrols.models import LaneDayCoverage
    from people.models import WorkGroup
    from stats.models import CaseRating, SatisfactionSurvey

    return {
        "case": Case._meta.db_table,
        "event": CaseEvent._meta.db_table,
        "category": Category._meta.db_table,
        "attendance": Attendance._meta.db_table,
        "area": Area._meta.db_table,
        "coverage": LaneDayCoverage._meta.db_table,
        "workgroup": WorkGroup._meta.db_table,
        "workgroup_lanes": WorkGroup.lanes.through._meta.db_table,
        "rating": CaseRating._meta.db_table,
        "survey": SatisfactionSurvey._meta.db_table,
    }


def _keyed(src: str, levels, t: dict, *, squad_col: str = "squad_id") -> str:
    """UNION ALL of `src` rows keyed by unit for each level: (lvl, unit, src.*). A case counts for its squad, its
    community, its street office, that office's district, and every department whose work group holds its lane."""
    parts = []
    for level in levels:
        if level == "squad":
            parts.append(
                f"SELECT 'squad' AS lvl, s.{squad_col} AS unit, s.* FROM {src} s WHERE s.{squad_col} IS NOT NULL"
            )
        elif level in ("community", "street_office"):
            parts.append(
                f"SELECT '{level}' AS lvl, s.{level}_id AS unit, s.* FROM {src} s WHERE s.{level}_id IS NOT NULL"
            )
        elif level == "district":
            parts.append(
                f"SELECT 'district' AS lvl, so.parent_id AS unit, s.* FROM {src} s JOIN {t['area']} so ON so.id = s.street_office_id"
                # the level condition lets the planner hash the few street offices, not every area of the city
                " WHERE so.parent_id IS NOT NULL AND so.level = 'street_office'"
            )
        elif level == "department":
            # from the rows' lanes to their work groups (index on the lane), each department once per row
            parts.append(
                f"SELECT 'department' AS lvl, ld.department_id AS unit, s.* FROM {src} s CROSS JOIN LATERAL ("
                f"SELECT DISTINCT wg.department_id FROM {t['workgroup_lanes']} wl"
                f" JOIN {t['workgroup']} wg ON wg.id = wl.workgroup_id WHERE wl.lane_id = s.lane_id) ld"
            )
    return "\nUNION ALL\n".join(parts)


def _rows(sql: str, params: dict) -> list[dict]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        cols = [c.name for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _case_figures(levels, t, start, end) -> list[dict]:
    """closed, closed on time, overdue and unclosed at the end, rework, mean time to close."""
    overdue = OVERDUE_RANGE.format(t="c")
    sql = f"""
    WITH d0 AS (
      -- closed in the period, and (disjoint) overdue and unclosed at its end: two index-only scans
      SELECT c.id, c.squad_id, c.community_id, c.street_office_id, c.lane_id, c.created_at, c.closed_at,
             c.deadline, true AS in_period
      FROM {t["case"]} c
      WHERE c.closed_at IS NOT NULL AND c.closed_at >= %(start)s AND c.closed_at < %(end)s
        AND c.status NOT IN ('void', 'merged')
      UNION ALL
      SELECT c.id, c.squad_id, c.community_id, c.street_office_id, c.lane_id, c.created_at, c.closed_at,
             c.deadline, false
      FROM {t["case"]} c
      WHERE c.deadline IS NOT NULL AND {overdue} @> %(end)s::timestamptz AND c.created_at < %(end)s
        AND c.status NOT IN ('void', 'merged')
    ), d AS MATERIALIZED (
      SELECT d0.id, d0.squad_id, d0.community_id, d0.street_office_id, d0.lane_id, d0.in_period,
             d0.in_period AND (d0.deadline IS NULL OR d0.closed_at <= d0.deadline) AS on_time,
             d0.closed_at - d0.created_at AS close_time,
             EXISTS (SELECT 1 FROM {t["event"]} e WHERE e.case_id = d0.id AND e.to_status = 'rework'
                     AND e.at < %(end)s) AS had_rework
      FROM d0
    )
    SELECT lvl, unit, count(*) FILTER (WHERE in_period) AS closed, count(*) FILTER (WHERE on_time) AS closed_on_time,
           count(*) FILTER (WHERE NOT in_period) AS overdue_open, count(*) FILTER (WHERE had_rework) AS rework,
           avg(close_time) FILTER (WHERE in_period) AS avg_close
    FROM ({_keyed("d", levels, t)}) k GROUP BY lvl, unit"""
    return _rows(sql, {"start": start, "end": end})


def _event_figures(levels, t, start, end) -> list[dict]:
    """Dispatch events (dispatch, re-dispatch after a return, assignment) and returns in the period. For squads a
    dispatch counts for the squad it went to (data.squad_id), a return for the squad that sent it back
    (data.returned_by_squad_id); elsewhere both count where the case is."""
    selects = []
    area_levels = [lv for lv in levels if lv != "squad"]
    if area_levels:
        selects.append(
            "SELECT lvl, unit, count(*) AS dispatched, count(*) FILTER (WHERE action = 'return') AS returned"
            f" FROM ({_keyed('ev', area_levels, t)}) k GROUP BY lvl, unit"
        )
    if "squad" in levels:
        selects.append(
            "SELECT 'squad' AS lvl, u.unit, sum(u.d) AS dispatched, sum(u.r) AS returned FROM ("
            " SELECT sent_squad_id AS unit, 1 AS d, 0 AS r FROM ev WHERE sent_squad_id IS NOT NULL"
            " UNION ALL SELECT back_squad_id, 0, 1 FROM ev WHERE action = 'return' AND back_squad_id IS NOT NULL"
            ") u GROUP BY u.unit"
        )
    sql = f"""
    WITH ev AS MATERIALIZED (
      SELECT e.action, NULLIF(e.data->>'squad_id', '')::bigint AS sent_squad_id,
             NULLIF(e.data->>'returned_by_squad_id', '')::bigint AS back_squad_id,
             c.community_id, c.street_office_id, c.lane_id
      FROM {t["event"]} e JOIN {t["case"]} c ON c.id = e.case_id
      WHERE e.action IN ('dispatch', 'return', 'assign') AND e.at >= %(start)s AND e.at < %(end)s
        AND c.status NOT IN ('void', 'merged')
    )
    {" UNION ALL ".join(selects)}"""
    return _rows(sql, {"start": start, "end": end})


def _windows(start: dt.date, end: dt.date) -> tuple[list[dt.datetime], list[dt.datetime]]:
    """The working periods (cases.calendar) of the days [start, end), as two arrays of instants."""
    from cases.calendar import WorkCalendar

    cal = WorkCalendar.load()
    ws, we = [], []
    day = start
    while day < end:
        if cal.is_workday(day):
            for begin, finish in cal.periods:
                ws.append(dt.datetime.combine(day, begin, tzinfo=cal.tz))
                we.append(dt.datetime.combine(day, finish, tzinfo=cal.tz))
        day += dt.timedelta(days=1)
    return ws, we


# Working time between two instants, over the working periods passed as %(ws)s / %(we)s.
WORKING = (
    "(SELECT coalesce(sum(greatest(least(w.e, {b}) - greatest(w.s, {a}), interval '0')), interval '0')"
    " FROM unnest(%(ws)s::timestamptz[], %(we)s::timestamptz[]) AS w(s, e) WHERE w.s < {b} AND w.e > {a})"
)
DISPATCH_HORIZON_DAYS = 31


def _reported_figures(levels, t, period: Period, start, end, now) -> list[dict]:
    """Of the cases reported in the period: dispatch on time (按时派遣) and must-attend attendance (必到到场).

    Dispatched = the first time the case reached a handler that owns it: a dispatch, assignment or re-dispatch
    to a squad's queue, or any dispatch of a category owned by a community or street office, or the first
    acceptance (street office staff taking on a case from their pending queue). On time = within the dispatch
    limit in working time from the report. Due for dispatch = dispatched, or still undispatched after the limit."""
    from cases.models import OWNER_COMMUNITY, OWNER_STREET_OFFICE, Category

    queue_cats = list(
        Category.objects.filter(owner__in=[OWNER_COMMUNITY, OWNER_STREET_OFFICE]).values_list("pk", flat=True)
    ) + list(Category.objects.filter(sensitive=True).values_list("pk", flat=True))
    ws, we = _windows(period.start, period.end + dt.timedelta(days=DISPATCH_HORIZON_DAYS))
    horizon = dt.datetime.combine(
        period.end + dt.timedelta(days=DISPATCH_HORIZON_DAYS), dt.time.min, tzinfo=start.tzinfo
    )
    sql = f"""
    WITH r0 AS MATERIALIZED (
      SELECT c.id, c.squad_id, c.community_id, c.street_office_id, c.lane_id, c.created_at, cat.must_attend,
             -- two lookups, each on a partial index of the timeline (stats migration 0005)
             least(
               (SELECT min(e.at) FROM {t["event"]} e WHERE e.case_id = c.id AND e.at >= c.created_at
                  AND (e.action = 'accept' OR (e.action IN ('dispatch', 'assign', 'return')
                       AND (e.data ->> 'owner_queue') = 'squad'))),
               CASE WHEN c.category_id = ANY(%(queue_cats)s) THEN
                 (SELECT min(e.at) FROM {t["event"]} e WHERE e.case_id = c.id AND e.at >= c.created_at
                    AND e.action IN ('dispatch', 'assign', 'return', 'accept')) END) AS sent_at
      FROM {t["case"]} c JOIN {t["category"]} cat ON cat.id = c.category_id
      WHERE c.created_at >= %(start)s AND c.created_at < %(end)s AND c.status NOT IN ('void', 'merged')
    ), r AS MATERIALIZED (
      SELECT r0.*,
        CASE WHEN sent_at IS NOT NULL THEN
               sent_at - created_at <= %(limit)s OR {WORKING.format(a="created_at", b="least(sent_at, %(horizon)s)")} <= %(limit)s
        END AS sent_on_time,
        sent_at IS NOT NULL OR (%(now)s - created_at > %(limit)s
          AND {WORKING.format(a="created_at", b="least(%(now)s::timestamptz, %(horizon)s)")} > %(limit)s) AS dispatch_due,
        CASE WHEN must_attend THEN EXISTS (SELECT 1 FROM {t["attendance"]} a WHERE a.case_id = r0.id) END AS attended,
        CASE WHEN must_attend THEN EXISTS (SELECT 1 FROM {t["attendance"]} a WHERE a.case_id = r0.id AND NOT a.late)
        END AS attended_on_time
      FROM r0
    )
    SELECT lvl, unit, count(*) FILTER (WHERE dispatch_due) AS dispatch_due,
           count(*) FILTER (WHERE sent_on_time) AS dispatched_on_time,
           count(*) FILTER (WHERE must_attend) AS must_attend, count(*) FILTER (WHERE attended) AS attended,
           count(*) FILTER (WHERE attended_on_time) AS attended_on_time
    FROM ({_keyed("r", levels, t)}) k GROUP BY lvl, unit"""
    params = {
        "start": start,
        "end": end,
        "now": now,
        "limit": dt.timedelta(seconds=dispatch_limit_seconds()),
        "horizon": horizon,
        "queue_cats": queue_cats,
        "ws": ws,
        "we": we,
    }
    return _rows(sql, params)


def _coverage_figures(levels, t, period: Period) -> list[dict]:
    """Lane-days due and covered (patrols.LaneDayCoverage): per community, street office, district and the
    departments responsible that day (department_ids, the day's snapshot). Squads hold no lane-days."""
    parts = []
    for level in levels:
        if level in ("community", "street_office"):
            parts.append(
                f"SELECT '{level}' AS lvl, g.{level}_id AS unit, g.covered FROM g WHERE g.{level}_id IS NOT NULL"
            )
        elif level == "district":
            parts.append(
                f"SELECT 'district' AS lvl, so.parent_id AS unit, g.covered FROM g JOIN {t['area']} so ON so.id = g.street_office_id"
                " WHERE so.parent_id IS NOT NULL AND so.level = 'street_office'"
            )
        elif level == "department":
            parts.append(
                "SELECT 'department' AS lvl, dep AS unit, g.covered FROM g CROSS JOIN LATERAL unnest(g.department_ids) dep"
            )
    if not parts:
        return []
    sql = f"""
    WITH g AS MATERIALIZED (
      SELECT community_id, street_office_id, department_ids, covered FROM {t["coverage"]}
      WHERE day >= %(start)s AND day < %(end)s AND due
    )
    SELECT lvl, unit, count(*) AS lanes_due, count(*) FILTER (WHERE covered) AS lanes_covered
    FROM ({" UNION ALL ".join(parts)}) k GROUP BY lvl, unit"""
    return _rows(sql, {"start": period.start, "end": period.end})


def _rating_figures(levels, t, start, end) -> list[dict]:
    """Reporters' ratings given in the period, where the rated case is."""
    points = " ".join(f"WHEN {k} THEN {v}" for k, v in RATING_POINTS.items())
    sql = f"""
    WITH rt AS MATERIALIZED (
      SELECT c.squad_id, c.community_id, c.street_office_id, c.lane_id, CASE rt.score {points} END AS points
      FROM {t["rating"]} rt JOIN {t["case"]} c ON c.id = rt.case_id
      WHERE rt.rated_at >= %(start)s AND rt.rated_at < %(end)s
    )
    SELECT lvl, unit, count(*) AS ratings, sum(points) AS rating_points
    FROM ({_keyed("rt", levels, t)}) k GROUP BY lvl, unit"""
    return _rows(sql, {"start": start, "end": end})


def _survey_figures(levels, period: Period) -> list[dict]:
    """Surveys entered for a unit of the level whose period lies within this period."""
    from django.db.models import DecimalField, ExpressionWrapper, F, Sum
    from django.db.models.functions import Coalesce

    from stats.models import SatisfactionSurvey

    rows = (
        SatisfactionSurvey.objects.filter(level__in=levels, period_start__gte=period.start, period_end__lte=period.end)
        .annotate(unit=Coalesce("area_id", "squad_id", "department_id"))
        .values("level", "unit")
        .annotate(
            survey_sample=Sum("sample_size"),
            survey_points=Sum(
                ExpressionWrapper(
                    F("score") * F("sample_size"), output_field=DecimalField(max_digits=20, decimal_places=2)
                )
            ),
        )
    )
    return [{"lvl": r["level"], **r} for r in rows]


@contextmanager
def without_jit():
    """PostgreSQL's JIT compiler off for the statements inside (in a transaction; restored afterwards).

    The figures statements are estimated expensive (a lateral lookup per row for departments), which makes
    PostgreSQL compile them with LLVM before running them: measured on 1,000,000 cases (make bench), compiling took
    ~0.6 s of a 1.1 s statement that runs in 0.3 s without it. Results are the same either way."""
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('jit', true)")
        previous = cur.fetchone()[0]
        if previous is None:  # a server built without JIT support
            yield
            return
        cur.execute("SELECT set_config('jit', 'off', true)")
    try:
        yield
    finally:
        if connection.connection is not None and not connection.needs_rollback:
            with connection.cursor() as cur:
                cur.execute("SELECT set_config('jit', %s, true)", [previous])


def run_statements(jobs: list[Callable[[], list[dict]]]) -> list[list[dict]]:
    """Each job's rows (in order). The jobs are independent read-only statements over one consistent state of the
    database: outside a transaction they run on up to settings.STATS_PARALLEL_STATEMENTS connections at once
    (default 4; 1 = one after the other), every connection in a REPEATABLE READ transaction on the snapshot the
    first one exported (pg_export_snapshot), so the figures are exactly those of one moment, as if from one
    statement. Inside a caller's transaction (whose uncommitted rows other connections cannot see) they run one
    after the other on its connection. Either way without JIT (without_jit)."""
    parallel = min(int(getattr(settings, "STATS_PARALLEL_STATEMENTS", 4)), len(jobs))
    if parallel < 2 or connection.in_atomic_block:
        with transaction.atomic(), without_jit():
            return [job() for job in jobs]
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cur.execute("SELECT pg_export_snapshot()")
            snapshot = cur.fetchone()[0]
        with without_jit(), ThreadPoolExecutor(max_workers=parallel - 1) as pool:
            futures = [pool.submit(_in_snapshot, job, snapshot) for job in jobs[1:]]
            first = jobs[0]()
            return [first, *(future.result() for future in futures)]


def _in_snapshot(job: Callable[[], list[dict]], snapshot: str) -> list[dict]:
    """`job` on this thread's own connection, in the exported `snapshot`; the connection is closed afterwards."""
    from django.db import connections

    try:
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
            with without_jit():
                return job()
    finally:
        connections.close_all()


def _hours(td: dt.timedelta | None) -> Decimal | None:
    if td is None:
        return None
    return (Decimal(td.total_seconds()) / 3600).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def all_unit_figures(*, period: Period, levels=LEVELS, now: dt.datetime | None = None) -> dict[str, list[UnitFigures]]:
    """The figures of every unit of each of `levels` over `period`, each list in unit code order (squads and
    departments without a code by name). All levels come from the same few statements (one per source: cases,
    dispatch events, reported cases, patrol coverage, ratings, surveys). Units without any case or patrol duty in
    the period are included with zero counts and None rates. `now` (default: now) decides which undispatched
    cases are already past their dispatch limit."""
    levels = _check_levels(levels)
    out: dict[str, dict[int, UnitFigures]] = {}
    for level in levels:
        out[level] = {
            unit_id: UnitFigures(level=level, unit_id=unit_id, code=code, name=name)
            for unit_id, (code, name) in _units(level).items()
        }
    if not levels:
        return {}
    t = _tables()
    start, end = period.bounds()
    now = now or timezone.now()
    sources = run_statements(
        [
            lambda: _reported_figures(levels, t, period, start, end, now),
            lambda: _case_figures(levels, t, start, end),
            lambda: _event_figures(levels, t, start, end),
            lambda: _rating_figures(levels, t, start, end),
            lambda: _coverage_figures(levels, t, period),
            lambda: _survey_figures(levels, period),
        ]
    )
    for rows in sources:
        for r in rows:
            f = out.get(r["lvl"], {}).get(r["unit"])
            if f is None:
                continue
            for name, value in r.items():
                if name in ("lvl", "unit", "level"):
                    continue
                if name == "avg_close":
                    f.avg_close_hours = _hours(value)
                elif value is not None:
                    setattr(f, name, value if name == "survey_points" else int(value))
    result = {}
    for level, units in out.items():
        figures = list(units.values())
        for f in figures:
            f.due = f.closed + f.overdue_open
            f.compute_rates()
        figures.sort(key=lambda f: (f.name, f.unit_id) if level == "squad" else (f.code, f.name, f.unit_id))
        result[level] = figures
    return result


def unit_figures(*, period: Period, level: str, now: dt.datetime | None = None) -> list[UnitFigures]:
    """The figures of every unit of `level` over `period` (see all_unit_figures)."""
    return all_unit_figures(period=period, levels=[level], now=now)[level]


def totals(figures: list[UnitFigures], *, level: str = "total", name: str = "") -> UnitFigures:
    """Sum of counts over `figures` with rates recomputed from the sums (never an average of rates)."""
    t = UnitFigures(level=level, unit_id=0, code="", name=name or str(_("合计")))
    for f in figures:
        for attr in COUNT_FIELDS:
            setattr(t, attr, getattr(t, attr) + getattr(f, attr))
    t.compute_rates()
    return t


__all__ = ["LEVELS", "PERIOD_KINDS", "Period", "UnitFigures", "all_unit_figures", "pct", "totals", "unit_figures"]
