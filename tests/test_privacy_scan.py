"""The privacy scan (reliability/privacy.py), bounded, on the demo: every public page and endpoint reachable
anonymously carries no private phone number (in any formatting), no reporter identity and nothing of a sensitive
case; and the log written while cases with phone numbers are filed and read by staff holds none of the numbers."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import Point
from django.db import connection
from django.test import Client

from reliability import privacy

PAGE_LIMIT = 160  # the test's bound; `make reliability` crawls up to privacy.PAGE_LIMIT


@pytest.fixture
def world(demo, db):
    """Cases the scan must keep private: anonymous reports with contact phones, a report by a logged-in lane chief,
    and reports in a sensitive category with distinctive words."""
    from cases.models import Category
    from cases.services import report_case
    from lanes.models import Lane

    lanes = list(Lane.objects.filter(community__code__startswith="370602").order_by("id")[:4])
    at = [Point(*lane.geom[0][0], srid=4326) for lane in lanes]
    public = Category.objects.filter(is_group=False, sensitive=False, active=True).order_by("code").first()
    sensitive = Category.objects.filter(is_group=False, sensitive=True, active=True).order_by("code").first()
    assert sensitive is not None, "the demo has sensitive categories (居民个人信息)"
    chief = get_user_model().objects.get(username="lane_chief")
    cases = {
        "contact": report_case(
            category_code=public.code, point=at[0], description="井盖缺失", contact="139 1234 5678"
        ).case,
        "chief": report_case(category_code=public.code, point=at[1], description="垃圾堆放", reporter=chief).case,
        "sensitive": report_case(
            category_code=sensitive.code, point=at[2], description="三号楼张阿姨独居需要上门关照", contact="13700001111"
        ).case,
    }
    return cases


def client_get(client: Client):
    def get(path: str) -> tuple[int, str, str]:
        response = client.get(path, follow=False)
        return response.status_code, response.get("Content-Type", ""), response.content.decode(errors="replace")

    return get


def test_no_public_page_leaks_private_data(world):
    with connection.cursor() as cursor:
        secrets = privacy.collect(cursor)
        begin = privacy.starts(cursor, secrets)
    # what is looked for: every private phone of the demo, the reporters' contacts and names, the sensitive case
    assert len(secrets.phones) >= 20
    assert any("reporter contact" in label for label in secrets.phones)
    assert any("sensitive" in label for label in secrets.words.values())
    assert world["sensitive"].tracking_code in secrets.per_case
    result = privacy.scan(client_get(Client()), begin, secrets, limit=PAGE_LIMIT)
    print(f"privacy scan: {result['pages']} pages, statuses {result['statuses']}, {len(secrets.phones)} phones")
    assert result["leaks"] == []
    assert result["pages"] >= 100  # the crawl reached far beyond its starting points
    assert not any(status.startswith("5") for status in result["statuses"])


def test_the_scanner_finds_a_planted_leak(world):
    """The control: a private phone in another formatting, on a page, is found."""
    from people.models import Person

    person = Person.objects.exclude(private_phone="").order_by("id").first()
    digits = "".join(ch for ch in person.private_phone if ch.isdigit())
    with connection.cursor() as cursor:
        secrets = privacy.collect(cursor)
    spaced = f"{digits[:3]} {digits[3:7]}-{digits[7:]}"
    assert privacy.leaks_in(f"<p>电话：{spaced}</p>", secrets)
    assert not privacy.leaks_in(f"<p>{digits}0</p>", secrets)  # a longer number is another number
    code = world["sensitive"].tracking_code
    assert privacy.leaks_in(world["sensitive"].lane.name, secrets, case=code) or world["sensitive"].lane is None


def test_logs_hold_no_phone_numbers_while_cases_are_filed_and_read(world, caplog):
    from cases.models import Case

    with connection.cursor() as cursor:
        secrets = privacy.collect(cursor)
    caplog.set_level(logging.DEBUG)
    from django.core.cache import cache

    cache.clear()  # the anonymous report throttle counts per address: earlier tests of the session used it up
    anonymous = Client()
    lane_point = world["contact"].point
    form = {"lat": f"{lane_point.y:.6f}", "lon": f"{lane_point.x:.6f}", "description": "路灯不亮"}
    category = world["contact"].category.code
    page = anonymous.post("/report/", {**form, "category": category, "contact": "138-0013-8000"})
    api = anonymous.post("/api/cases/", {**form, "category": category, "contact": "+86 136 0000 9999"})
    bad = anonymous.post("/api/cases/", {**form, "category": "NOPE", "contact": "135 7777 6666"})
    assert page.status_code == 302 and api.status_code == 201 and bad.status_code == 400
    staff = Client()
    staff.force_login(get_user_model().objects.get(username="district_admin"))
    filed = Case.objects.exclude(reporter_contact="").order_by("-id")[:4]
    for case in filed:
        assert staff.get(f"/inbox/{case.pk}/").status_code == 200
        assert staff.get(f"/api/cases/{case.pk}/").status_code == 200
    with connection.cursor() as cursor:
        secrets = privacy.collect(cursor)  # now with the new reports' contacts
    for phone in ("135 7777 6666",):
        secrets.add_phone(phone, "contact of the refused report")
    assert len(caplog.records) > 0  # the 400 was logged: the scan read a real log
    assert privacy.log_leaks(caplog.text, secrets) == []
