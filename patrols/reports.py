"""Daily report (日报) contents and their XLSX export.

A report is built from the closed day's tables only (LaneDayCoverage for lanes, Patrol / PatrolLane / Finding
for patrols), so the page, the XLSX file and the coverage tables agree by construction:

- work group: lanes the group held that day; patrols recorded for the group; findings on those patrols;
- department: lanes of its work groups and lanes whose lane chief belongs to it; its patrols; per work group;
- street office: lanes in its communities (missed ones listed); patrols of its departments; per department and
  per community.

Cases reported = findings filed as cases; cases closed = those of them closed (status closed) when the report
was built. Coverage rate is None ("无数据") when nothing was due.
"""

from __future__ import annotations

import io
from datetime import date, datetime

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from patrols.models import DailyReport, Finding, LaneDayCoverage, Patrol, PatrolStatus, ReportScope
from patrols.selectors import coverage_rate, coverage_summary


def _iso(t: datetime | None) -> str | None:
    return timezone.localtime(t).isoformat(timespec="seconds") if t else None


def _scope_filters(scope: str, scope_id: int) -> tuple[Q, Q]:
    """(LaneDayCoverage filter, Patrol filter) of a report scope."""
    if scope == ReportScope.WORK_GROUP:
        return Q(work_group_ids__contains=[scope_id]), Q(work_group_id=scope_id)
    if scope == ReportScope.DEPARTMENT:
        return Q(department_ids__contains=[scope_id]), Q(department_id=scope_id)
    if scope == ReportScope.STREET_OFFICE:
        return Q(street_office_id=scope_id), Q(department__street_office_id=scope_id)
    raise ValueError(f"unknown report scope {scope!r}")


def _case_counts(case_ids: list[int]) -> tuple[int, int | None]:
    if not case_ids:
        return 0, 0
    try:
        from cases.models import Case, Status
    except ImportError:
        return len(case_ids), None
    closed = Case.objects.filter(id__in=case_ids, status=Status.CLOSED).count()
    return len(case_ids), closed


def report_data(*, scope: str, scope_id: int, day: date) -> dict:
    """Figures and lists of one daily report (JSON-ready)."""
    from lanes.models import LaneKind
    from people.models import Person

    lane_q, patrol_q = _scope_filters(scope, scope_id)
    rows = list(
        LaneDayCoverage.objects.filter(lane_q, day=day)
        .order_by("covered", "lane__name", "lane_id")
        .values(
            "lane_id", "lane__name", "lane__kind", "community__name", "due", "covered", "best_share", "patroller_ids"
        )
    )
    due = [r for r in rows if r["due"]]
    covered = [r for r in due if r["covered"]]
    missed = [r for r in due if not r["covered"]]
    list_all = scope != ReportScope.STREET_OFFICE
    listed = due if list_all else missed
    names = dict(
        Person.objects.filter(id__in={p for r in listed for p in r["patroller_ids"]}).values_list("id", "name")
    )
    kinds = dict(LaneKind.choices)
    lanes = [
        {
            "id": r["lane_id"],
            "name": r["lane__name"],
            "kind": str(kinds.get(r["lane__kind"], r["lane__kind"])),
            "community": r["community__name"] or "",
            "covered": r["covered"],
            "best_share": round(r["best_share"], 4),
            "patrollers": [names.get(p, "") for p in r["patroller_ids"]],
        }
        for r in listed
    ]

    patrols_qs = (
        Patrol.objects.filter(patrol_q, day=day, status__in=[PatrolStatus.FINISHED, PatrolStatus.FLAGGED])
        .select_related("person")
        .annotate(
            n_lanes=Count("lane_links", filter=Q(lane_links__covered=True), distinct=True),
            n_findings=Count("findings", distinct=True),
        )
        .order_by("started_at", "id")
    )
    patrols = [
        {
            "id": p.id,
            "person": p.person.name,
            "person_id": p.person_id,
            "started_at": _iso(p.started_at),
            "ended_at": _iso(p.ended_at),
            "length_m": round(p.length_m or 0.0, 1),
            "source": p.get_source_display(),
            "status": p.status,
            "status_display": p.get_status_display(),
            "lanes_covered": p.n_lanes,
            "findings": p.n_findings,
        }
        for p in patrols_qs
    ]
    finished = [p for p in patrols if p["status"] == PatrolStatus.FINISHED]
    findings_qs = (
        Finding.objects.filter(patrol_id__in=[p["id"] for p in patrols])
        .select_related("patrol__person", "lane")
        .order_by("found_at", "id")
    )
    findings = [
        {
            "id": f.id,
            "patrol_id": f.patrol_id,
            "person": f.patrol.person.name,
            "found_at": _iso(f.found_at),
            "lane": f.lane.name if f.lane else "",
            "category_code": f.category_code,
            "description": f.description,
            "case_id": f.case_id,
        }
        for f in findings_qs
    ]
    cases_reported, cases_closed = _case_counts([f["case_id"] for f in findings if f["case_id"]])

    data = {
        "day": day.isoformat(),
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
        "cases_reported": cases_reported,
        "cases_closed": cases_closed,
    }
    if scope == ReportScope.DEPARTMENT:
        from people.models import WorkGroup

        group_ids = list(WorkGroup.objects.filter(department_id=scope_id).values_list("id", flat=True))
        data["breakdown_by"] = "work_group"
        data["breakdown"] = coverage_summary(day=day, by="work_group", ids=group_ids)
    elif scope == ReportScope.STREET_OFFICE:
        from people.models import Department

        dept_ids = list(Department.objects.filter(street_office_id=scope_id).values_list("id", flat=True))
        data["breakdown_by"] = "department"
        data["breakdown"] = coverage_summary(day=day, by="department", ids=dept_ids)
        from grid.models import Area

        community_ids = list(Area.objects.filter(parent_id=scope_id, level="community").values_list("id", flat=True))
        data["communities"] = coverage_summary(day=day, by="community", ids=community_ids)
    return data


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
