"""Work calendar: deadlines in working hours / working days, and the traffic light.

A working day has working periods (settings CASE_WORK_PERIODS, e.g. 09:00–12:00 and 13:30–18:00, local time in
settings.TIME_ZONE) on working weekdays (CASE_WORK_WEEKDAYS), except public holidays, plus make-up working days
on weekends (调休) — both kept as data in cases.CalendarDay. "N working days" is N times the length of a working
day in working time, so the deadline clock and the traffic light measure the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from cases import conf
from cases.models import ClockUnit, DeadlineUnit

MAX_DAYS = 3660  # no deadline is ten years away; guards against a calendar without any working day


class CalendarError(ValueError):
    pass


def _parse_hhmm(value: str) -> time:
    hours, minutes = (int(part) for part in str(value).split(":"))
    return time(hours, minutes)


@dataclass(frozen=True)
class Allowance:
    """A time limit as the clock measures it: `seconds` of working time or of wall-clock time."""

    clock_unit: str
    seconds: int


class WorkCalendar:
    def __init__(
        self,
        *,
        periods=None,
        weekdays=None,
        exceptions: dict[date, bool] | None = None,
        tz: str | None = None,
    ) -> None:
        raw = periods if periods is not None else conf.get("CASE_WORK_PERIODS")
        self.periods = sorted((_parse_hhmm(a), _parse_hhmm(b)) for a, b in raw)
        for begin, end in self.periods:
            if end <= begin:
                raise CalendarError(f"working period {begin}–{end} ends before it starts")
        for (_, end), (begin, _) in zip(self.periods, self.periods[1:], strict=False):
            if begin < end:
                raise CalendarError("working periods overlap")
        self.weekdays = frozenset(weekdays if weekdays is not None else conf.get("CASE_WORK_WEEKDAYS"))
        self.exceptions = dict(exceptions or {})
        self.tz = ZoneInfo(tz or settings.TIME_ZONE)
        self.day_seconds = sum(
            (datetime.combine(date.min, end) - datetime.combine(date.min, begin)).seconds for begin, end in self.periods
        )
        if self.day_seconds <= 0:
            raise CalendarError("a working day needs at least one working period")

    @classmethod
    def load(cls) -> WorkCalendar:
        """The configured calendar with every holiday / make-up day from the database (a small table; read on
        every submission, so by plain SQL rather than through the ORM's query compiler)."""
        from django.db import connection

        from cases.models import CalendarDay

        with connection.cursor() as cursor:
            cursor.execute(f"SELECT date, is_workday FROM {CalendarDay._meta.db_table}")
            return cls(exceptions=dict(cursor.fetchall()))

    # --- days -------------------------------------------------------------------------------------------
    def is_workday(self, day: date) -> bool:
        if day in self.exceptions:
            return self.exceptions[day]
        return day.weekday() in self.weekdays

    def _windows(self, day: date):
        if not self.is_workday(day):
            return
        for begin, end in self.periods:
            yield (
                datetime.combine(day, begin, tzinfo=self.tz),
                datetime.combine(day, end, tzinfo=self.tz),
            )

    # --- allowances -------------------------------------------------------------------------------------
    def allowance(self, amount: int, unit: str) -> Allowance:
        if unit == DeadlineUnit.WORKING_HOURS:
            return Allowance(ClockUnit.WORKING, int(amount * 3600))
        if unit == DeadlineUnit.WORKING_DAYS:
            return Allowance(ClockUnit.WORKING, int(amount * self.day_seconds))
        if unit == DeadlineUnit.HOURS:
            return Allowance(ClockUnit.NATURAL, int(amount * 3600))
        raise CalendarError(f"unknown deadline unit {unit!r}")

    # --- clock arithmetic -------------------------------------------------------------------------------
    def add(self, start: datetime, seconds: int, clock_unit: str = ClockUnit.WORKING) -> datetime:
        """The instant at which `seconds` of (working or wall-clock) time have passed since `start`."""
        if clock_unit == ClockUnit.NATURAL:
            return start + timedelta(seconds=seconds)
        if seconds <= 0:
            return start
        local = start.astimezone(self.tz)
        remaining = seconds
        day = local.date()
        for _ in range(MAX_DAYS):
            for begin, end in self._windows(day):
                if end <= local:
                    continue
                begin = max(begin, local)
                available = (end - begin).total_seconds()
                if remaining <= available:
                    return begin + timedelta(seconds=remaining)
                remaining -= available
            day += timedelta(days=1)
        raise CalendarError("no working time within ten years: check the calendar settings")

    def elapsed(self, start: datetime, end: datetime, clock_unit: str = ClockUnit.WORKING) -> int:
        """Seconds of (working or wall-clock) time from `start` to `end`; negative when `end` is earlier."""
        if clock_unit == ClockUnit.NATURAL:
            return int((end - start).total_seconds())
        if end < start:
            return -self.elapsed(end, start, clock_unit)
        a, b = start.astimezone(self.tz), end.astimezone(self.tz)
        total = 0.0
        day = a.date()
        last = b.date()
        while day <= last:
            for begin, finish in self._windows(day):
                lo, hi = max(begin, a), min(finish, b)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return int(total)


@dataclass(frozen=True)
class Clock:
    """Where a case stands against its time limit."""

    light: str  # "green" | "yellow" | "red" | "" (no clock running)
    used: float  # share of the limit used, 0..(>1 when overdue)
    remaining_seconds: int  # negative when overdue


def traffic_light(*, limit_seconds: int, remaining_seconds: int) -> Clock:
    """Green under CASE_YELLOW_AT (80 %) of the limit used, yellow up to 100 %, red when overdue."""
    if limit_seconds <= 0:
        return Clock("", 0.0, remaining_seconds)
    used = (limit_seconds - remaining_seconds) / limit_seconds
    if remaining_seconds < 0:
        light = "red"
    elif used >= conf.get("CASE_YELLOW_AT"):
        light = "yellow"
    else:
        light = "green"
    return Clock(light, round(used, 4), remaining_seconds)
