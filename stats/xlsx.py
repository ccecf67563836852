"""XLSX export of a published bulletin, built only from its frozen content (so it matches the page)."""

from __future__ import annotations

import datetime as dt
import io

from django.utils.translation import gettext as _
from openpyxl import Workbook

from stats.models import Bulletin

RATE_KEYS = (
    "closure_rate",
    "on_time_closure_rate",
    "rework_rate",
    "accurate_dispatch_rate",
    "on_time_dispatch_rate",
    "patrol_coverage_rate",
    "attendance_rate",
    "satisfaction_rate",
)
SHEET_TITLES = {"street_office": "街道排名", "department": "部门排名", "squad": "中队排名", "community": "社区排名"}


def _num(value):
    return None if value is None else float(value)


def bulletin_xlsx(bulletin: Bulletin) -> bytes:
    c = bulletin.content
    wb = Workbook()
    wb.properties.created = wb.properties.modified = dt.datetime(
        bulletin.published_at.year, bulletin.published_at.month, bulletin.published_at.day
    )
    ws = wb.active
    ws.title = _("全区")
    ws.append([_("期次"), c["label"], _("版本"), c["version"], _("发布时间"), c["published_at"]])
    d = c["district"]
    ws.append([_("应结案数"), _("结案数"), _("按期结案数"), _("结案率(%)"), _("按期结案率(%)")])
    ws.append(
        [
            d["due"],
            d["closed"],
            d["closed_on_time"],
            _num(d["rates"]["closure_rate"]),
            _num(d["rates"]["on_time_closure_rate"]),
        ]
    )
    header = [
        _("名次"),
        _("单位"),
        _("综合得分"),
        _("应结案数"),
        _("结案数"),
        _("按期结案数"),
        _("结案率(%)"),
        _("按期结案率(%)"),
        _("返工率(%)"),
        _("准确派遣率(%)"),
        _("按时派遣率(%)"),
        _("巡查覆盖率(%)"),
        _("必到到场率(%)"),
        _("群众满意度"),
        _("榜单"),
    ]
    for s in c["sections"]:
        sheet = wb.create_sheet(_(SHEET_TITLES[s["level"]]))
        sheet.append(header)
        for r in s["ranked"]:
            mark = _("红榜") if r["unit_id"] in s["red"] else _("黑榜") if r["unit_id"] in s["black"] else ""
            sheet.append(
                [
                    r["rank"],
                    r["name"],
                    float(r["score"]),
                    r["due"],
                    r["closed"],
                    r["closed_on_time"],
                    *[_num(r["rates"].get(k)) for k in RATE_KEYS],
                    mark,
                ]
            )
        for f in s["no_data"]:
            sheet.append(
                [
                    None,
                    f["name"],
                    None,
                    f["due"],
                    f["closed"],
                    f["closed_on_time"],
                    *[None for _k in RATE_KEYS],
                    _("无数据"),
                ]
            )
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
