"""Reads for statistics: the bulletin content built from live figures, and published bulletins."""

from __future__ import annotations

import datetime as dt

from stats.indicators import Period, all_unit_figures, totals, unit_figures
from stats.models import Bulletin
from stats.rankings import rank

BAR_MAX_PX = 300
ROW_PX = 18
TREND_WEEKS = 8
TREND_COL_PX = 48
TREND_MAX_PX = 120
BULLETIN_LEVELS = ("street_office", "department", "squad", "community")


def ranking_rows(rk) -> list[dict]:
    return [{"rank": r, "score": str(s), **f.as_dict()} for r, s, f in rk.ranked]


def bulletin_content(period: Period) -> dict:
    """Everything a bulletin shows, as JSON-ready data (Decimals as strings). Frozen by publish_bulletin."""
    sections = []
    by_level = all_unit_figures(period=period, levels=BULLETIN_LEVELS)
    office_figures = by_level["street_office"]
    for level in BULLETIN_LEVELS:
        figures = by_level[level]
        rk = rank(figures, level=level, period=period)
        rows = ranking_rows(rk)
        for i, row in enumerate(rows):  # bar chart geometry, frozen with the figures
            rate = row["rates"]["closure_rate"]
            row["bar_px"] = 0 if rate is None else int(float(rate) * BAR_MAX_PX / 100)
            row["bar_y"] = i * ROW_PX
        sections.append(
            {
                "level": level,
                "ranked": rows,
                "no_data": [f.as_dict() for f in rk.no_data],
                "red": rk.red,
                "black": rk.black,
                # squads and departments overlap (a case counts for every department holding its lane): no total
                "total": totals(figures).as_dict() if level in ("street_office", "community") else None,
                "chart_height": len(rows) * ROW_PX,
            }
        )
    return {
        "trend": trend(period),
        "period": {"kind": period.kind, "start": period.start.isoformat(), "end": period.end.isoformat()},
        "label": period.label,
        "district": totals(office_figures).as_dict(),
        "sections": sections,
    }


def trend(period: Period, *, count: int = TREND_WEEKS) -> list[dict]:
    """District closure and on-time closure rates of `count` periods ending with `period`, oldest first, with
    the column geometry of the trend chart."""
    periods = [period]
    while len(periods) < count:
        periods.append(periods[-1].previous())
    out = []
    for i, p in enumerate(reversed(periods)):
        # street offices partition the districts, so their sum is the district total (and the cheaper query)
        t = totals(unit_figures(period=p, level="street_office"))
        rates = {k: t.rates[k] for k in ("closure_rate", "on_time_closure_rate")}
        heights = {k: 0 if v is None else int(float(v) * TREND_MAX_PX / 100) for k, v in rates.items()}
        out.append(
            {
                "label": p.label,
                "due": t.due,
                "closure_rate": None if rates["closure_rate"] is None else str(rates["closure_rate"]),
                "on_time_closure_rate": None
                if rates["on_time_closure_rate"] is None
                else str(rates["on_time_closure_rate"]),
                "x": i * TREND_COL_PX,
                "h_closure": heights["closure_rate"],
                "y_closure": TREND_MAX_PX - heights["closure_rate"],
                "h_on_time": heights["on_time_closure_rate"],
                "y_on_time": TREND_MAX_PX - heights["on_time_closure_rate"],
            }
        )
    return out


def published(*, kind: str = "week", start: dt.date | None = None):
    qs = Bulletin.objects.all()
    if kind:
        qs = qs.filter(kind=kind)
    if start:
        qs = qs.filter(period_start=start)
    return qs
