"""Writes for lanes. Keyword-only, typed, each public function one transaction.

Lane.community and LaneCell are derived by database triggers (lanes migration 0002): nothing here writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.contrib.gis.geos import MultiLineString
from django.db import transaction
from django.utils import timezone

from lanes.models import Lane

# Fields an upsert compares and writes; everything else on a lane (community, cells, created_at) is left alone.
UPSERT_FIELDS = ("name", "name_zh", "kind", "geom", "osm_way_ids", "tags")


@dataclass(frozen=True)
class LaneSpec:
    """One lane as an import source describes it; `source_key` is its stable identity across imports."""

    source_key: str
    name: str
    name_zh: str
    kind: str
    geom: MultiLineString
    osm_way_ids: tuple[int, ...] = ()
    tags: dict = field(default_factory=dict)


@dataclass
class LaneUpsertResult:
    created: list[str] = field(default_factory=list)  # source keys
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)


def _differs(lane: Lane, spec: LaneSpec) -> bool:
    return (
        lane.name != spec.name
        or lane.name_zh != spec.name_zh
        or lane.kind != spec.kind
        or list(lane.osm_way_ids) != list(spec.osm_way_ids)
        or lane.tags != spec.tags
        or lane.geom.geom_type != spec.geom.geom_type
        or not lane.geom.equals_exact(spec.geom, tolerance=0)
    )


def _apply(lane: Lane, spec: LaneSpec) -> Lane:
    lane.source_key = spec.source_key
    lane.name = spec.name
    lane.name_zh = spec.name_zh
    lane.kind = spec.kind
    lane.geom = spec.geom
    lane.osm_way_ids = list(spec.osm_way_ids)
    lane.tags = spec.tags
    return lane


def lane_upsert_many(
    *,
    lanes: Sequence[LaneSpec],
    source_prefix: str,
    prune: bool = False,
    commit: bool = True,
    batch_size: int = 500,
) -> LaneUpsertResult:
    """Create or update lanes by `source_key` in one transaction; lanes whose fields already match are not touched
    (their updated_at stays). Every spec's source_key must start with `source_prefix`; with `prune`, lanes whose
    source_key starts with `source_prefix` but that no spec names are deleted. With `commit=False` nothing is
    written and the result says what would change.

    Raises ValueError for duplicate or foreign keys, django.db.models.ProtectedError when a pruned lane is still
    referenced, and database errors as they come; in every case nothing is written."""
    keys = [s.source_key for s in lanes]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate source_key in lanes to upsert")
    if not source_prefix or any(not k.startswith(source_prefix) for k in keys):
        raise ValueError(f"every source_key must start with {source_prefix!r}")

    with transaction.atomic():
        existing_qs = Lane.objects.filter(source_key__startswith=source_prefix).only("id", "source_key", *UPSERT_FIELDS)
        if commit:
            existing_qs = existing_qs.select_for_update()
        existing = {lane.source_key: lane for lane in existing_qs.order_by("id")}

        result = LaneUpsertResult()
        to_create: list[Lane] = []
        to_update: list[Lane] = []
        for spec in lanes:
            lane = existing.get(spec.source_key)
            if lane is None:
                to_create.append(_apply(Lane(), spec))
                result.created.append(spec.source_key)
            elif _differs(lane, spec):
                to_update.append(_apply(lane, spec))
                result.updated.append(spec.source_key)
            else:
                result.unchanged += 1
        wanted = set(keys)
        stale = [lane for key, lane in existing.items() if key not in wanted] if prune else []
        result.removed = [lane.source_key for lane in stale]

        if commit:
            if stale:
                Lane.objects.filter(pk__in=[lane.pk for lane in stale]).delete()
            if to_update:
                now = timezone.now()
                for lane in to_update:
                    lane.updated_at = now
                Lane.objects.bulk_update(to_update, [*UPSERT_FIELDS, "updated_at"], batch_size=batch_size)
            if to_create:
                Lane.objects.bulk_create(to_create, batch_size=batch_size)
    return result
