"""Residents' satisfaction: ratings of closed cases (API, tracking page, database invariants), manually entered
surveys (permission, validation), and how both combine in the unit figures and rankings (hand-computed)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import IntegrityError, transaction
from django.test import override_settings

from cases.models import StaffScope
from stats.indicators import Period, unit_figures
from stats.models import CaseRating, SatisfactionSurvey
from stats.rankings import rank
from stats.services import StatsConflict, rate_case
from stats.tests.conftest import WEEK, at, make_case

P = Period.of("week", WEEK)


@pytest.fixture
def closed(world):
    return make_case(world, squad=world.sq_a, created=at(16), status="closed", deadline=at(18), closed=at(17))


def test_anonymous_rating_through_the_tracking_code(closed, client):
    r = client.post(
        "/api/stats/ratings/", {"tracking_code": closed.tracking_code.lower(), "score": 4, "comment": " 很及时 "}
    )
    assert r.status_code == 201, r.content
    assert r.json()["channel"] == "tracking_code" and r.json()["comment"] == "很及时"
    rating = CaseRating.objects.get(case=closed)
    assert (rating.score, rating.user, rating.case_closed_at) == (4, None, closed.closed_at)
    again = client.post("/api/stats/ratings/", {"tracking_code": closed.tracking_code, "score": 5})
    assert again.status_code == 409 and "只能评价一次" in again.json()["detail"]
    assert CaseRating.objects.get(case=closed).score == 4


def test_rating_errors(world, closed, client, django_user_model):
    assert client.post("/api/stats/ratings/", {"tracking_code": closed.tracking_code, "score": 6}).status_code == 400
    assert client.post("/api/stats/ratings/", {"tracking_code": closed.tracking_code, "score": "x"}).status_code == 400
    missing = client.post("/api/stats/ratings/", {"tracking_code": "NOSUCHCODE", "score": 3})
    assert missing.status_code == 404 and "查询码不存在" in missing.json()["detail"]
    open_case = make_case(world, squad=world.sq_a, created=at(16), deadline=at(18))
    r = client.post("/api/stats/ratings/", {"tracking_code": open_case.tracking_code, "score": 3})
    assert r.status_code == 409 and "尚未结案" in r.json()["detail"]
    reporter = django_user_model.objects.create_user(username="stats-reporter", password="pw-stats-123")
    other = django_user_model.objects.create_user(username="stats-other", password="pw-stats-123")
    mine = make_case(
        world, squad=world.sq_a, created=at(16), status="closed", deadline=at(18), closed=at(17), reporter=reporter
    )
    assert client.post("/api/stats/ratings/", {"tracking_code": mine.tracking_code, "score": 3}).status_code == 403
    client.force_login(other)
    assert client.post("/api/stats/ratings/", {"tracking_code": mine.tracking_code, "score": 3}).status_code == 403
    client.force_login(reporter)
    ok = client.post("/api/stats/ratings/", {"tracking_code": mine.tracking_code, "score": 3})
    assert ok.status_code == 201 and ok.json()["channel"] == "account"
    assert CaseRating.objects.get(case=mine).user == reporter
    assert CaseRating.objects.count() == 1


def test_database_refuses_ratings_of_open_cases_and_bad_scores(world, closed):
    open_case = make_case(world, squad=world.sq_a, created=at(16), deadline=at(18))
    for case, score, closed_at in ((open_case, 3, at(17)), (closed, 0, closed.closed_at), (closed, 3, at(15))):
        with pytest.raises(IntegrityError), transaction.atomic():
            CaseRating.objects.create(
                case=case, score=score, channel="tracking_code", case_closed_at=closed_at, rated_at=at(18)
            )
    rate_case(tracking_code=closed.tracking_code, score=5, now=at(18))
    with pytest.raises(StatsConflict):
        rate_case(tracking_code=closed.tracking_code, score=1)


def test_tracking_page_rating_form(closed, client):
    page = client.get("/track/", {"code": closed.tracking_code})
    assert page.status_code == 200 and "评价办理结果" in page.content.decode()
    r = client.post("/track/", {"code": closed.tracking_code, "score": "5", "comment": "满意"})
    assert r.status_code == 302 and "rated=1" in r["Location"]
    after = client.get(r["Location"]).content.decode()
    assert "感谢您的评价" in after and "您的评价：5 分" in after and "提交评价" not in after
    bad = client.post("/track/", {"code": closed.tracking_code, "score": "5"})
    assert bad.status_code == 409 and "只能评价一次" in bad.content.decode()


def test_tracking_page_open_case_has_no_form(world, client):
    case = make_case(world, squad=world.sq_a, created=at(16), deadline=at(18))
    page = client.get("/track/", {"code": case.tracking_code}).content.decode()
    assert "提交评价" not in page and "结案后可在此评价" in page
    assert client.post("/track/", {"code": case.tracking_code, "score": "4"}).status_code == 409


@pytest.fixture
def surveyor(world, django_user_model):
    user = django_user_model.objects.create_user(username="stats-surveyor", password="pw-stats-123")
    StaffScope.objects.create(user=user, area=world.so_w)
    user.user_permissions.add(Permission.objects.get(codename="add_satisfactionsurvey"))
    return user


def survey(w, **kw):
    data = {
        "level": "street_office",
        "unit_id": w.so_w.pk,
        "period_start": "2026-11-16",
        "period_end": "2026-11-23",
        "method": "phone",
        "score": "80",
        "sample_size": 2,
    }
    data.update(kw)
    return data


def test_survey_entry_permission_and_validation(world, surveyor, client, django_user_model):
    w = world
    staff = django_user_model.objects.create_user(username="stats-plain-staff", password="pw-stats-123")
    StaffScope.objects.create(user=staff, area=w.so_w)
    client.force_login(staff)
    assert client.post("/api/stats/surveys/", survey(w)).status_code == 403  # may read, may not enter
    assert client.get("/api/stats/surveys/").status_code == 200
    client.force_login(surveyor)
    r = client.post("/api/stats/surveys/", survey(w))
    assert r.status_code == 201, r.content
    assert r.json()["unit_id"] == w.so_w.pk and r.json()["score"] == "80.00"
    dup = client.post("/api/stats/surveys/", survey(w))
    assert dup.status_code == 409 and "已有同一方式" in dup.json()["detail"]
    assert client.post("/api/stats/surveys/", survey(w, method="visit")).status_code == 201
    assert client.post("/api/stats/surveys/", survey(w, score="100.5")).status_code == 400
    assert client.post("/api/stats/surveys/", survey(w, sample_size=0)).status_code == 400
    assert client.post("/api/stats/surveys/", survey(w, period_end="2026-11-16")).status_code == 400
    wrong_level = client.post("/api/stats/surveys/", survey(w, level="community"))  # a street office id
    assert wrong_level.status_code == 400 and "不存在" in wrong_level.json()["detail"]
    assert client.post("/api/stats/surveys/", survey(w, level="squad", unit_id=w.sq_a.pk)).status_code == 201
    assert SatisfactionSurvey.objects.count() == 3
    listing = client.get("/api/stats/surveys/", {"level": "squad"}).json()
    assert [s["unit_id"] for s in listing] == [w.sq_a.pk]


def test_satisfaction_combines_ratings_and_surveys(world, surveyor):
    from stats.services import enter_survey

    w = world
    c5 = make_case(w, squad=w.sq_a, created=at(16), status="closed", deadline=at(18), closed=at(17))
    c3 = make_case(w, squad=w.sq_a, created=at(16), status="closed", deadline=at(18), closed=at(17))
    late = make_case(w, squad=w.sq_a, created=at(16), status="closed", deadline=at(18), closed=at(17))
    rate_case(tracking_code=c5.tracking_code, score=5, now=at(18))  # 100 points
    rate_case(tracking_code=c3.tracking_code, score=3, now=at(19))  # 50 points
    rate_case(tracking_code=late.tracking_code, score=1, now=at(24))  # rated the next week
    kw = {"by": surveyor, "method": "phone"}
    enter_survey(level="street_office", unit_id=w.so_w.pk, period_start=WEEK, period_end=dt.date(2026, 11, 23),
                 score=80, sample_size=2, **kw)  # fmt: skip
    enter_survey(level="street_office", unit_id=w.so_w.pk, period_start=dt.date(2026, 11, 1),
                 period_end=dt.date(2026, 12, 1), score=90, sample_size=10, **kw)  # fmt: skip
    so = {f.unit_id: f for f in unit_figures(period=P, level="street_office")}
    # week: (100 + 50 + 80 × 2) / (2 ratings + 2 surveyed) = 77.50; the month's survey is not within the week
    assert (so[w.so_w.pk].ratings, so[w.so_w.pk].survey_sample) == (2, 2)
    assert so[w.so_w.pk].rates["satisfaction_rate"] == Decimal("77.50")
    assert so[w.so_e.pk].rates["satisfaction_rate"] is None
    com = {f.unit_id: f for f in unit_figures(period=P, level="community")}
    assert com[w.c_n.pk].rates["satisfaction_rate"] == Decimal("75.00")  # ratings only
    month = {f.unit_id: f for f in unit_figures(period=Period.of("month", WEEK), level="street_office")}
    # month: (100 + 50 + 0 + 160 + 900) / (3 + 2 + 10) = 1210 / 15 = 80.67
    assert month[w.so_w.pk].rates["satisfaction_rate"] == Decimal("80.67")
    squads = unit_figures(period=P, level="squad")
    assert {f.name: f.rates["satisfaction_rate"] for f in squads}["统计甲中队"] == Decimal("75.00")


def test_satisfaction_as_ranking_weight(world):
    w = world
    a = make_case(w, squad=w.sq_a, created=at(16), status="closed", deadline=at(18), closed=at(17))
    b = make_case(w, squad=w.sq_b, created=at(16), status="closed", deadline=at(18), closed=at(17))
    rate_case(tracking_code=a.tracking_code, score=2, now=at(18))
    rate_case(tracking_code=b.tracking_code, score=4, now=at(18))
    figures = unit_figures(period=P, level="squad")
    default = rank(figures, level="squad", period=P)
    assert [s for _r, s, _f in default.ranked] == [Decimal("100.00"), Decimal("100.00")]
    with override_settings(STATS_WEIGHTS={"closure_rate": 1, "satisfaction_rate": 1}):
        rk = rank(figures, level="squad", period=P)
    assert [(f.name, s) for _r, s, f in rk.ranked] == [
        ("统计乙中队", Decimal("87.50")),
        ("统计甲中队", Decimal("62.50")),
    ]
