"""Reads for statistics: the bulletin content built from live figures, and published bulletins."""

from __future__ import annotations

import datetime as dt

from stats.indicators import Period, totals, unit_figures
from stats.models import Bulletin
from stats.rankings import rank

BAR_MAX_PX = 300


def ranking_rows(rk) -> list[dict]:
    return [{"rank": r, "score": str(s), **f.as_dict()} for r, s, f in rk.ranked]


def bulletin_content(period: Period) -> dict:
    """Everything a bulletin shows, as JSON-ready data (Decimals as strings). Frozen by publish_bulletin."""
    sections = []
    for level in ("street_office", "squad", "community"):
        figures = unit_figures(period=period, level=level)
        rk = rank(figures, level=level, period=period)
        rows = ranking_rows(rk)
        for row in rows:  # bar chart geometry, frozen with the figures
            rate = row["rates"]["closure_rate"]
            row["bar_px"] = 0 if rate is None else int(float(rate) * BAR_MAX_PX / 100)
        sections.append(
            {
                "level": level,
                "ranked": rows,
                "no_data": [f.as_dict() for f in rk.no_data],
                "red": rk.red,
                "black": rk.black,
                "total": totals(figures).as_dict() if level != "squad" else None,
            }
        )
    district = unit_figures(period=period, level="district")
    return {
        "period": {"kind": period.kind, "start": period.start.isoformat(), "end": period.end.isoformat()},
        "label": period.label,
        "district": totals(district).as_dict(),
        "sections": sections,
    }


def published(*, kind: str = "week", start: dt.date | None = None):
    qs = Bulletin.objects.all()
    if kind:
        qs = qs.filter(kind=kind)
    if start:
        qs = qs.filter(period_start=start)
    return qs
