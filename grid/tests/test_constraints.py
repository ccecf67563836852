"""The hierarchy rules are database invariants (check constraints and trigger grid_area_check_parent): writes that
bypass the services (raw ORM here) are refused by PostgreSQL itself. The services check first and turn what the
database would refuse into a ValidationError with a clear message."""

from __future__ import annotations

import pytest
import shapely
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from grid import services
from grid.models import Area, Level
from grid.services import area_create, area_update
from grid.tests.conftest import derived_hierarchy, to_geos

DISTRICT = "310105"


@pytest.fixture
def tree(db):
    h = derived_hierarchy()
    district = Area.objects.create(level=Level.DISTRICT, code=DISTRICT, name="区", geom=to_geos(h.district))
    office = Area.objects.create(
        level=Level.STREET_OFFICE, code=f"{DISTRICT}001", name="街道", parent=district, geom=to_geos(h.offices[0])
    )
    community = Area.objects.create(
        level=Level.COMMUNITY,
        code=f"{DISTRICT}001001",
        name="社区",
        parent=office,
        geom=to_geos(h.communities[0][0]),
    )
    return district, office, community


def refused(**fields) -> str:
    """Insert through the ORM (no service checks); return the database's error text."""
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        Area.objects.create(**fields)
    return str(exc.value)


def geom():
    return to_geos(derived_hierarchy().communities[0][0])


def test_community_whose_parent_is_a_district_is_refused(tree):
    district, _office, _community = tree
    text = refused(level=Level.COMMUNITY, code=f"{DISTRICT}001002", name="x", parent=district, geom=geom())
    assert "not the level directly above" in text


def test_code_not_starting_with_the_parent_code_is_refused(tree):
    _district, office, _community = tree
    text = refused(level=Level.COMMUNITY, code=f"{DISTRICT}002001", name="x", parent=office, geom=geom())
    assert "must start with its parent" in text


def test_ten_digit_street_office_code_is_refused(tree):
    district, _office, _community = tree
    text = refused(level=Level.STREET_OFFICE, code=f"{DISTRICT}0011", name="x", parent=district, geom=geom())
    assert "area_code_matches_level" in text


@pytest.mark.parametrize(
    "level,code,has_parent,reason",
    [
        (Level.DISTRICT, "31010", False, "area_code_matches_level"),  # 5 digits
        (Level.DISTRICT, "31010a", False, "area_code_matches_level"),  # not digits
        (Level.DISTRICT, "310106", True, "not the level directly above"),  # a district with a parent (trigger first)
        (Level.STREET_OFFICE, f"{DISTRICT}009", False, "area_code_matches_level"),  # a street office without parent
        (Level.GRID_CELL, f"{DISTRICT}001001001", False, "area_code_matches_level"),
    ],
)
def test_code_shape_and_parent_presence_are_checked(tree, level, code, has_parent, reason):
    district, _office, _community = tree
    text = refused(level=level, code=code, name="x", parent=district if has_parent else None, geom=geom())
    assert reason in text


def test_invalid_polygon_and_blank_name_are_refused(tree):
    _district, office, _community = tree
    x0, y0, x1, y1 = derived_hierarchy().communities[0][0].bounds
    bowtie = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1), (x0, y0)])
    assert not bowtie.is_valid
    text = refused(level=Level.COMMUNITY, code=f"{DISTRICT}001009", name="x", parent=office, geom=to_geos(bowtie))
    assert "area_geom_valid" in text
    text = refused(level=Level.COMMUNITY, code=f"{DISTRICT}001009", name="  ", parent=office, geom=geom())
    assert "area_name_not_blank" in text


def test_duplicate_code_is_refused(tree):
    _district, office, community = tree
    text = refused(level=Level.COMMUNITY, code=community.code, name="x", parent=office, geom=geom())
    assert "duplicate key" in text


def test_changing_the_parent_later_is_checked_too(tree):
    district, office, community = tree
    other = Area.objects.create(
        level=Level.STREET_OFFICE, code=f"{DISTRICT}002", name="另一街道", parent=district, geom=office.geom
    )
    community.parent = other
    with pytest.raises(IntegrityError), transaction.atomic():
        community.save()


# ---------------------------------------------------------------------------------------------------------------
# The service in front of the database


def test_area_create_gives_clear_messages(tree):
    district, office, community = tree
    cases = [
        ({"level": Level.COMMUNITY, "code": f"{DISTRICT}001002", "parent": district}, "上级必须是街道"),
        ({"level": Level.COMMUNITY, "code": f"{DISTRICT}002001", "parent": office}, "必须以上级编码"),
        ({"level": Level.STREET_OFFICE, "code": f"{DISTRICT}0011", "parent": district}, "9 位数字"),
        ({"level": Level.STREET_OFFICE, "code": f"{DISTRICT}002", "parent": None}, "必须有上级"),
        ({"level": Level.COMMUNITY, "code": community.code, "parent": office}, "已存在"),
        ({"level": "province", "code": "31", "parent": None}, "未知层级"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValidationError) as exc:
            area_create(name="x", geom=geom(), **kwargs)
        assert message in " ".join(exc.value.messages), kwargs
    x0, y0, x1, y1 = derived_hierarchy().communities[0][0].bounds
    bowtie = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1), (x0, y0)])
    with pytest.raises(ValidationError) as exc:
        area_create(level=Level.COMMUNITY, code=f"{DISTRICT}001003", name="x", parent=office, geom=bowtie)
    assert "Self-intersection" in " ".join(exc.value.messages)
    with pytest.raises(ValidationError) as exc:
        area_create(level=Level.COMMUNITY, code=f"{DISTRICT}001003", name=" ", parent=office, geom=shapely.Point(1, 2))
    assert set(exc.value.message_dict) == {"name", "geom"}


def test_area_create_turns_a_database_refusal_into_a_validation_error(tree, monkeypatch):
    """Were the Python checks to miss something, the database still refuses and the user still gets a message."""
    district, _office, _community = tree
    monkeypatch.setattr(services, "code_errors", lambda **kwargs: [])
    with pytest.raises(ValidationError) as exc:
        area_create(level=Level.COMMUNITY, code=f"{DISTRICT}001002", name="x", parent=district, geom=geom())
    assert "上级区域层级不对" in " ".join(exc.value.messages)
    with pytest.raises(ValidationError) as exc:
        area_create(level=Level.STREET_OFFICE, code=f"{DISTRICT}0011", name="x", parent=district, geom=geom())
    assert "编码与层级不符" in " ".join(exc.value.messages)
    assert not Area.objects.filter(code__in=[f"{DISTRICT}001002", f"{DISTRICT}0011"]).exists()


def test_area_create_and_update(tree):
    _district, office, _community = tree
    polygon = derived_hierarchy().communities[0][-1]
    area = area_create(
        level=Level.COMMUNITY, code=f"{DISTRICT}001005", name=" 新社区 ", parent=office, geom=polygon, source="s"
    )
    assert area.name == "新社区" and area.geom.geom_type == "MultiPolygon" and area.geom.srid == 4326
    assert area.area_m2 > 0 and area.depth == 2
    before = area.updated_at
    assert area_update(area=area, name="新社区").updated_at == before  # nothing changed, nothing written
    area_update(area=area, name="改名", illustrative=True)
    area.refresh_from_db()
    assert area.name == "改名" and area.illustrative
    with pytest.raises(ValidationError):
        area_update(area=area, parent=_district_of(office))


def _district_of(office: Area) -> Area:
    return office.parent
