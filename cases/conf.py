"""Settings of the cases app, each with a default (override any of them in config/settings.py)."""

from django.conf import settings

DEFAULTS = {
    # Routing: a case snaps to the nearest lane within this distance (metres).
    "CASE_LANE_SNAP_M": 50.0,
    # Open cases of the same category within this distance are offered as possible duplicates (metres).
    "CASE_DUPLICATE_RADIUS_M": 50.0,
    # Work calendar: working periods of a working day (local time, settings.TIME_ZONE) and the working weekdays
    # (Monday = 0). Holidays and make-up working days are data (cases.CalendarDay).
    "CASE_WORK_PERIODS": [("09:00", "12:00"), ("13:30", "18:00")],
    "CASE_WORK_WEEKDAYS": [0, 1, 2, 3, 4],
    # Traffic light: yellow from this share of the time limit used, red when overdue.
    "CASE_YELLOW_AT": 0.8,
    # Spot re-checks (回头看): share of the cases closed in the past week sampled every week.
    "CASE_SPOT_CHECK_SHARE": 0.1,
    # Must-attend: the chief's position must be within this distance of the case (metres); attendance later
    # than this many hours after the report is late.
    "CASE_ATTEND_RADIUS_M": 100.0,
    "CASE_ATTEND_DUE_HOURS": 2.0,
    # Photos: largest upload in bytes, largest image in pixels, most photos per request.
    "CASE_PHOTO_MAX_BYTES": 5 * 1024 * 1024,
    "CASE_PHOTO_MAX_PIXELS": 40_000_000,
    "CASE_PHOTO_MAX_COUNT": 6,
    # Anonymous reports per client IP (DRF throttle rate syntax).
    "CASE_PUBLIC_REPORT_RATE": "20/hour",
}


def get(name: str):
    return getattr(settings, name, DEFAULTS[name])
