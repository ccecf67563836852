"""API under /api/stats/: figures, rankings, bulletins; who may read and publish; the OpenAPI schema."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from cases.models import StaffScope
from stats.models import Bulletin
from stats.tests.conftest import at, make_case


@pytest.fixture
def users(world, django_user_model):
    staff = django_user_model.objects.create_user(username="stats-api-staff", password="pw-stats-123")
    StaffScope.objects.create(user=staff, area=world.so_w)
    admin = django_user_model.objects.create_user(username="stats-api-admin", password="pw-stats-123")
    StaffScope.objects.create(user=admin, area=world.district)
    nobody = django_user_model.objects.create_user(username="stats-api-nobody", password="pw-stats-123")
    make_case(world, squad=world.sq_a, created=at(16), status="closed", deadline=at(18), closed=at(17))
    make_case(world, squad=world.sq_a, created=at(16), status="accepted", deadline=at(18))
    return {"staff": staff, "admin": admin, "nobody": nobody}


def test_indicators(users, client, world):
    client.force_login(users["staff"])
    r = client.get("/api/stats/indicators/", {"period": "week", "date": "2026-11-18", "level": "street_office"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["period"] == {"kind": "week", "start": "2026-11-16", "end": "2026-11-23", "label": "2026-W47"}
    units = {u["name"]: u for u in body["units"]}
    assert units["统计西街道"]["due"] == 2 and units["统计西街道"]["rates"]["closure_rate"] == "50.00"
    assert units["统计东街道"]["rates"]["closure_rate"] is None
    assert body["total"]["rates"]["on_time_closure_rate"] == "50.00"
    assert client.get("/api/stats/indicators/", {"level": "planet"}).status_code == 400


def test_rankings(users, client):
    client.force_login(users["admin"])
    r = client.get("/api/stats/rankings/", {"period": "month", "date": "2026-11-01", "level": "squad"})
    assert r.status_code == 200
    body = r.json()
    assert [x["figures"]["name"] for x in body["ranked"]] == ["统计甲中队"]
    assert sorted(u["name"] for u in body["no_data"]) == ["统计丙中队", "统计乙中队"]
    assert body["red"] == [body["ranked"][0]["figures"]["unit_id"]]


def test_permissions(users, client):
    assert client.get("/api/stats/indicators/").status_code == 403
    client.force_login(users["nobody"])
    assert client.get("/api/stats/rankings/").status_code == 403
    assert client.get("/api/stats/bulletins/").status_code == 403
    client.force_login(users["staff"])
    assert client.post("/api/stats/bulletins/", {"week": "2026-11-18"}).status_code == 403
    assert not Bulletin.objects.exists()


def test_publish_and_read_bulletins(users, client):
    client.force_login(users["admin"])
    r = client.post("/api/stats/bulletins/", {"week": "2026-11-18"})
    assert r.status_code == 201, r.content
    r2 = client.post("/api/stats/bulletins/", {"week": "2026-11-22", "note": "更正"})
    assert (r.json()["version"], r2.json()["version"]) == (1, 2)
    client.force_login(users["staff"])
    listing = client.get("/api/stats/bulletins/").json()
    items = listing["results"] if isinstance(listing, dict) else listing
    assert [b["version"] for b in items] == [2, 1]
    detail = client.get(f"/api/stats/bulletins/{r.json()['id']}/").json()
    assert detail["content"]["label"] == "2026-W47"


def test_schema_validates(db, tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    text = (tmp_path / "schema.yml").read_text()
    assert "/api/stats/indicators/" in text and "/api/stats/bulletins/{id}/" in text
    assert "/api/stats/ratings/" in text and "/api/stats/surveys/" in text and "satisfaction_rate" in text


def test_rankings_weights_units_and_departments(users, client, world):
    client.force_login(users["admin"])
    q = {"period": "week", "date": "2026-11-18", "level": "squad"}
    r = client.get("/api/stats/rankings/", {**q, "weights": "on_time_closure_rate:1"})
    assert r.status_code == 200, r.content
    assert [x["score"] for x in r.json()["ranked"]] == ["50.00"]  # 1 of 2 due cases closed on time
    bad = client.get("/api/stats/rankings/", {**q, "weights": "beauty:1"})
    assert bad.status_code == 400 and "unknown indicator" in str(bad.json())
    assert client.get("/api/stats/rankings/", {**q, "weights": "closure_rate:-1"}).status_code == 400
    only = client.get("/api/stats/indicators/", {**q, "unit": [world.sq_b.pk, world.sq_c.pk]}).json()
    assert sorted(u["name"] for u in only["units"]) == ["统计丙中队", "统计乙中队"]
    deps = client.get("/api/stats/rankings/", {**q, "level": "department"})
    assert deps.status_code == 200 and sorted(u["name"] for u in deps.json()["no_data"]) == [
        "统计丙部门",
        "统计乙部门",
        "统计甲部门",
    ]
    body = client.get("/api/stats/indicators/", {**q, "level": "street_office"}).json()
    rates = body["units"][0]["rates"]
    assert {"on_time_dispatch_rate", "satisfaction_rate"} <= set(rates)
