"""The /api/cases/ endpoints: submission (public and logged in, idempotent, photos), bad inputs that change
nothing, transitions with versions, lists and filters, the inbox, tracking, the OpenAPI schema and the queue."""

import io
from pathlib import Path

import pytest
from django.core.cache import cache
from PIL import Image
from rest_framework.test import APIClient

from cases.models import Attachment, Case, CaseEvent
from cases.tests.conftest import CELL_CENTRE, SPLIT_LON, jpeg_bytes, point_on_street, upload

pytestmark = pytest.mark.django_db
URL = "/api/cases/"


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


def client_for(user=None):
    c = APIClient()
    if user is not None:
        c.force_authenticate(user)
    return c


def lonlat(point):
    return {"lon": point.x, "lat": point.y}


def fuzhou():
    return point_on_street("福州路", 121.4750)


def snapshot():
    return (Case.objects.count(), CaseEvent.objects.count(), Attachment.objects.count())


def files_under(root):
    return [p for p in Path(root).rglob("*") if p.is_file()] if Path(root).exists() else []


def create(c, **data):
    return c.post(URL, data, format="json")


def test_anonymous_report_gets_a_tracking_code_and_only_public_fields(world, sent):
    anon = client_for()
    r = create(anon, category="SJ0101", description="垃圾满地", contact="13800000000", **lonlat(fuzhou()))
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "dispatched" and len(body["tracking_code"]) == 10
    assert "contact" not in str(body) and "13800000000" not in str(body) and "squad" not in body
    case = Case.objects.get(tracking_code=body["tracking_code"])
    assert case.reporter is None and case.source == "public" and case.reporter_contact == "13800000000"
    tracked = anon.get(f"{URL}track/{body['tracking_code'].lower()}/")
    assert tracked.status_code == 200
    assert tracked.json()["description"] == "垃圾满地" and tracked.json()["category"] == "暴露垃圾"
    assert [e["action"] for e in tracked.json()["timeline"]] == ["report", "dispatch"]
    assert anon.get(f"{URL}track/ZZZZZZZZZZ/").status_code == 404
    # Handlers see the contact; the lane chief does not.
    detail = client_for(world.users["fz_san_member"]).get(f"{URL}{case.pk}/").json()["properties"]
    assert detail["reporter_contact"] == "13800000000"
    detail = client_for(world.users["chief_fz"]).get(f"{URL}{case.pk}/").json()["properties"]
    assert detail["reporter_contact"] is None


def test_sensitive_reports_are_never_public(world):
    r = create(
        client_for(), category="LBB04", description="某某家老人病重", **lonlat(point_on_street("北京西路", 121.4640))
    )
    assert r.status_code == 201
    body = r.json()
    assert body["sensitive"] is True
    for key in ("description", "category", "lon", "lat", "lane"):
        assert key not in body
    tracked = client_for().get(f"{URL}track/{body['tracking_code']}/").json()
    assert "老人" not in str(tracked) and "lon" not in tracked


def test_idempotent_retry_returns_the_first_case(world, sent):
    chief = client_for(world.users["chief_fz"])
    data = {"category": "SJ0101", **lonlat(fuzhou())}
    first = chief.post(URL, data, format="json", HTTP_IDEMPOTENCY_KEY="8a4c-retry-1")
    before = snapshot()
    again = chief.post(URL, data, format="json", HTTP_IDEMPOTENCY_KEY="8a4c-retry-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert snapshot() == before and len(sent) == 1
    # The key may also come as a field; another reporter's identical key is another submission.
    assert (
        chief.post(URL, {**data, "idempotency_key": "8a4c-retry-1"}, format="json").json()["id"] == first.json()["id"]
    )
    other = client_for(world.users["chief_jj"]).post(URL, data, format="json", HTTP_IDEMPOTENCY_KEY="8a4c-retry-1")
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


def test_logged_in_report_lists_possible_duplicates(world):
    chief = client_for(world.users["chief_fz"])
    p = fuzhou()
    first = create(chief, category="SJ0101", **lonlat(p)).json()
    second = create(chief, category="SJ0101", lon=p.x + 15 / 95_000, lat=p.y).json()
    dupes = second["properties"]["possible_duplicates"]
    assert [d["id"] for d in dupes] == [first["id"]] and dupes[0]["distance_m"] < 25
    listed = chief.get(f"{URL}{second['id']}/duplicates/").json()
    assert [d["id"] for d in listed] == [first["id"]]
    r = chief.post(
        f"{URL}{second['id']}/merge/", {"version": second["properties"]["version"], "into": first["id"]}, format="json"
    )
    assert r.status_code == 200 and r.json()["properties"]["status"] == "merged"
    assert r.json()["properties"]["merged_into_code"] == first["properties"]["tracking_code"]


def test_photos_are_checked_located_and_stripped(world, media_root):
    chief = client_for(world.users["chief_fz"])
    p = fuzhou()
    photo = upload("scene.jpg", jpeg_bytes(gps=(121.4751, 31.2349)))
    r = chief.post(URL, {"category": "SJ0101", "lon": p.x, "lat": p.y, "photos": [photo]}, format="multipart")
    assert r.status_code == 201, r.content
    case_id = r.json()["id"]
    listed = chief.get(f"{URL}{case_id}/attachments/").json()
    assert len(listed) == 1 and listed[0]["kind"] == "report"
    loc = listed[0]["exif_location"]
    assert abs(loc["lon"] - 121.4751) < 1e-5 and abs(loc["lat"] - 31.2349) < 1e-5
    served = chief.get(listed[0]["url"])
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    stored = Image.open(io.BytesIO(b"".join(served.streaming_content)))
    assert dict(stored.getexif()) == {} and stored.size == (64, 48)
    assert client_for(world.users["outsider"]).get(listed[0]["url"]).status_code == 404
    # The squad adds a before-photo to the case through the attachments endpoint.
    squad = client_for(world.users["fz_san_member"])
    added = squad.post(f"{URL}{case_id}/attachments/", {"file": upload(), "kind": "before"}, format="multipart")
    assert added.status_code == 201 and added.json()["kind"] == "before"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"category": "NOPE"}, "未知的案件类别"),
        ({"category": "LBB"}, "未知的案件类别"),  # a group, not a reportable category
        ({"category": "SJ0101", "lon": 116.397, "lat": 39.909}, "不在任何街道范围内"),
        ({"category": "SJ0101", "lat": 200}, "latitude"),
        ({"category": "SJ0101", "lane": 999999999}, "街巷不存在"),
    ],
)
def test_bad_submissions_are_400_and_change_nothing(world, media_root, payload, message):
    data = {**lonlat(fuzhou()), **payload}
    before = snapshot()
    r = client_for(world.users["chief_fz"]).post(URL, data, format="json")
    assert r.status_code == 400 and message in str(r.json())
    assert snapshot() == before


@pytest.mark.parametrize(
    ("make_file", "message", "expected"),
    [
        (lambda: upload("notes.jpg", b"this is not an image at all", "image/jpeg"), "不是可识别的图片", 400),
        (lambda: upload("big.jpg", jpeg_bytes(size=(800, 600), colour=(10, 200, 90))), "上限", 413),
        (lambda: upload("anim.gif", _gif(), "image/gif"), "不是可识别的图片", 400),
    ],
)
def test_bad_photos_are_refused_and_store_nothing(world, media_root, settings, make_file, message, expected):
    settings.CASE_PHOTO_MAX_BYTES = 4000
    p = fuzhou()
    before = snapshot()
    r = client_for().post(
        URL, {"category": "SJ0101", "lon": p.x, "lat": p.y, "photos": [make_file()]}, format="multipart"
    )
    assert r.status_code == expected and message in r.json()["detail"]
    assert snapshot() == before and files_under(media_root) == []


def _gif():
    buf = io.BytesIO()
    Image.new("P", (8, 8)).save(buf, "GIF")
    return buf.getvalue()


def test_transitions_check_version_state_and_role_and_change_nothing_when_refused(world):
    chief = client_for(world.users["chief_fz"])
    created = create(chief, category="SJ0101", **lonlat(fuzhou())).json()
    case_id, version = created["id"], created["properties"]["version"]
    squad = client_for(world.users["fz_san_member"])
    before = snapshot()
    refusals = [
        (squad.post(f"{URL}{case_id}/accept/", {"version": version - 1}, format="json"), 409, "版本"),
        (squad.post(f"{URL}{case_id}/close/", {"version": version}, format="json"), 403, "无权"),
        (chief.post(f"{URL}{case_id}/close/", {"version": version}, format="json"), 409, "不能执行"),
        (squad.post(f"{URL}{case_id}/accept/", {}, format="json"), 400, "version"),
        (chief.post(f"{URL}{case_id}/accept/", {"version": version}, format="json"), 403, "无权"),
        (
            client_for(world.users["outsider"]).post(f"{URL}{case_id}/accept/", {"version": version}, format="json"),
            404,
            "不存在",
        ),
        (squad.post(f"{URL}{case_id}/return/", {"version": version}, format="json"), 400, "理由"),
        (client_for().post(f"{URL}{case_id}/accept/", {"version": version}, format="json"), (401, 403), ""),
    ]
    for response, code, text in refusals:
        assert response.status_code in (code if isinstance(code, tuple) else (code,)), response.content
        assert text in str(response.json())
    assert snapshot() == before
    assert Case.objects.get(pk=case_id).version == version
    ok = squad.post(f"{URL}{case_id}/accept/", {"version": version, "note": "马上到"}, format="json")
    assert ok.status_code == 200
    props = ok.json()["properties"]
    assert props["status"] == "accepted" and props["version"] == version + 1
    assert "resolve" in props["allowed_actions"] and "accept" not in props["allowed_actions"]
    resolved = squad.post(
        f"{URL}{case_id}/resolve/",
        {"version": version + 1, "note": "已清理", "photos": [upload()]},
        format="multipart",
    )
    assert resolved.status_code == 200 and resolved.json()["properties"]["status"] == "resolved"
    timeline = chief.get(f"{URL}{case_id}/timeline/").json()
    assert [e["action"] for e in timeline] == ["report", "dispatch", "accept", "resolve"]
    assert timeline[2]["note"] == "马上到" and timeline[2]["actor_role"] == "squad_member"


def test_list_is_geojson_with_filters(world):
    chief = client_for(world.users["chief_fz"])
    a = create(chief, category="SJ0101", **lonlat(fuzhou())).json()
    b = create(chief, category="SJ0402", **lonlat(point_on_street("汉口路", SPLIT_LON + 0.0007))).json()
    admin = client_for(world.users["district"])
    body = admin.get(URL).json()
    assert body["type"] == "FeatureCollection" and body["count"] >= 2
    feature = next(f for f in body["features"] if f["id"] == a["id"])
    assert feature["geometry"]["type"] == "Point" and feature["properties"]["light"] == "green"

    def ids(**params):
        return {f["id"] for f in admin.get(URL, params).json()["features"]}

    assert ids(category="SJ0402") == {b["id"]}
    assert ids(area=world.so_e.code) == {b["id"]}
    assert a["id"] in ids(area=world.c_wn.code) and b["id"] not in ids(area=world.c_wn.code)
    assert {a["id"], b["id"]} <= ids(area=world.district.code)
    assert ids(area="12") == set()
    assert ids(squad=world.squads["东街道市容中队"].pk) == {b["id"]}
    assert {a["id"], b["id"]} <= ids(status="dispatched")
    assert ids(status="closed") == set()
    assert ids(overdue="true") == set() and {a["id"], b["id"]} <= ids(overdue="false")
    assert ids(created_after="2000-01-01") >= {a["id"], b["id"]} and ids(created_before="2000-01-01") == set()


def test_inbox_orders_by_deadline(world):
    public = client_for()
    p = point_on_street("北京西路", 121.4640)
    slow = create(public, category="SJ0102", **lonlat(p)).json()  # 1 working day
    fast = create(public, category="SJ0103", **lonlat(p)).json()  # 3 working hours
    mid = create(public, category="SJ0101", **lonlat(p)).json()  # 4 working hours
    inbox = client_for(world.users["cwn_san_member"]).get(f"{URL}inbox/").json()
    codes = [item["tracking_code"] for item in inbox]
    assert codes == [fast["tracking_code"], mid["tracking_code"], slow["tracking_code"]]
    assert all(item["light"] == "green" for item in inbox)
    # Another squad's inbox does not hold them; the street-office queue goes to the staff's inbox.
    assert client_for(world.users["sw_san_member"]).get(f"{URL}inbox/").json() == []
    queued = create(public, category="SJ0502", **lonlat(p)).json()  # no municipal squad: street office queue
    staff_inbox = client_for(world.users["staff_w"]).get(f"{URL}inbox/").json()
    assert [i["tracking_code"] for i in staff_inbox] == [queued["tracking_code"]]


def test_public_reports_are_throttled(world, settings):
    settings.CASE_PUBLIC_REPORT_RATE = "2/hour"
    anon = client_for()
    data = {"category": "SJ0101", **lonlat(fuzhou())}
    assert [create(anon, **data).status_code for _ in range(3)] == [201, 201, 429]
    assert create(client_for(world.users["chief_fz"]), **data).status_code == 201  # logged in: not throttled


def test_categories_are_public(world):
    body = client_for().get(f"{URL}categories/").json()
    codes = {c["code"]: c for c in body}
    assert {"LBB01", "LBD06", "SJ0502"} <= set(codes)
    assert codes["LBB04"]["sensitive"] and codes["LBD01"]["must_attend"] and codes["LBB"]["is_group"]


def test_attendance_endpoint(world):
    chief = client_for(world.users["chief_fz"])
    p = point_on_street("汉口路", 121.4740)
    case = create(chief, category="LBD02", **lonlat(p)).json()
    r = chief.post(f"{URL}{case['id']}/attend/", {"lon": p.x, "lat": p.y + 0.003, "note": "到了"}, format="json")
    assert r.status_code == 400 and "米以内" in r.json()["detail"]
    r = chief.post(f"{URL}{case['id']}/attend/", {"lon": p.x, "lat": p.y, "note": "到了"}, format="json")
    assert r.status_code == 201 and r.json()["distance_m"] < 1
    report = client_for(world.users["staff_w"]).get(f"{URL}attendance-report/").json()
    assert [row["state"] for row in report if row["case"] == case["id"]] == ["on_time"]


def test_openapi_schema_documents_every_case_endpoint(world):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    for path in [
        "/api/cases/",
        "/api/cases/{id}/",
        "/api/cases/{id}/timeline/",
        "/api/cases/{id}/attachments/",
        "/api/cases/{id}/duplicates/",
        "/api/cases/{id}/attend/",
        "/api/cases/inbox/",
        "/api/cases/track/{code}/",
        "/api/cases/{id}/accept/",
        "/api/cases/{id}/return/",
        "/api/cases/{id}/resolve/",
        "/api/cases/{id}/recheck-pass/",
        "/api/cases/{id}/request-extension/",
        "/api/cases/{id}/merge/",
        "/api/cases/{id}/spot-check-fail/",
    ]:
        assert path in paths, path
    assert "409" in paths["/api/cases/{id}/accept/"]["post"]["responses"]
    assert client_for().get("/api/schema/").status_code == 200


def test_real_queue_gets_a_delivery_job_inside_the_transaction(world):
    """With an endpoint configured, a dispatch creates a notification and a procrastinate job; a refused
    transition (rolled back) queues nothing."""
    from procrastinate.contrib.django.models import ProcrastinateJob

    from notify.models import Notification
    from notify.recipients import Recipient
    from notify.services import endpoint_upsert

    squad = world.squads["福州路环卫中队"]
    endpoint_upsert(recipient=Recipient.for_squad(squad), channel="webhook", address="https://hooks.example.org/fz")
    chief = client_for(world.users["chief_fz"])
    created = create(chief, category="SJ0101", **lonlat(fuzhou())).json()
    notes = Notification.objects.filter(recipient_kind="squad", recipient_id=squad.pk, event="case.dispatched")
    assert notes.count() == 1
    note = notes.get()
    assert note.payload["tracking_code"] == created["properties"]["tracking_code"]
    assert ProcrastinateJob.objects.filter(id=note.job_id, task_name="notify.send_notification").exists()
    jobs = ProcrastinateJob.objects.count()
    r = chief.post(f"{URL}{created['id']}/close/", {"version": created["properties"]["version"]}, format="json")
    assert r.status_code == 409
    assert ProcrastinateJob.objects.count() == jobs and Notification.objects.count() == 1


def test_cell_centre_is_routed_through_the_api_with_reason(world):
    r = create(client_for(world.users["district"]), category="SJ0101", lon=CELL_CENTRE[0], lat=CELL_CENTRE[1])
    props = r.json()["properties"]
    assert props["squad_name"] == "网格环卫中队" and world.cell.code in props["routing_reason"]
    assert props["grid_cell_code"] == world.cell.code


def test_gcj02_coordinates_from_phone_maps_are_converted(world):
    from common.geo import wgs84_to_gcj02

    p = fuzhou()
    glon, glat = wgs84_to_gcj02(p.x, p.y)
    assert abs(glon - p.x) > 0.003  # GCJ-02 is hundreds of metres off in Shanghai
    r = create(client_for(world.users["chief_fz"]), category="SJ0101", lon=glon, lat=glat, coordsys="gcj02")
    assert r.status_code == 201
    case = Case.objects.get(pk=r.json()["id"])
    assert case.lane.name == "福州路" and case.source == "chief"
    from cases.selectors import distance_from

    assert Case.objects.filter(pk=case.pk).annotate(d=distance_from("point", p)).get().d < 0.5
