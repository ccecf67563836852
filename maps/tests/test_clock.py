"""The dashboard's traffic light in SQL equals the cases app's rule (cases.selectors.case_clock) case by case."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from cases.calendar import WorkCalendar
from cases.models import Case, Status
from cases.selectors import case_clock
from maps.clock import SUSPENDED, light_annotation
from maps.tests.conftest import point_on, report

pytestmark = pytest.mark.django_db

# street_order / sanitation / municipal categories with working hours, working days and natural hours
CATEGORIES = ("SJ0402", "SJ0104", "SJ0101", "SJ0103", "SJ0102", "SJ0501", "LBB02", "SJ0301")


# Wednesday mid-morning, Wednesday lunch break, Saturday afternoon, Monday before work (local time)
MOMENTS = ("2026-11-18 10:17", "2026-11-18 12:40", "2026-11-21 15:00", "2026-11-23 08:30")


@pytest.mark.parametrize("moment", MOMENTS)
def test_sql_light_equals_case_clock_for_every_case(place, moment):
    rng = random.Random(moment)
    now = timezone.make_aware(datetime.strptime(moment, "%Y-%m-%d %H:%M"))
    lanes = [place.fuzhou_w, place.fuzhou_e, place.hubei]
    cases = []
    for i in range(60):
        # a third filed within the last day (most yellows are there), the rest over nine days
        filed = now - timedelta(minutes=rng.uniform(0, 60 * 24 * (1 if i % 3 == 0 else 9)))
        cases.append(report(CATEGORIES[i % len(CATEGORIES)], point_on(rng.choice(lanes), rng.random()), now=filed))
    # a few in other states: accepted and rework keep the clock; resolved and closed stop it
    for case, status in zip(
        cases[:12], [Status.ACCEPTED, Status.REWORK, Status.RESOLVED, Status.CLOSED] * 3, strict=False
    ):
        Case.objects.filter(pk=case.pk).update(status=status)
    Case.objects.filter(pk=cases[12].pk).update(status=Status.SUSPENDED, suspended_at=now - timedelta(hours=3))

    calendar = WorkCalendar.load()
    qs = Case.objects.filter(pk__in=[c.pk for c in cases]).select_related("category")
    found = dict(qs.annotate(light=light_annotation(qs, now=now, calendar=calendar)).values_list("pk", "light"))
    seen = set()
    for case in qs:
        expected = case_clock(case, now=now, calendar=calendar).light
        if case.status == Status.SUSPENDED:
            assert found[case.pk] == SUSPENDED
            continue
        assert found[case.pk] == expected, (case.category.code, case.status, case.deadline, case.limit_seconds)
        seen.add(expected)
    assert {"green", "yellow", "red", ""} <= seen  # the sample covers every light
