"""Cleaning GPS fixes into a patrol track (pure Python, no database). Every rule below is explicit and reported
back to the patroller in `CleanResult.messages`:

1. Coordinates: each fix must be a finite lon/lat in range, else the whole track is refused (TrackError);
   with coordsys=gcj02 (Amap / Tencent phone SDKs) fixes are converted to WGS-84 (common.geo.to_wgs84).
2. Live fixes whose reported accuracy is worse than PATROL_MAX_ACCURACY_M are dropped.
3. Timestamps: if some fixes have a time and others not, those without are dropped; fixes out of time order
   are sorted by time; fixes in the future (more than 10 minutes ahead of the server) refuse the track.
4. Exact repeats of the previous fix are dropped (a phone standing still).
5. GPS jumps. With timestamps: a fix farther from the last kept fix than PATROL_MAX_SPEED_KMH allows in the
   time between them (plus PATROL_GPS_TOLERANCE_M of GPS error, so that noise between fixes a second apart is
   not taken for speed) is dropped, unless it starts a run of RESUME_RUN consistent fixes (then the patroller really is there, e.g.
   after a signal gap: the run is kept). The walk starts from the first fix that begins three mutually
   consistent fixes, and fixes before it are checked backwards the same way. Without timestamps: a single fix
   more than PATROL_MAX_STEP_M from both neighbours, while the neighbours are within that distance of each
   other, is dropped.
6. Fewer than two distinct fixes left: the track is refused.

Days: fixes are grouped by their local date (settings.TIME_ZONE); see `split_by_day`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from common.geo import CoordinateError, to_wgs84
from patrols import conf
from patrols.importers.tracks import RawPoint, TrackError

RESUME_RUN = 8
FUTURE_TOLERANCE = timedelta(minutes=10)
EARTH_R = 6_371_008.8


@dataclass
class Fix:
    lon: float
    lat: float
    t: datetime | None = None
    accuracy_m: float | None = None
    index: int = 0  # position in the input
    reason: str = ""  # why it was dropped ("" = kept)


@dataclass
class CleanResult:
    fixes: list[Fix]  # kept, in order
    dropped: list[Fix] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    points_in: int = 0

    @property
    def timed(self) -> bool:
        return bool(self.fixes) and self.fixes[0].t is not None

    def summary(self) -> dict:
        reasons: dict[str, int] = defaultdict(int)
        for f in self.dropped:
            reasons[f.reason] += 1
        return {
            "points_in": self.points_in,
            "points_kept": len(self.fixes),
            "dropped": dict(sorted(reasons.items())),
            "messages": list(self.messages),
        }


def distance_m(a: Fix, b: Fix) -> float:
    """Great-circle distance (haversine) in metres."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_R * math.asin(min(1.0, math.sqrt(h)))


def to_fixes(points: list[RawPoint], *, coordsys: str = "wgs84") -> list[Fix]:
    fixes = []
    for i, p in enumerate(points):
        try:
            ll = to_wgs84(p.lon, p.lat, coordsys)
        except CoordinateError as exc:
            raise TrackError(_("第 %(n)d 个点坐标无效：%(error)s") % {"n": i + 1, "error": exc}) from None
        fixes.append(Fix(ll.lon, ll.lat, p.t, getattr(p, "accuracy_m", None), i))
    return fixes


def clean(
    fixes: list[Fix],
    *,
    max_speed_kmh: float | None = None,
    max_step_m: float | None = None,
    max_accuracy_m: float | None = None,
    now: datetime | None = None,
) -> CleanResult:
    """Apply the rules of the module docstring; raises TrackError when nothing usable is left."""
    max_speed_kmh = conf.get("PATROL_MAX_SPEED_KMH") if max_speed_kmh is None else max_speed_kmh
    max_step_m = conf.get("PATROL_MAX_STEP_M") if max_step_m is None else max_step_m
    max_accuracy_m = conf.get("PATROL_MAX_ACCURACY_M") if max_accuracy_m is None else max_accuracy_m
    now = now or timezone.now()
    result = CleanResult(fixes=[], points_in=len(fixes))
    if not fixes:
        raise TrackError(_("轨迹中没有任何定位点。"))

    def drop(items: list[Fix], reason: str) -> None:
        for f in items:
            f.reason = reason
        result.dropped.extend(items)

    work = list(fixes)
    inaccurate = [f for f in work if f.accuracy_m is not None and f.accuracy_m > max_accuracy_m]
    if inaccurate:
        drop(inaccurate, "inaccurate")
        work = [f for f in work if not f.reason]
        result.messages.append(
            _("%(n)d 个定位点误差超过 %(m)d 米，已忽略。") % {"n": len(inaccurate), "m": round(max_accuracy_m)}
        )

    timed = [f for f in work if f.t is not None]
    if timed and len(timed) < len(work):
        drop([f for f in work if f.t is None], "no_time")
        result.messages.append(_("%(n)d 个定位点缺少时间，已忽略。") % {"n": len(work) - len(timed)})
        work = timed
    if timed:
        future = [f for f in work if f.t > now + FUTURE_TOLERANCE]
        if future:
            raise TrackError(
                _("轨迹中有 %(n)d 个点的时间晚于当前时间（如 %(t)s），请检查设备时间后重新上传。")
                % {"n": len(future), "t": timezone.localtime(future[0].t).strftime("%Y-%m-%d %H:%M")}
            )
        if any(b.t < a.t for a, b in zip(work, work[1:], strict=False)):
            work = sorted(work, key=lambda f: f.t)
            result.messages.append(_("定位点时间顺序错乱，已按时间重新排序。"))

    deduped: list[Fix] = []
    repeats: list[Fix] = []
    for f in work:
        if deduped and f.lon == deduped[-1].lon and f.lat == deduped[-1].lat:
            repeats.append(f)
        else:
            deduped.append(f)
    drop(repeats, "repeat")
    work = deduped

    if len(work) >= 3:
        kept, jumps = _drop_fast(work, max_speed_kmh) if work[0].t is not None else _drop_spikes(work, max_step_m)
        if jumps:
            drop(jumps, "jump")
            if work[0].t is not None:
                result.messages.append(
                    _("剔除 %(n)d 个漂移点（速度超过 %(v)d 公里/小时）。")
                    % {"n": len(jumps), "v": round(max_speed_kmh)}
                )
            else:
                result.messages.append(
                    _("剔除 %(n)d 个漂移点（与前后点相距超过 %(m)d 米）。") % {"n": len(jumps), "m": round(max_step_m)}
                )
        work = kept

    if len(work) < 2:
        raise TrackError(_("有效定位点少于 2 个（共收到 %(n)d 个点），无法形成轨迹。") % {"n": result.points_in})
    result.fixes = work
    return result


def _consistent(a: Fix, b: Fix, limit: float) -> bool:
    """Could the patroller have moved from a to b? At most `limit` km/h, plus the GPS error of a fix
    (PATROL_GPS_TOLERANCE_M): two fixes one second apart may differ by a few metres of noise alone."""
    seconds = abs((b.t - a.t).total_seconds())
    return distance_m(a, b) <= limit / 3.6 * seconds + conf.get("PATROL_GPS_TOLERANCE_M")


def _drop_fast(fixes: list[Fix], limit: float) -> tuple[list[Fix], list[Fix]]:
    n = len(fixes)
    anchor = next(
        (
            i
            for i in range(n - 2)
            if _consistent(fixes[i], fixes[i + 1], limit) and _consistent(fixes[i + 1], fixes[i + 2], limit)
        ),
        None,
    )
    if anchor is None:
        anchor = next((i for i in range(n - 1) if _consistent(fixes[i], fixes[i + 1], limit)), 0)
    forward, jumps_f = _walk(fixes[anchor:], limit)
    backward, jumps_b = _walk(list(reversed(fixes[: anchor + 1])), limit)
    kept = list(reversed(backward))[:-1] + forward
    return kept, jumps_b + jumps_f


def _walk(fixes: list[Fix], limit: float) -> tuple[list[Fix], list[Fix]]:
    """Greedy walk from fixes[0] (trusted); see rule 5."""
    kept = [fixes[0]]
    pending: list[Fix] = []
    jumps: list[Fix] = []
    for f in fixes[1:]:
        if _consistent(kept[-1], f, limit):
            jumps.extend(pending)
            pending = []
            kept.append(f)
            continue
        if pending and not _consistent(pending[-1], f, limit):
            jumps.extend(pending)
            pending = []
        pending.append(f)
        if len(pending) >= RESUME_RUN:
            kept.extend(pending)
            pending = []
    jumps.extend(pending)
    return kept, jumps


def _drop_spikes(fixes: list[Fix], step: float) -> tuple[list[Fix], list[Fix]]:
    n = len(fixes)
    kept: list[Fix] = []
    jumps: list[Fix] = []
    for i, f in enumerate(fixes):
        prev = kept[-1] if kept else None
        nxt = fixes[i + 1] if i + 1 < n else None
        if prev is None:
            spike = (
                nxt is not None and i + 2 < n and distance_m(f, nxt) > step and distance_m(nxt, fixes[i + 2]) <= step
            )
        elif nxt is None:
            spike = len(kept) >= 2 and distance_m(prev, f) > step and distance_m(kept[-2], prev) <= step
        else:
            spike = distance_m(prev, f) > step and distance_m(f, nxt) > step and distance_m(prev, nxt) <= step
        (jumps if spike else kept).append(f)
    return kept, jumps


def local_day(t: datetime) -> date:
    return t.astimezone(ZoneInfo(settings.TIME_ZONE)).date()


def split_by_day(fixes: list[Fix]) -> dict[date, list[Fix]]:
    """Timed fixes grouped by local date, in order."""
    out: dict[date, list[Fix]] = defaultdict(list)
    for f in fixes:
        out[local_day(f.t)].append(f)
    return dict(sorted(out.items()))
