"""Rankings (排名) and red / black lists (红黑榜) from indicators.

Composite score = Σ weight × indicator over the indicators a unit has data for, divided by the sum of those
weights (so a unit without dispatches is not punished for it). "Lower is better" indicators (rework rate) enter as
100 − value. Weights: settings.STATS_WEIGHTS (defaults below). Order: score desc, then due desc, then code / name
asc — deterministic. Units without any due case are listed apart ("no data"), never ranked.
Red / black list sizes per level: settings.STATS_RED_BLACK (defaults: squads red 5 / black 3; street offices red 1
/ black 1; communities red 3 / black 3). A unit is never on both lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from stats.indicators import TWO_PLACES, Period, UnitFigures, unit_figures

DEFAULT_WEIGHTS = {
    "closure_rate": Decimal("0.35"),
    "on_time_closure_rate": Decimal("0.35"),
    "rework_rate": Decimal("0.15"),
    "accurate_dispatch_rate": Decimal("0.15"),
}
LOWER_IS_BETTER = {"rework_rate"}
DEFAULT_RED_BLACK = {
    "squad": {"red": 5, "black": 3},
    "street_office": {"red": 1, "black": 1},
    "community": {"red": 3, "black": 3},
    "district": {"red": 0, "black": 0},
}


def weights() -> dict[str, Decimal]:
    raw = getattr(settings, "STATS_WEIGHTS", None) or DEFAULT_WEIGHTS
    return {k: Decimal(str(v)) for k, v in raw.items()}


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


def ranking(*, period: Period, level: str) -> Ranking:
    return rank(unit_figures(period=period, level=level), level=level, period=period)
