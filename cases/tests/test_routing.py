"""Routing on real streets: point → lane → areas → the squad of the owning kind serving the most specific place."""

import pytest
from django.conf import settings
from django.contrib.gis.geos import Point

from cases import routing
from cases.models import Category, OwnerQueue
from cases.tests.conftest import CELL_CENTRE, SPLIT_LON, point_on_street

pytestmark = pytest.mark.django_db


def cat(code):
    return Category.objects.get(code=code)


def route_at(point, code):
    place = routing.locate(point)
    return place, routing.route(cat(code), place)


@pytest.mark.parametrize("street", ["天津路", "汉口路"])
def test_street_order_squad_changes_at_the_street_office_boundary(world, street):
    """市容 squads serve one street office each: the same street, 70 m either side of the boundary."""
    west = point_on_street(street, SPLIT_LON - 0.0007)
    east = point_on_street(street, SPLIT_LON + 0.0007)
    place_w, route_w = route_at(west, "SJ0402")  # 占道经营, owner street_order
    place_e, route_e = route_at(east, "SJ0402")
    assert place_w.lane.name == street and place_e.lane.name == street
    assert place_w.street_office == world.so_w and place_e.street_office == world.so_e
    assert route_w.squad == world.squads["西街道市容中队"]
    assert route_e.squad == world.squads["东街道市容中队"]
    assert "西街道市容中队" in route_w.reason and world.so_w.code in route_w.reason and "市容" in route_w.reason
    assert "东街道市容中队" in route_e.reason and world.so_e.code in route_e.reason


def test_the_lane_squad_wins_over_every_area_squad(world):
    """福州路 has its own sanitation squad: it wins on both sides of the boundary, even where area squads serve."""
    for lon in (SPLIT_LON - 0.002, SPLIT_LON + 0.002):
        place, route = route_at(point_on_street("福州路", lon), "SJ0101")  # 暴露垃圾, owner sanitation
        assert place.lane.name == "福州路"
        assert route.squad == world.squads["福州路环卫中队"]
        assert "福州路" in route.reason and "街巷" in route.reason


def test_most_specific_area_wins_grid_cell_then_community_then_street_office(world):
    lon, lat = CELL_CENTRE
    in_cell = Point(lon, lat, srid=settings.GEO_SRID)
    place, route = route_at(in_cell, "SJ0101")
    assert place.grid_cell == world.cell
    assert route.squad == world.squads["网格环卫中队"]
    assert world.cell.code in route.reason
    # The full candidate list, most specific first: cell, community, street office.
    assert [c.squad.name for c in route.candidates] == ["网格环卫中队", "西北社区环卫中队", "西街道环卫中队"]

    # Community W-N outside the cell, away from 福州路: the community squad.
    place, route = route_at(point_on_street("北京西路", 121.4640), "SJ0101")
    assert place.community == world.c_wn and place.grid_cell is None
    assert route.squad == world.squads["西北社区环卫中队"]
    assert world.c_wn.code in route.reason and "社区" in route.reason

    # Community W-S: only the street office squad serves it.
    place, route = route_at(point_on_street("淮海中路", 121.4700), "SJ0101")
    assert place.community == world.c_ws
    assert route.squad == world.squads["西街道环卫中队"]
    assert world.so_w.code in route.reason


def test_no_squad_of_the_kind_goes_to_the_street_office_queue(world):
    # Sanitation in street office E, away from 福州路: nobody serves it.
    place, route = route_at(point_on_street("河南中路", 121.4810), "SJ0101")
    assert place.street_office == world.so_e
    assert route.owner_queue == OwnerQueue.STREET_OFFICE and route.squad is None
    assert world.so_e.code in route.reason and "环卫" in route.reason
    # Municipal works: no municipal squad anywhere.
    _, route = route_at(point_on_street("北京西路", 121.4640), "SJ0502")
    assert route.owner_queue == OwnerQueue.STREET_OFFICE and route.squad is None
    assert "市政" in route.reason


def test_sensitive_matters_go_to_the_community_or_street_office_only(world):
    point = point_on_street("北京西路", 121.4640)
    _, route = route_at(point, "LBB04")  # 困难居民病重: sensitive, owner community
    assert route.owner_queue == OwnerQueue.COMMUNITY and route.squad is None
    assert world.c_wn.code in route.reason and "敏感" in route.reason
    _, route = route_at(point, "LBB06")  # 社区不稳定因素: sensitive, owner street office
    assert route.owner_queue == OwnerQueue.STREET_OFFICE
    assert world.so_w.code in route.reason
    # Even a sensitive category whose owner is a squad kind is kept away from squads.
    category = cat("SJ0101")
    category.sensitive = True
    route = routing.route(category, routing.locate(point))
    assert route.owner_queue == OwnerQueue.COMMUNITY and route.squad is None


def test_returned_squads_are_skipped_in_order(world):
    lon, lat = CELL_CENTRE
    place = routing.locate(Point(lon, lat, srid=settings.GEO_SRID))
    first = world.squads["网格环卫中队"].pk
    second = world.squads["西北社区环卫中队"].pk
    third = world.squads["西街道环卫中队"].pk
    assert routing.route(cat("SJ0101"), place, exclude_ids=[first]).squad.pk == second
    assert routing.route(cat("SJ0101"), place, exclude_ids=[first, second]).squad.pk == third
    last = routing.route(cat("SJ0101"), place, exclude_ids=[first, second, third])
    assert last.owner_queue == OwnerQueue.STREET_OFFICE and "已退回" in last.reason


def test_lane_snap_distance_is_metric_and_configurable(world, settings):
    from django.contrib.gis.measure import D

    from lanes.models import Lane

    on_street = point_on_street("九江路", 121.4745)
    north = Point(on_street.x, on_street.y - 30 / 111_320, srid=4326)  # about 30 m south of 九江路
    nearest = Lane.objects.nearest(north, within=D(m=500), limit=1).get()
    assert 10 < nearest.distance_m < 50
    settings.CASE_LANE_SNAP_M = nearest.distance_m + 1
    assert routing.locate(north).lane == nearest
    settings.CASE_LANE_SNAP_M = nearest.distance_m - 1
    assert routing.locate(north).lane is None


def test_outside_every_street_office_is_refused(world):
    with pytest.raises(routing.RoutingError, match="不在任何街道范围内"):
        routing.locate(Point(116.397, 39.909, srid=4326))  # Beijing


def test_a_point_on_a_lane_or_at_a_junction_snaps_to_it(world):
    """Reports are often made standing on the street, or at a crossing where two lanes meet."""
    from cases.tests.conftest import osm_streets

    crossing = osm_streets()["福州路"].intersection(osm_streets()["河南中路"])
    crossing = crossing if crossing.geom_type == "Point" else crossing.geoms[0]
    place = routing.locate(Point(crossing.x, crossing.y, srid=4326))
    assert place.lane is not None and place.lane.name in ("福州路", "河南中路") and place.lane_distance_m < 0.01
    on_line = point_on_street("天津路", 121.4750)
    place = routing.locate(on_line)
    assert place.lane.name == "天津路" and place.lane_distance_m < 0.01
