"""The OSM lane importer on the real extract (data/osm/shanghai_huangpu.osm), against PostGIS.

The extract is imported once per module (no communities exist here); each test runs in its own transaction,
rolled back afterwards, so tests that change lanes do not leak into the others."""

from __future__ import annotations

import bz2
import gzip
import io
import itertools
import shutil
import xml.etree.ElementTree as ET
from collections import Counter

import numpy as np
import osmium
import pytest
import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.core.management import CommandError, call_command
from pyproj import Geod, Transformer

from lanes.importers.osm import ImportRejected, import_osm
from lanes.models import Lane, LaneCell
from lanes.tests.conftest import OSM_PATH, STREET_HIGHWAYS, named_street_ways, wipe_lanes_and_areas, xml_ways

GEOD = Geod(ellps="WGS84")
TO_UTM51N = Transformer.from_crs(4326, 32651, always_xy=True)


@pytest.fixture(scope="module")
def imported(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        wipe_lanes_and_areas()
        report = import_osm(OSM_PATH, commit=True)
        yield report
        wipe_lanes_and_areas()


def snapshot():
    return sorted(Lane.objects.values_list("id", "source_key", "updated_at"))


def lane_shape(lane: Lane):
    return shapely.from_wkb(bytes(lane.geom.wkb))


def lane_with_way(way_id: int) -> Lane:
    return Lane.objects.get(osm_way_ids__contains=[way_id])


def utm(line):
    return shapely.transform(line, lambda xy: np.column_stack(TO_UTM51N.transform(xy[:, 0], xy[:, 1])))


# --- what is kept ---------------------------------------------------------------------------------------------


def test_every_street_name_is_kept(imported, db):
    expected = {w.name for w in named_street_ways()}
    assert len(expected) == 147  # the figure /work/shared/data/README.md gives for this extract
    assert set(Lane.objects.values_list("name", flat=True)) == expected
    assert imported.names == len(expected)


def test_counts_of_read_and_skipped_ways(imported, db):
    ways = xml_ways()
    assert imported.ways_read == len(ways)
    streets = [w for w in ways if w.tags.get("highway") in STREET_HIGHWAYS]
    assert imported.ways_skipped_not_street == len(ways) - len(streets)
    assert imported.ways_skipped_unnamed == sum(1 for w in streets if not w.name)
    assert imported.lanes == imported.lanes_created == Lane.objects.count()


def test_every_named_street_way_is_in_exactly_one_lane(imported, db):
    counts = Counter(itertools.chain.from_iterable(Lane.objects.values_list("osm_way_ids", flat=True)))
    assert set(counts) == {w.id for w in named_street_ways()}
    assert set(counts.values()) == {1}


def test_lane_geometry_is_the_union_of_its_ways(imported, db):
    ways = {w.id: w for w in named_street_ways()}
    for lane in Lane.objects.all():
        shape = lane_shape(lane)
        assert shape.geom_type == "MultiLineString" and shape.is_valid
        union = shapely.union_all([ways[i].line for i in lane.osm_way_ids])
        assert {ways[i].name for i in lane.osm_way_ids} == {lane.name}
        # same lines, up to the noding of the union (1e-7 degrees is about 1 cm)
        assert shape.buffer(1e-7).covers(union) and union.buffer(1e-7).covers(shape), lane.source_key
        assert lane.length_m == pytest.approx(GEOD.geometry_length(union), rel=1e-6)


def test_chinese_name_is_filled_for_cjk_names(imported, db):
    for name, name_zh in Lane.objects.values_list("name", "name_zh"):
        assert name_zh == name  # the extract has no name:zh tags and every name is Chinese


def test_kind_follows_highway_class_by_length(imported, db):
    rank = {"main": 0, "secondary": 1, "back": 2}

    def kind(highway: str) -> str:
        base = highway.removesuffix("_link")
        if base in {"motorway", "trunk", "primary"}:
            return "main"
        if base in {"secondary", "tertiary"}:
            return "secondary"
        return "back"

    ways = {w.id: w for w in named_street_ways()}
    mixed = 0
    for lane in Lane.objects.all():
        by_kind = Counter()
        for way_id in lane.osm_way_ids:
            by_kind[kind(ways[way_id].tags["highway"])] += GEOD.geometry_length(ways[way_id].line)
        mixed += len(by_kind) > 1
        best = max(by_kind.values())
        assert lane.kind == min((k for k, v in by_kind.items() if v == best), key=rank.get), lane.source_key
    assert Counter(Lane.objects.values_list("kind", flat=True)).keys() == {"main", "secondary", "back"}
    assert mixed > 0  # the rule for merged classes was exercised


SMALL_OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
  <node id="1" lat="31.2300" lon="121.4700"/><node id="2" lat="31.2300" lon="121.4710"/>
  <node id="3" lat="31.2310" lon="121.4700"/><node id="4" lat="31.2310" lon="121.4710"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/><tag k="name" v="步行道"/></way>
  <way id="11"><nd ref="1"/><nd ref="3"/><tag k="building" v="yes"/><tag k="name" v="大楼"/></way>
  <way id="12"><nd ref="3"/><nd ref="4"/><tag k="highway" v="residential"/></way>
  <way id="13"><nd ref="3"/><nd ref="4"/><tag k="highway" v="construction"/><tag k="name" v="在建路"/></way>
  <way id="14"><nd ref="1"/><nd ref="99"/><nd ref="2"/><tag k="highway" v="service"/><tag k="name:zh" v="后弄"/></way>
  <way id="15"><nd ref="98"/><nd ref="99"/><tag k="highway" v="residential"/><tag k="name" v="无坐标路"/></way>
  <way id="16"><nd ref="2"/><nd ref="4"/><tag k="highway" v="tertiary_link"/><tag k="name" v="Bund Road"/></way>
</osm>
"""


def test_small_file_skips_and_names(imported, db, tmp_path):
    path = tmp_path / "small.osm"
    path.write_text(SMALL_OSM, encoding="utf-8")
    report = import_osm(path)
    assert report.ways_read == 7
    assert report.ways_skipped_not_street == 3  # footway, building, construction
    assert report.ways_skipped_unnamed == 1
    assert report.ways_skipped_no_geometry == 1  # none of its nodes is in the file
    assert report.names == 2 and report.lanes == report.lanes_created == 2
    assert sorted(k.split(":")[1] for k in report.created_keys) == ["Bund Road", "后弄"]

    import_osm(path, commit=True)
    back = Lane.objects.get(source_key="osm:后弄:14:-")  # name:zh stands in for a missing name
    assert (back.name, back.name_zh, back.kind, back.osm_way_ids) == ("后弄", "后弄", "back", [14])
    assert back.length_m == pytest.approx(GEOD.line_length([121.47, 121.471], [31.23, 31.23]), rel=1e-9)
    bund = Lane.objects.get(source_key="osm:Bund Road:16:-")
    assert (bund.name_zh, bund.kind) == ("", "secondary")  # no CJK, no name:zh


def test_file_without_named_streets_is_rejected(imported, db, tmp_path):
    path = tmp_path / "buildings.osm"
    path.write_text(SMALL_OSM.replace('k="name:zh"', 'k="note"').replace('v="tertiary_link"', 'v="path"'))
    before = snapshot()
    with pytest.raises(ImportRejected, match="没有可导入的街巷"):
        import_osm(path, commit=True, prune=True)
    assert snapshot() == before


# --- merging ------------------------------------------------------------------------------------------------


def node_connected(way_id: int) -> set[int]:
    """Ids of the same-named ways reachable from `way_id` through shared nodes alone (from the XML)."""
    ways = [w for w in named_street_ways() if w.name == next(x.name for x in xml_ways() if x.id == way_id)]
    reached, frontier = {way_id}, [way_id]
    by_id = {w.id: w for w in ways}
    while frontier:
        refs = set(by_id[frontier.pop()].refs)
        for w in ways:
            if w.id not in reached and refs & set(w.refs):
                reached.add(w.id)
                frontier.append(w.id)
    return reached


def test_dual_carriageway_becomes_one_lane(imported, db):
    # 延安东路: two one-way carriageways about 25-29 m apart, ~200 m long, that no chain of shared nodes joins.
    ways = {w.id: w for w in xml_ways()}
    a, b = ways[511404873], ways[515040940]
    assert a.name == b.name == "延安东路"
    assert a.tags["oneway"] == b.tags["oneway"] == "yes"
    assert b.id not in node_connected(a.id)
    la, lb = utm(a.line), utm(b.line)
    assert 15 < la.distance(lb) and la.hausdorff_distance(lb) < 40
    assert min(la.length, lb.length) > 150

    lane = lane_with_way(a.id)
    assert b.id in lane.osm_way_ids
    assert lane.name == "延安东路"
    assert lane.kind == "main"


def test_far_apart_streets_sharing_a_name_stay_separate(imported, db):
    # 松雪街: the extract has exactly two ways of that name, about 280 m apart, not connected.
    ways = [w for w in xml_ways() if w.name == "松雪街"]
    assert len(ways) == 2
    a, b = ways
    assert not set(a.refs) & set(b.refs)
    assert utm(a.line).distance(utm(b.line)) > 200

    lanes = Lane.objects.filter(name="松雪街")
    assert sorted(lane.osm_way_ids for lane in lanes) == sorted([[a.id], [b.id]])
    assert len({lane.source_key for lane in lanes}) == 2


def test_merge_distance_joins_near_but_unconnected_ways(imported, db):
    # 宁波路: two ways about 44 m apart with no node in common: one lane at 60 m, two lanes at 0 m.
    a, b = (w for w in xml_ways() if w.name == "宁波路")
    assert not set(a.refs) & set(b.refs)
    assert 30 < utm(a.line).distance(utm(b.line)) < 60
    assert sorted(lane_with_way(a.id).osm_way_ids) == sorted([a.id, b.id])

    report = import_osm(OSM_PATH, merge_distance_m=0)
    assert report.lanes > imported.lanes
    assert any(key.startswith("osm:宁波路:") for key in report.created_keys)
    assert Lane.objects.count() == imported.lanes  # dry run


# --- idempotency, updates, prune ------------------------------------------------------------------------------


def test_second_import_changes_nothing(imported, db):
    before, cells_before = snapshot(), LaneCell.objects.count()
    report = import_osm(OSM_PATH, commit=True)
    assert (report.lanes_created, report.lanes_updated, report.lanes_removed) == (0, 0, 0)
    assert report.lanes_unchanged == imported.lanes
    assert snapshot() == before
    assert LaneCell.objects.count() == cells_before


def test_dry_run_writes_nothing(imported, db):
    Lane.objects.all().delete()
    report = import_osm(OSM_PATH)
    assert report.lanes_created == imported.lanes and not report.committed
    assert Lane.objects.count() == 0


def test_changed_geometry_is_updated_back(imported, db):
    lane = lane_with_way(50323216)
    original = lane.geom.clone()
    others = [row for row in snapshot() if row[0] != lane.pk]
    lane.geom = GEOSGeometry(
        memoryview(shapely.to_wkb(shapely.affinity.translate(lane_shape(lane), xoff=0.001))), srid=4326
    )
    lane.save()

    report = import_osm(OSM_PATH, commit=True)
    assert report.updated_keys == [lane.source_key] and report.lanes_created == 0
    lane.refresh_from_db()
    assert lane.geom.equals_exact(original, tolerance=0)
    assert [row for row in snapshot() if row[0] != lane.pk] == others


def _write_without(tmp_path, name: str):
    tree = ET.parse(OSM_PATH)
    root = tree.getroot()
    for way in list(root.iter("way")):
        if any(t.get("k") == "name" and t.get("v") == name for t in way.iter("tag")):
            root.remove(way)
    out = tmp_path / "smaller.osm"
    tree.write(out, encoding="utf-8", xml_declaration=True)
    return out


def test_prune_removes_lanes_the_file_no_longer_has(imported, db, tmp_path):
    smaller = _write_without(tmp_path, "松雪街")
    gone = set(Lane.objects.filter(name="松雪街").values_list("source_key", flat=True))
    assert len(gone) == 2

    kept = import_osm(smaller, commit=True)
    assert kept.lanes_removed == 0 and Lane.objects.filter(name="松雪街").count() == 2

    pruned = import_osm(smaller, commit=True, prune=True)
    assert set(pruned.removed_keys) == gone
    assert (pruned.lanes_created, pruned.lanes_updated) == (0, 0)
    assert not Lane.objects.filter(name="松雪街").exists()
    assert Lane.objects.count() == imported.lanes - 2


def test_prune_leaves_lanes_from_other_sources(imported, db, tmp_path):
    manual = Lane.objects.create(name="手工街巷", geom=lane_with_way(50323216).geom, source_key="manual:1")
    plain = Lane.objects.create(name="无来源街巷", geom=lane_with_way(50323216).geom)
    import_osm(_write_without(tmp_path, "松雪街"), commit=True, prune=True)
    assert Lane.objects.filter(pk__in=[manual.pk, plain.pk]).count() == 2


# --- other formats ----------------------------------------------------------------------------------------------


def _convert(tmp_path, suffix: str):
    if suffix == "osm.pbf":
        out = tmp_path / "extract.osm.pbf"
        with osmium.SimpleWriter(str(out)) as writer:
            for obj in osmium.FileProcessor(str(OSM_PATH)):
                writer.add(obj)
        return out
    opener = {"osm.gz": gzip.open, "osm.bz2": bz2.open}[suffix]
    out = tmp_path / f"extract.{suffix}"
    with OSM_PATH.open("rb") as src, opener(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return out


@pytest.mark.parametrize("suffix", ["osm.pbf", "osm.gz", "osm.bz2"])
def test_other_formats_give_the_same_lanes(imported, db, tmp_path, suffix):
    path = _convert(tmp_path, suffix)
    report = import_osm(path, commit=True)
    assert (report.lanes_created, report.lanes_updated) == (0, 0)
    assert report.lanes_unchanged == imported.lanes
    # and the file is read from its content, not its name
    renamed = path.rename(tmp_path / "download.bin")
    assert import_osm(renamed).lanes_unchanged == imported.lanes


# --- rejected files -------------------------------------------------------------------------------------------


def _bad_file(tmp_path, kind: str):
    path = tmp_path / f"{kind}.osm"
    data = OSM_PATH.read_bytes()
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "truncated_at_element":
        cut = data.index(b"</way>", len(data) // 2) + len(b"</way>")
        path.write_bytes(data[:cut])
    elif kind == "png":
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
    elif kind == "json":
        path = tmp_path / "lanes.json"
        path.write_text('{"type": "FeatureCollection", "features": []}')
    elif kind == "xml_not_osm":
        path.write_text('<?xml version="1.0"?><kml><Document/></kml>')
    elif kind == "osm_without_ways":
        path.write_text('<?xml version="1.0"?><osm version="0.6"><node id="1" lat="31.2" lon="121.4"/></osm>')
    elif kind == "missing":
        path = tmp_path / "nowhere.osm"
    return path


BAD_KINDS = ["empty", "truncated", "truncated_at_element", "png", "json", "xml_not_osm", "osm_without_ways", "missing"]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_file_is_rejected_and_nothing_written(imported, db, tmp_path, kind):
    path = _bad_file(tmp_path, kind)
    before = snapshot()
    with pytest.raises(ImportRejected) as excinfo:
        import_osm(path, commit=True, prune=True)
    assert str(path) in str(excinfo.value)
    assert "请" in str(excinfo.value)  # says what to do next
    assert snapshot() == before


@pytest.mark.parametrize("kind", ["truncated", "missing"])
def test_command_turns_rejection_into_command_error(imported, db, tmp_path, kind):
    path = _bad_file(tmp_path, kind)
    before = snapshot()
    with pytest.raises(CommandError) as excinfo:
        call_command("import_osm", str(path), "--commit", stdout=io.StringIO(), stderr=io.StringIO())
    assert str(path) in str(excinfo.value)
    assert snapshot() == before


# --- the command --------------------------------------------------------------------------------------------------


def test_command_dry_run_by_default_then_commit(imported, db):
    Lane.objects.all().delete()
    out, err = io.StringIO(), io.StringIO()
    call_command("import_osm", str(OSM_PATH), stdout=out, stderr=err)
    assert "dry run: nothing written; add --commit to write" in out.getvalue()
    assert f"新增 {imported.lanes}" in out.getvalue()
    assert err.getvalue()  # progress
    assert Lane.objects.count() == 0

    out = io.StringIO()
    call_command("import_osm", str(OSM_PATH), "--commit", "--merge-distance", "60", stdout=out, stderr=io.StringIO())
    assert "dry run" not in out.getvalue()
    assert Lane.objects.count() == imported.lanes
