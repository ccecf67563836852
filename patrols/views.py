"""Patrol pages: the phone page that records a live patrol, daily reports (日报) with XLSX export, a lane's
patrol calendar. Thin: data comes from patrols.selectors / patrols.reports, access rules are the API's."""

from __future__ import annotations

import calendar as pycal
from datetime import date, timedelta

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from patrols import selectors
from patrols.api import lane_calendar_data, xlsx_response


def _day(value, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


@require_GET
@login_required
@ensure_csrf_cookie
def live(request):
    from people.models import Person

    person = Person.objects.filter(user=request.user).first()
    stats = selectors.person_stats(person_id=person.id) if person else None
    try:
        from cases.models import Category

        categories = list(Category.objects.reportable().select_related("parent").order_by("order", "code"))
    except ImportError:
        categories = []
    return render(request, "patrols/live.html", {"person": person, "stats": stats, "categories": categories})


@require_GET
@login_required
def report_list(request):
    day = _day(request.GET.get("day"), timezone.localdate() - timedelta(days=1))
    reports = list(selectors.visible_reports(request.user).filter(day=day).order_by("scope", "scope_name"))
    groups = {
        scope: [r for r in reports if r.scope == scope] for scope in ("street_office", "department", "work_group")
    }
    return render(
        request,
        "patrols/report_list.html",
        {
            "day": day,
            "prev_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
            "groups": groups,
            "closed": selectors.day_closed(day),
            "empty": not reports,
        },
    )


@require_GET
@login_required
def report_detail(request, pk: int):
    report = get_object_or_404(selectors.visible_reports(request.user), pk=pk)
    return render(request, "patrols/report_detail.html", {"report": report, "data": report.data})


@require_GET
@login_required
def report_download(request, pk: int):
    report = get_object_or_404(selectors.visible_reports(request.user), pk=pk)
    return xlsx_response(report)


@require_GET
@login_required
def lane_calendar(request, lane_id: int):
    from lanes.models import Lane

    lane = get_object_or_404(Lane, pk=lane_id)
    try:
        year = int(request.GET.get("year") or timezone.localdate().year)
    except ValueError:
        raise Http404 from None
    data = lane_calendar_data(request.user, lane, year)
    by_day = {d["day"]: d for d in data["days"]}
    months = []
    for m in range(1, 13):
        weeks = []
        for week in pycal.Calendar().monthdatescalendar(year, m):
            weeks.append([(d, by_day.get(d)) if d.month == m else (None, None) for d in week])
        months.append({"month": m, "weeks": weeks})
    return render(
        request,
        "patrols/lane_calendar.html",
        {"lane": lane, "year": year, "data": data, "months": months, "prev_year": year - 1, "next_year": year + 1},
    )
