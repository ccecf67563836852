"""Hostile uploads through the real HTTP endpoints, on the demo: oversized files, wrong magic bytes, decompression
bombs, SVG with script, odd and path-traversal names, XML bombs, gzip bombs — each refused (400/413) with a message,
and nothing stored: no new database row, no new file under MEDIA_ROOT (or anywhere above it). Plus the roster
import (command line only) against an .xlsx zip bomb."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from reliability.uploads import Payload, photo_payloads, real_jpeg, track_payloads, xlsx_zip_bomb

PHOTO_MAX = 5 * 1024 * 1024
TRACK_MAX = 10 * 1024 * 1024


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def counts() -> dict[str, int]:
    from cases.models import Attachment, Attendance, Case
    from patrols.models import Patrol, PatrolPhoto

    return {m.__name__: m.objects.count() for m in (Case, Attachment, Attendance, Patrol, PatrolPhoto)}


@pytest.fixture
def media(settings, tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = str(root)
    return root


@pytest.fixture
def place(demo, db):
    from lanes.models import Lane

    lane = Lane.objects.filter(community__code__startswith="370602").order_by("id").first()
    lon, lat = lane.geom[0][0]
    return {"lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "lane": lane}


def client_for(username: str | None) -> Client:
    client = Client()
    if username:
        client.force_login(get_user_model().objects.get(username=username))
    return client


def upload(p: Payload):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(p.filename, p.content, content_type=p.content_type)


def assert_refused(response, payload: Payload, before: dict, media: Path):
    assert response.status_code in (400, 413), (payload.name, response.status_code, response.content[:300])
    if payload.name.startswith("oversized"):
        assert response.status_code in (400, 413)
    body = response.content.decode(errors="replace")
    assert len(body) > 10, payload.name  # a message, not an empty answer
    assert counts() == before, payload.name
    assert files_under(media) == set(), payload.name
    assert not (media.parent / "etc").exists() and not (media.parent.parent / "tmp" / "evil.gpx").exists()


@pytest.mark.parametrize("payload", photo_payloads(PHOTO_MAX), ids=lambda p: p.name)
def test_report_api_refuses_hostile_photos(payload, place, media):
    before = counts()
    response = client_for(None).post(
        "/api/cases/",
        {"category": "SJ0101", "lat": place["lat"], "lon": place["lon"], "photos": [upload(payload)]},
    )
    assert_refused(response, payload, before, media)
    assert "detail" in response.json()
    if payload.name.startswith("oversized"):
        assert response.status_code == 413


@pytest.mark.parametrize("payload", photo_payloads(PHOTO_MAX)[:5], ids=lambda p: p.name)
def test_report_page_refuses_hostile_photos(payload, place, media):
    before = counts()
    response = client_for(None).post(
        "/report/",
        {"category": "SJ0101", "lat": place["lat"], "lon": place["lon"], "photos": [upload(payload)]},
    )
    assert_refused(response, payload, before, media)
    assert 'class="error"' in response.content.decode()


@pytest.fixture
def patrol(place):
    from datetime import timedelta

    from django.contrib.gis.geos import LineString
    from django.utils import timezone

    from patrols.models import Patrol
    from people.models import Person

    person = Person.objects.get(user__username="lane_chief")
    (x, y) = place["lane"].geom[0][0]
    return Patrol.objects.create(
        person=person,
        day=timezone.localdate(),
        source="live",
        status="active",
        track=LineString((x, y), (x + 0.0005, y), srid=4326),
        started_at=timezone.now() - timedelta(minutes=10),
    )


@pytest.mark.parametrize("payload", photo_payloads(PHOTO_MAX), ids=lambda p: p.name)
def test_patrol_photos_refuse_hostile_files(payload, patrol, media):
    before = counts()
    response = client_for("lane_chief").post(f"/api/patrols/{patrol.pk}/photos/", {"photos": [upload(payload)]})
    assert_refused(response, payload, before, media)


@pytest.mark.parametrize("payload", track_payloads(TRACK_MAX), ids=lambda p: p.name)
def test_track_upload_refuses_hostile_files(payload, place, media):
    before = counts()
    response = client_for("lane_chief").post("/api/patrols/upload/", {"file": upload(payload)})
    assert_refused(response, payload, before, media)
    if payload.name.startswith("oversized"):
        assert response.status_code == 413


def test_attendance_refuses_a_hostile_photo(place, media):
    from django.contrib.gis.geos import Point

    from cases.services import report_case

    case = report_case(
        category_code="LBB02", point=Point(float(place["lon"]), float(place["lat"]), srid=4326), description="t"
    ).case
    before = counts()
    payload = photo_payloads(PHOTO_MAX)[1]  # HTML renamed .jpg
    response = client_for("lane_chief").post(
        f"/api/cases/{case.pk}/attend/",
        {"lat": place["lat"], "lon": place["lon"], "note": "到场", "photo": upload(payload)},
    )
    assert response.status_code in (400, 403, 404, 409), response.content[:300]
    assert counts() == before
    assert files_under(media) == set()


def test_a_real_photo_with_a_traversal_name_is_stored_under_a_generated_name(place, media):
    from cases.models import Attachment

    payload = Payload("real photo, hostile name", "../../../../etc/cron.d/x.jpg", real_jpeg(), "image/jpeg")
    response = client_for(None).post(
        "/api/cases/", {"category": "SJ0101", "lat": place["lat"], "lon": place["lon"], "photos": [upload(payload)]}
    )
    assert response.status_code == 201, response.content[:300]
    stored = files_under(media)
    assert len(stored) == 1
    (name,) = stored
    assert ".." not in name and "cron" not in name and name.startswith("cases/")
    assert (media / name).resolve().is_relative_to(media.resolve())
    attachment = Attachment.objects.order_by("-pk").first()
    assert attachment.content_type == "image/jpeg"


def test_roster_import_refuses_an_xlsx_zip_bomb(demo, db, tmp_path, settings):
    path = tmp_path / "roster.xlsx"
    path.write_bytes(xlsx_zip_bomb(300))
    assert path.stat().st_size < 2 * 1024 * 1024
    from people.models import ChiefAssignment, Person

    before = (Person.objects.count(), ChiefAssignment.objects.count())
    with pytest.raises(CommandError) as refused:
        call_command("import_roster", str(path), "--commit", stdout=io.StringIO(), stderr=io.StringIO())
    assert "解压" in str(refused.value) or "压缩" in str(refused.value)
    assert (Person.objects.count(), ChiefAssignment.objects.count()) == before
