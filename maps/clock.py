"""The deadline traffic light of many cases at once, in SQL.

cases.selectors.case_clock is the rule for one case (green under CASE_YELLOW_AT of the time limit used, yellow up to
the deadline, red after; working time on the work calendar). Evaluating it case by case walks the calendar day by
day, too slow for a map of 10,000 open cases. But for a running clock the light depends only on how much time is
left, and "at most s seconds left" is "the deadline is no later than calendar.add(now, s)". Cases share a handful
of time limits (one per category allowance, plus approved extensions), so one threshold instant per distinct
(limit, clock unit) turns the rule into a single CASE expression. Suspended cases (clock frozen at suspension) are
rare and are left to case_clock. Tested against case_clock.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.db.models import Case as When_
from django.db.models import CharField, Q, QuerySet, Value, When

from cases import conf
from cases.calendar import MAX_DAYS, WorkCalendar
from cases.models import CLOCK_STATUSES, ClockUnit, Status

LIGHTS = ("green", "yellow", "red")
SUSPENDED = "suspended"


def yellow_remaining_max(limit_seconds: int) -> int:
    """The most whole seconds left at which a case with this limit is already yellow (traffic_light's test
    `(limit - remaining) / limit >= CASE_YELLOW_AT`, evaluated exactly as it does, in floating point)."""
    yellow_at = conf.get("CASE_YELLOW_AT")
    r = math.floor(limit_seconds * (1.0 - yellow_at))
    while (limit_seconds - (r + 1)) / limit_seconds >= yellow_at:
        r += 1
    while r >= 0 and (limit_seconds - r) / limit_seconds < yellow_at:
        r -= 1
    return r


def last_working_instant(calendar: WorkCalendar, now: datetime) -> datetime | None:
    """`now` if it lies in working time, else the end of the latest working period before it."""
    local = now.astimezone(calendar.tz)
    day = local.date()
    for _ in range(MAX_DAYS):
        if calendar.is_workday(day):
            for begin, end in reversed(calendar.periods):
                b = datetime.combine(day, begin, tzinfo=calendar.tz)
                e = datetime.combine(day, end, tzinfo=calendar.tz)
                if b <= local < e:
                    return now
                if e <= local:
                    return e
        day -= timedelta(days=1)
    return None


def light_annotation(qs: QuerySet, *, now, calendar: WorkCalendar | None = None):
    """An expression giving each case of `qs` its light: "green" | "yellow" | "red", "" when no clock runs, and
    "suspended" for suspended cases (their frozen light comes from case_clock).

    Red is "at least one second of the case's clock time has passed since the deadline" (so a deadline at Friday
    18:00 is not yet red on Sunday for a working-time clock: no working time has passed); yellow is "at most
    yellow_remaining_max(limit) seconds left", i.e. the deadline comes before calendar.add(now, that + 1)."""
    calendar = calendar or WorkCalendar.load()
    pairs = (
        qs.filter(status__in=CLOCK_STATUSES, deadline__isnull=False, limit_seconds__gt=0)
        .order_by()
        .values_list("limit_seconds", "clock_unit")
        .distinct()
    )
    yellow = Q(pk__in=[])
    for limit, unit in pairs:
        before = calendar.add(now, yellow_remaining_max(limit) + 1, unit)
        yellow |= Q(limit_seconds=limit, clock_unit=unit, deadline__lt=before)
    red = Q(clock_unit=ClockUnit.NATURAL, deadline__lte=now - timedelta(seconds=1))
    last = last_working_instant(calendar, now)
    if last is not None:
        red |= ~Q(clock_unit=ClockUnit.NATURAL) & Q(deadline__lte=last - timedelta(seconds=1))
    return When_(
        When(Q(deadline__isnull=True) | Q(limit_seconds=0), then=Value("")),
        When(status=Status.SUSPENDED, then=Value(SUSPENDED)),
        When(~Q(status__in=CLOCK_STATUSES), then=Value("")),
        When(red, then=Value("red")),
        When(yellow, then=Value("yellow")),
        default=Value("green"),
        output_field=CharField(),
    )
