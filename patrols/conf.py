"""Patrol settings with their defaults. Each can be set in config/settings.py (or the environment through it)."""

from __future__ import annotations

from django.conf import settings

DEFAULTS = {
    # A lane counts as covered by a track when at least PATROL_MIN_SHARE of its length lies within
    # PATROL_BUFFER_M metres of the track.
    "PATROL_BUFFER_M": 20.0,
    "PATROL_MIN_SHARE": 0.6,
    # Fixes implying a faster move than this (walking or cycling patrols) are GPS jumps and are removed.
    "PATROL_MAX_SPEED_KMH": 50.0,
    # GPS error allowed on top of that speed between two fixes (metres).
    "PATROL_GPS_TOLERANCE_M": 15.0,
    # Without timestamps, a single fix this far from both neighbours (which are close to each other) is a jump.
    "PATROL_MAX_STEP_M": 200.0,
    # Live fixes with a reported accuracy worse than this are ignored.
    "PATROL_MAX_ACCURACY_M": 100.0,
    # A track farther than this from every lane is rejected (upload) or flagged (live patrol).
    "PATROL_MAX_LANE_DISTANCE_M": 200.0,
    # Rest days per lane kind: ISO weekdays (1 = Monday … 7 = Sunday) and/or dates "YYYY-MM-DD".
    # Every lane is due every day by default.
    "PATROL_REST_DAYS": {"main": [], "secondary": [], "back": []},
    # Upload limits: bytes of one GPX/GeoJSON file, points in one track, points in one live batch.
    "PATROL_UPLOAD_MAX_BYTES": 10 * 1024 * 1024,
    "PATROL_MAX_POINTS": 50_000,
    "PATROL_MAX_BATCH_POINTS": 1_000,
    # Periodic tasks, local time (settings.TIME_ZONE) "HH:MM": close yesterday; alert work group leaders of the
    # lanes nobody patrolled yesterday.
    "PATROL_CLOSE_DAY_AT": "00:30",
    "PATROL_ALERT_AT": "08:00",
}


def get(name: str):
    return getattr(settings, name, DEFAULTS[name])


def rest_kinds(day) -> list[str]:
    """Lane kinds resting on `day` (not due)."""
    table = get("PATROL_REST_DAYS") or {}
    out = []
    for kind, days in table.items():
        for d in days or ():
            if (isinstance(d, int) and d == day.isoweekday()) or (isinstance(d, str) and d == day.isoformat()):
                out.append(kind)
                break
    return out


def utc_cron(local_hhmm: str) -> str:
    """A daily cron line in UTC (procrastinate evaluates cron in UTC) for a local wall-clock time. Uses the
    zone's current UTC offset: exact for zones without daylight saving (Asia/Shanghai)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    hour, minute = (int(x) for x in local_hhmm.split(":"))
    offset = datetime.now(ZoneInfo(settings.TIME_ZONE)).utcoffset()
    total = (hour * 60 + minute - int(offset.total_seconds() // 60)) % (24 * 60)
    return f"{total % 60} {total // 60} * * *"
