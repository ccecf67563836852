"""Rankings (排名) and red / black lists (红黑榜) from indicators.

Composite score = Σ weight × indicator over the indicators a unit has data for, divided by the sum of those
weights (so a unit without dispatches is not punished for it). "Lower is better" indicators (rework rate) enter as
100 − value. Weights: settings.STATS_WEIGHTS (defaults below). Order: score desc, then due desc, then code / name
asc — deterministic. Units without any due case are listed apart ("no data"), never ranked.
Any rate of UnitFigures may carry a weight, e.g. satisfaction_rate (群众满意度) or on_time_dispatch_rate.
Red / black list sizes per level: settings.STATS_RED_BLACK (defaults: departments and squads red 5 / black 3;
street offices red 1 / black 1; communities red 3 / black 3). A unit is never on both lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from stats.indicators import LEVELS, TWO_PLACES, Period, UnitFigures, all_unit_figures, unit_figures

DEFAULT_WEIGHTS = {
    "closure_rate": Decimal("0.35"),
    "on_time_closure_rate": Decimal("0.35"),
    "rework_rate": Decimal("0.15"),
    "accurate_dispatch_rate": Decimal("0.15"),
}
LOWER_IS_BETTER = {"rework_rate"}
RATE_NAMES = (
    "closure_rate",
    "on_time_closure_rate",
    "rework_rate",
    "accurate_dispatch_rate",
    "on_time_dispatch_rate",
    "patrol_coverage_rate",
    "attendance_rate",
    "attendance_on_time_rate",
    "satisfaction_rate",
)
DEFAULT_RED_BLACK = {
    "department": {"red": 5, "black": 3},
    "squad": {"red": 5, "black": 3},
    "street_office": {"red": 1, "black": 1},
    "community": {"red": 3, "black": 3},
    "district": {"red": 0, "black": 0},
}


def _checked(raw: dict) -> dict[str, Decimal]:
    out = {}
    for name, value in raw.items():
        if name not in RATE_NAMES:
            raise ValueError(f"unknown indicator {name!r} in the weights; use {', '.join(RATE_NAMES)}")
        try:
            weight = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"weight of {name} must be a number, not {value!r}") from None
        if not weight.is_finite() or weight < 0:
            raise ValueError(f"weight of {name} must be a number ≥ 0")
        out[name] = weight
    if not any(out.values()):
        raise ValueError("at least one weight must be above 0")
    return out


def weights() -> dict[str, Decimal]:
    """settings.STATS_WEIGHTS (checked: known indicators, numbers ≥ 0, not all 0), else the defaults."""
    raw = getattr(settings, "STATS_WEIGHTS", None) or DEFAULT_WEIGHTS
    try:
        return _checked(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"STATS_WEIGHTS: {exc}") from None


def parse_weights(text: str) -> dict[str, Decimal]:
    """ "closure_rate:0.5,satisfaction_rate:0.5" → weights; ValueError saying what is wrong."""
    raw = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition(":")
        if not sep:
            raise ValueError(f"write each weight as name:number, not {part.strip()!r}")
        raw[name.strip()] = value.strip()
    if not raw:
        raise ValueError("no weights given")
    return _checked(raw)


def red_black_sizes(level: str) -> dict[str, int]:
    conf = {**DEFAULT_RED_BLACK, **(getattr(settings, "STATS_RED_BLACK", None) or {})}
    return conf.get(level, {"red": 0, "black": 0})


def composite_score(f: UnitFigures, w: dict[str, Decimal] | None = None) -> Decimal | None:
    w = weights() if w is None else w
    total = Decimal(0)
    used = Decimal(0)
    for name, weight in w.items():
        value = f.rates.get(name)
        if value is None or not weight:
            continue
        total += weight * (Decimal(100) - value if name in LOWER_IS_BETTER else value)
        used += weight
    if not used:
        return None
    return (total / used).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def sort_key(f: UnitFigures, score: Decimal):
    """Score desc, due desc, then code (squads: name; departments: code, then name), name, id."""
    return (-score, -f.due, f.code if f.level != "squad" else f.name, f.name, f.unit_id)


@dataclass
class Ranking:
    level: str
    period: Period
    ranked: list[tuple[int, Decimal, UnitFigures]] = field(default_factory=list)  # (rank, score, figures)
    no_data: list[UnitFigures] = field(default_factory=list)
    red: list[int] = field(default_factory=list)  # unit ids
    black: list[int] = field(default_factory=list)


def rank(figures: list[UnitFigures], *, level: str, period: Period, w: dict | None = None) -> Ranking:
    """Order `figures` (one level) and pick the red and black lists. Equal sort keys cannot occur (unit id last);
    equal scores and due counts share a rank number ("1, 2, 2, 4")."""
    result = Ranking(level=level, period=period)
    scored = []
    for f in figures:
        s = composite_score(f, w) if f.has_data else None
        if s is None:
            result.no_data.append(f)
        else:
            scored.append((s, f))
    scored.sort(key=lambda sf: sort_key(sf[1], sf[0]))
    prev = None
    for i, (s, f) in enumerate(scored, start=1):
        r = prev[0] if prev and prev[1] == (s, f.due) else i
        result.ranked.append((r, s, f))
        prev = (r, (s, f.due))
    sizes = red_black_sizes(level)
    ids = [f.unit_id for _r, _s, f in result.ranked]
    result.red = ids[: sizes.get("red", 0)]
    black_n = sizes.get("black", 0)
    result.black = [i for i in (ids[-black_n:] if black_n else []) if i not in result.red]
    return result


def ranking(*, period: Period, level: str, w: dict | None = None) -> Ranking:
    return rank(unit_figures(period=period, level=level), level=level, period=period, w=w)


def rankings(*, period: Period, levels=LEVELS, w: dict | None = None, now=None) -> dict[str, Ranking]:
    """Every level's ranking for one period from one set of statements (what a bulletin needs)."""
    figures = all_unit_figures(period=period, levels=levels, now=now)
    return {level: rank(figures[level], level=level, period=period, w=w) for level in levels}
