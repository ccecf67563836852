"""Writes for statistics: publishing a bulletin freezes its figures and its page."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.db import connection, transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone

from stats.indicators import Period
from stats.models import Bulletin
from stats.selectors import bulletin_content


@transaction.atomic
def publish_bulletin(*, week: dt.date, by=None, note: str = "", kind: str = "week") -> Bulletin:
    """Freeze the figures of the period of `kind` containing `week` as a new bulletin version (1 for the first
    publication, n + 1 for a correction). The page is rendered now and stored; later data never changes it."""
    period = Period.of(kind, week)
    # Serialise publications of one period so that two corrections cannot take the same version number.
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"stats.bulletin:{kind}:{period.start}"])
    version = (Bulletin.objects.filter(kind=kind, period_start=period.start).aggregate(m=Max("version"))["m"] or 0) + 1
    now = timezone.now()
    content = bulletin_content(period)
    content["version"] = version
    content["published_at"] = timezone.localtime(now).isoformat(timespec="seconds")
    content["note"] = note
    html = render_to_string("stats/bulletin.html", {"c": content})
    return Bulletin.objects.create(
        kind=kind,
        period_start=period.start,
        period_end=period.end,
        label=period.label,
        version=version,
        note=note,
        published_at=now,
        published_by=by if by is not None and by.is_authenticated else None,
        content=content,
        html=html,
        sha256=hashlib.sha256(html.encode()).hexdigest(),
    )
