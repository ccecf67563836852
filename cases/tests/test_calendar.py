"""The work calendar: 09:00–12:00 and 13:30–18:00 on Monday–Friday (Asia/Shanghai), holidays and make-up days as
data. Expected instants are worked out by hand from that definition."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cases.calendar import CalendarError, WorkCalendar, traffic_light
from cases.models import CalendarDay, ClockUnit

TZ = ZoneInfo("Asia/Shanghai")
H = 3600


def at(day, hh, mm=0):
    return datetime(2026, 11, day, hh, mm, tzinfo=TZ)  # November 2026: the 20th is a Friday, the 23rd a Monday


@pytest.fixture
def cal():
    return WorkCalendar(periods=[("09:00", "12:00"), ("13:30", "18:00")], weekdays=[0, 1, 2, 3, 4], tz="Asia/Shanghai")


def test_working_hours_skip_lunch_evenings_and_weekends(cal):
    assert cal.day_seconds == 7.5 * H
    assert cal.add(at(23, 11), 2 * H) == at(23, 14, 30)  # 11–12, then 13:30–14:30
    assert cal.add(at(20, 17), 4 * H) == at(23, 12)  # Friday 17–18, Monday 9–12
    assert cal.add(at(21, 10), 1 * H) == at(23, 10)  # a Saturday report starts on Monday morning
    assert cal.add(at(23, 12, 30), 30 * 60) == at(23, 14)  # lunch does not count
    assert cal.add(at(23, 18), 1) == at(24, 9) + timedelta(seconds=1)
    assert cal.add(at(23, 10), 0) == at(23, 10)


def test_working_days_are_whole_working_days_of_working_time(cal):
    one, two = cal.allowance(1, "working_days"), cal.allowance(2, "working_days")
    assert one.clock_unit == ClockUnit.WORKING and one.seconds == 7.5 * H
    assert cal.add(at(23, 9), one.seconds) == at(23, 18)
    assert cal.add(at(23, 14), one.seconds) == at(24, 14)  # same time next working day
    assert cal.add(at(20, 14), two.seconds) == at(24, 14)  # Friday → Tuesday over the weekend


def test_natural_hours_ignore_the_calendar(cal):
    allowance = cal.allowance(4, "hours")
    assert allowance.clock_unit == ClockUnit.NATURAL
    assert cal.add(at(21, 22), allowance.seconds, allowance.clock_unit) == at(22, 2)
    assert cal.elapsed(at(21, 22), at(22, 2), ClockUnit.NATURAL) == 4 * H


def test_holidays_and_make_up_days_are_data():
    cal = WorkCalendar(
        periods=[("09:00", "12:00"), ("13:30", "18:00")],
        weekdays=[0, 1, 2, 3, 4],
        exceptions={date(2026, 11, 23): False, date(2026, 11, 21): True},  # Monday off, Saturday worked
        tz="Asia/Shanghai",
    )
    assert cal.add(at(20, 17), 4 * H) == at(21, 12)  # the make-up Saturday counts
    assert cal.add(at(21, 17), 4 * H) == at(24, 12)  # the holiday Monday does not
    assert cal.elapsed(at(20, 18), at(24, 9)) == 7.5 * H  # only the Saturday in between


@pytest.mark.django_db
def test_load_reads_calendar_days_from_the_database():
    CalendarDay.objects.create(date=date(2026, 11, 23), is_workday=False, note="测试假日")
    cal = WorkCalendar.load()
    assert not cal.is_workday(date(2026, 11, 23))
    assert cal.is_workday(date(2026, 11, 24))


@pytest.mark.parametrize(
    ("start", "seconds"),
    [(at(20, 8), 1), (at(20, 11, 59), 120), (at(22, 3), 9 * H), (at(23, 13), 7.5 * H * 3 + 17), (at(24, 17, 45), 60)],
)
def test_elapsed_inverts_add(cal, start, seconds):
    end = cal.add(start, int(seconds))
    assert cal.elapsed(start, end) == int(seconds)
    assert cal.elapsed(end, start) == -int(seconds)


def test_bad_calendars_are_refused():
    with pytest.raises(CalendarError):
        WorkCalendar(periods=[("12:00", "09:00")], weekdays=[0])
    with pytest.raises(CalendarError):
        WorkCalendar(periods=[("09:00", "12:00"), ("11:00", "13:00")], weekdays=[0])
    with pytest.raises(CalendarError, match="ten years"):
        WorkCalendar(periods=[("09:00", "12:00")], weekdays=[]).add(at(23, 9), 60)


def test_traffic_light_thresholds():
    assert traffic_light(limit_seconds=100, remaining_seconds=21).light == "green"  # 79 % used
    assert traffic_light(limit_seconds=100, remaining_seconds=20).light == "yellow"  # 80 %
    assert traffic_light(limit_seconds=100, remaining_seconds=0).light == "yellow"  # 100 %, not yet late
    red = traffic_light(limit_seconds=100, remaining_seconds=-1)
    assert red.light == "red" and red.used > 1
