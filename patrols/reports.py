"""Daily report (日报) contents and their XLSX export.

A report is built from the closed day's tables only (LaneDayCoverage for lanes, Patrol / PatrolLane / Finding
for patrols), so the page, the XLSX file and the coverage tables agree by construction:

- work group: lanes the group held that day; patrols recorded for the group; findings on those patrols;
- department: lanes of its work groups and lanes whose lane chief belongs to it; its patrols; per work group;
- street office: lanes in its communities (missed ones listed); patrols of its departments; per department and
  per community.

Cases reported = findings filed as cases; cases closed = those of them closed (status closed) when the report
was built. Coverage rate is None ("无数据") when nothing was due.

All the reports of a day come from one DayReports: a handful of day-wide queries (every lane row of the day in
report order, every patrol with its counts, every finding, the breakdowns), split by scope in Python — not a
dozen queries per report (measured: 336 reports over 100,000 lanes, see patrols/README.md).
"""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date, datetime

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from patrols.models import DailyReport, Finding, Patrol, PatrolSource, PatrolStatus, ReportScope
from patrols.selectors import coverage_rate, coverage_summary

REPORTED_STATUSES = [PatrolStatus.FINISHED, PatrolStatus.FLAGGED]


def _iso(t: datetime | None) -> str | None:
    return timezone.localtime(t).isoformat(timespec="seconds") if t else None


def _closed_cases(case_ids: set[int]) -> set[int] | None:
    """Ids of those cases that are closed; None when the cases app is not installed."""
    if not case_ids:
        return set()
    try:
        from cases.models import Case, Status
    except ImportError:
        return None
    return set(Case.objects.filter(id__in=case_ids, status=Status.CLOSED).values_list("id", flat=True))


class DayReports:
    """The contents of every daily report of one closed day (JSON-ready dicts, see `data`)."""

    def __init__(self, day: date):
        from grid.models import Area, Level
        from lanes.models import LaneKind
        from people.models import Department, Person, WorkGroup

        self.day = day
        kinds = {k: str(label) for k, label in LaneKind.choices}
        self.lanes: dict[tuple[str, int], list[dict]] = defaultdict(list)
        patroller_ids: set[int] = set()
        with connection.cursor() as cur:
            cur.execute(
                """
                SELECT c.lane_id, l.name, l.kind, a.name, c.due, c.covered, c.best_share, c.patroller_ids,
                       c.work_group_ids, c.department_ids, c.street_office_id
                FROM patrols_lanedaycoverage c
                JOIN lanes_lane l ON l.id = c.lane_id
                LEFT JOIN grid_area a ON a.id = c.community_id
                WHERE c.day = %s
                ORDER BY c.covered, l.name, c.lane_id
                """,
                [day],
            )
            for lane_id, name, kind, community, due, covered, best, patrollers, groups, depts, office in cur:
                row = {
                    "id": lane_id,
                    "name": name,
                    "kind": kinds.get(kind, kind),
                    "community": community or "",
                    "due": due,
                    "covered": covered,
                    "best_share": round(best, 4),
                    "patroller_ids": patrollers,
                }
                patroller_ids.update(patrollers)
                for g in groups:
                    self.lanes[ReportScope.WORK_GROUP, g].append(row)
                for d in depts:
                    self.lanes[ReportScope.DEPARTMENT, d].append(row)
                if office is not None:
                    self.lanes[ReportScope.STREET_OFFICE, office].append(row)
        self.names = dict(Person.objects.filter(id__in=patroller_ids).values_list("id", "name"))

        sources = {k: str(label) for k, label in PatrolSource.choices}
        statuses = {k: str(label) for k, label in PatrolStatus.choices}
        self.patrols: dict[tuple[str, int], list[dict]] = defaultdict(list)
        scopes_of_patrol: dict[int, list[tuple[str, int]]] = {}
        patrol_rows = (
            Patrol.objects.filter(day=day, status__in=REPORTED_STATUSES)
            .annotate(
                n_lanes=Count("lane_links", filter=Q(lane_links__covered=True), distinct=True),
                n_findings=Count("findings", distinct=True),
            )
            .order_by("started_at", "id")
            .values_list(
                "id",
                "person__name",
                "person_id",
                "started_at",
                "ended_at",
                "length_m",
                "source",
                "status",
                "n_lanes",
                "n_findings",
                "work_group_id",
                "department_id",
                "department__street_office_id",
            )
        )
        for pid, person, person_id, t0, t1, length, source, status, n_lanes, n_findings, g, d, so in patrol_rows:
            row = {
                "id": pid,
                "person": person,
                "person_id": person_id,
                "started_at": _iso(t0),
                "ended_at": _iso(t1),
                "length_m": round(length or 0.0, 1),
                "source": sources.get(source, source),
                "status": status,
                "status_display": statuses.get(status, status),
                "lanes_covered": n_lanes,
                "findings": n_findings,
            }
            keys = [
                key
                for key in ((ReportScope.WORK_GROUP, g), (ReportScope.DEPARTMENT, d), (ReportScope.STREET_OFFICE, so))
                if key[1] is not None
            ]
            scopes_of_patrol[pid] = keys
            for key in keys:
                self.patrols[key].append(row)

        self.findings: dict[tuple[str, int], list[dict]] = defaultdict(list)
        finding_rows = (
            Finding.objects.filter(patrol__day=day, patrol__status__in=REPORTED_STATUSES)
            .order_by("found_at", "id")
            .values_list(
                "id",
                "patrol_id",
                "patrol__person__name",
                "found_at",
                "lane__name",
                "category_code",
                "description",
                "case_id",
            )
        )
        for fid, patrol_id, person, found_at, lane, code, description, case_id in finding_rows:
            row = {
                "id": fid,
                "patrol_id": patrol_id,
                "person": person,
                "found_at": _iso(found_at),
                "lane": lane or "",
                "category_code": code,
                "description": description,
                "case_id": case_id,
            }
            for key in scopes_of_patrol.get(patrol_id, ()):
                self.findings[key].append(row)
        case_ids = {f["case_id"] for fs in self.findings.values() for f in fs if f["case_id"]}
        self.closed = _closed_cases(case_ids)

        self.groups_of: dict[int, set[int]] = defaultdict(set)
        for gid, dept_id in WorkGroup.objects.values_list("id", "department_id"):
            self.groups_of[dept_id].add(gid)
        self.departments_of: dict[int, set[int]] = defaultdict(set)
        for dept_id, office_id in Department.objects.values_list("id", "street_office_id"):
            self.departments_of[office_id].add(dept_id)
        self.communities_of: dict[int, set[int]] = defaultdict(set)
        for area_id, parent_id in Area.objects.filter(level=Level.COMMUNITY).values_list("id", "parent_id"):
            self.communities_of[parent_id].add(area_id)
        self.summaries = {by: coverage_summary(day=day, by=by) for by in ("work_group", "department", "community")}

    def _summary(self, by: str, ids: set[int]) -> list[dict]:
        # coverage_summary(day, by, ids=…) of each report: the day's rows of those ids, in the same order
        return [dict(r) for r in self.summaries[by] if r["id"] in ids]

    def data(self, scope: str, scope_id: int) -> dict:
        """Figures and lists of one daily report (JSON-ready)."""
        if scope not in ReportScope.values:
            raise ValueError(f"unknown report scope {scope!r}")
        rows = self.lanes.get((scope, scope_id), [])
        due = [r for r in rows if r["due"]]
        covered = [r for r in due if r["covered"]]
        missed = [r for r in due if not r["covered"]]
        list_all = scope != ReportScope.STREET_OFFICE
        listed = due if list_all else missed
        names = self.names
        lanes = [
            {
                "id": r["id"],
                "name": r["name"],
                "kind": r["kind"],
                "community": r["community"],
                "covered": r["covered"],
                "best_share": r["best_share"],
                "patrollers": [names.get(p, "") for p in r["patroller_ids"]],
            }
            for r in listed
        ]
        patrols = [dict(p) for p in self.patrols.get((scope, scope_id), [])]
        finished = [p for p in patrols if p["status"] == PatrolStatus.FINISHED]
        findings = [dict(f) for f in self.findings.get((scope, scope_id), [])]
        case_ids = [f["case_id"] for f in findings if f["case_id"]]
        closed = None if self.closed is None else sum(1 for c in case_ids if c in self.closed)
        data = {
            "day": self.day.isoformat(),
            "scope": scope,
            "scope_id": scope_id,
            "lanes_due": len(due),
            "lanes_covered": len(covered),
            "lanes_missed": len(missed),
            "lanes_resting": len(rows) - len(due),
            "coverage_rate": coverage_rate(len(due), len(covered)),
            "lanes_listed": "all" if list_all else "missed",
            "lanes": lanes,
            "patrols_count": len(finished),
            "patrols_flagged": len(patrols) - len(finished),
            "patrollers": len({p["person_id"] for p in finished}),
            "distance_km": round(sum(p["length_m"] for p in finished) / 1000.0, 3),
            "patrols": patrols,
            "findings_count": len(findings),
            "findings": findings,
            "cases_reported": len(case_ids),
            "cases_closed": closed if case_ids else 0,
        }
        if scope == ReportScope.DEPARTMENT:
            data["breakdown_by"] = "work_group"
            data["breakdown"] = self._summary("work_group", self.groups_of.get(scope_id, set()))
        elif scope == ReportScope.STREET_OFFICE:
            data["breakdown_by"] = "department"
            data["breakdown"] = self._summary("department", self.departments_of.get(scope_id, set()))
            data["communities"] = self._summary("community", self.communities_of.get(scope_id, set()))
        return data


def report_data(*, scope: str, scope_id: int, day: date) -> dict:
    """Figures and lists of one daily report (JSON-ready). To build many reports of one day, use DayReports."""
    return DayReports(day).data(scope, scope_id)


def report_scopes() -> list[tuple[str, int, str, int | None]]:
    """(scope, id, name, street office id) of every report a day close produces."""
    from grid.models import Area, Level
    from people.models import Department, WorkGroup

    out = [
        (ReportScope.WORK_GROUP, g.id, f"{g.department.name} · {g.name}", g.department.street_office_id)
        for g in WorkGroup.objects.select_related("department").order_by("id")
    ]
    out += [(ReportScope.DEPARTMENT, d.id, d.name, d.street_office_id) for d in Department.objects.order_by("id")]
    out += [(ReportScope.STREET_OFFICE, a.id, a.name, a.id) for a in Area.objects.filter(level=Level.STREET_OFFICE)]
    return out


# ---------------------------------------------------------------------------------------------------------------
# XLSX

SUMMARY_ROWS = [
    ("day", "日期"),
    ("scope_display", "范围"),
    ("name", "名称"),
    ("lanes_due", "应巡街巷"),
    ("lanes_covered", "已巡街巷"),
    ("lanes_missed", "漏巡街巷"),
    ("lanes_resting", "轮休街巷"),
    ("coverage_rate", "覆盖率"),
    ("patrols_count", "巡查次数"),
    ("patrols_flagged", "待核查巡查"),
    ("patrollers", "巡查人数"),
    ("distance_km", "巡查里程(公里)"),
    ("findings_count", "发现问题"),
    ("cases_reported", "转为案件"),
    ("cases_closed", "已结案"),
]


def _rate_text(rate: float | None) -> str:
    return _("无数据") if rate is None else f"{rate * 100:.1f}%"


def report_xlsx(report: DailyReport) -> bytes:
    """The report as an XLSX workbook: 汇总 (summary), 街巷 (lanes), 分组 (breakdown), 巡查 (patrols), 发现问题."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    data = report.data
    wb = Workbook()
    bold = Font(bold=True)

    ws = wb.active
    ws.title = _("汇总")
    values = {**data, "scope_display": report.get_scope_display(), "name": report.scope_name}
    for key, label in SUMMARY_ROWS:
        value = values.get(key)
        if key == "coverage_rate":
            value = _rate_text(value)
        elif value is None:
            value = "—"
        ws.append([_(label), value])
        ws.cell(row=ws.max_row, column=1).font = bold
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 30

    def sheet(title: str, header: list[str], rows: list[list]):
        s = wb.create_sheet(title)
        s.append(header)
        for cell in s[1]:
            cell.font = bold
        for row in rows:
            s.append(row)
        s.freeze_panes = "A2"
        return s

    yes, no = _("是"), _("否")
    lane_title = _("街巷") if data.get("lanes_listed") == "all" else _("漏巡街巷")
    sheet(
        lane_title,
        [_("街巷编号"), _("街巷"), _("类型"), _("社区"), _("已巡"), _("最高覆盖比例"), _("巡查人")],
        [
            [
                ln["id"],
                ln["name"],
                ln["kind"],
                ln["community"],
                yes if ln["covered"] else no,
                ln["best_share"],
                "、".join(ln["patrollers"]),
            ]
            for ln in data.get("lanes", [])
        ],
    )
    if data.get("breakdown") is not None:
        label = _("工作组") if data.get("breakdown_by") == "work_group" else _("部门")
        sheet(
            _("分组"),
            [label, _("应巡街巷"), _("已巡街巷"), _("漏巡街巷"), _("覆盖率")],
            [
                [b["name"] or _("未分配"), b["due"], b["covered"], b["missed"], _rate_text(b["rate"])]
                for b in data["breakdown"]
            ],
        )
    if data.get("communities") is not None:
        sheet(
            _("社区"),
            [_("社区"), _("应巡街巷"), _("已巡街巷"), _("漏巡街巷"), _("覆盖率")],
            [
                [b["name"] or _("未划入社区"), b["due"], b["covered"], b["missed"], _rate_text(b["rate"])]
                for b in data["communities"]
            ],
        )
    sheet(
        _("巡查"),
        [
            _("巡查编号"),
            _("巡查人"),
            _("开始"),
            _("结束"),
            _("里程(米)"),
            _("来源"),
            _("状态"),
            _("覆盖街巷"),
            _("发现问题"),
        ],
        [
            [
                p["id"],
                p["person"],
                p["started_at"] or "",
                p["ended_at"] or "",
                p["length_m"],
                p["source"],
                p["status_display"],
                p["lanes_covered"],
                p["findings"],
            ]
            for p in data.get("patrols", [])
        ],
    )
    sheet(
        _("发现问题"),
        [_("时间"), _("巡查人"), _("街巷"), _("类别"), _("描述"), _("案件编号")],
        [
            [f["found_at"] or "", f["person"], f["lane"], f["category_code"], f["description"], f["case_id"] or ""]
            for f in data.get("findings", [])
        ],
    )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
