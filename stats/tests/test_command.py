from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from stats.models import Bulletin
from stats.tests.conftest import at, make_case


def test_dry_run_writes_nothing_then_commit_publishes(world):
    make_case(world, squad=world.sq_a, created=at(16), status="closed", deadline=at(18), closed=at(17))
    make_case(world, squad=world.sq_a, created=at(16), status="accepted", deadline=at(18))
    out = StringIO()
    call_command("publish_bulletin", "--week", "2026-11-18", stdout=out)
    assert "2026-W47" in out.getvalue() and "结案率 50.00" in out.getvalue() and "第 1 版" in out.getvalue()
    assert not Bulletin.objects.exists()
    call_command("publish_bulletin", "--week", "2026-11-18", "--commit", stdout=StringIO())
    call_command("publish_bulletin", "--week", "2026-11-20", "--commit", "--note", "更正", stdout=StringIO())
    assert list(Bulletin.objects.values_list("label", "version", "note")) == [
        ("2026-W47", 2, "更正"),
        ("2026-W47", 1, ""),
    ]


def test_bad_week_says_what_to_do(db):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("publish_bulletin", "--week", "18/11/2026", stdout=StringIO())


def test_list_page(world, client, django_user_model):
    from cases.models import StaffScope

    staff = django_user_model.objects.create_user(username="stats-list", password="pw-stats-123")
    StaffScope.objects.create(user=staff, area=world.district)
    call_command("publish_bulletin", "--week", "2026-11-18", "--commit", stdout=StringIO())
    client.force_login(staff)
    html = client.get("/stats/bulletins/").content.decode()
    b = Bulletin.objects.get()
    assert f"/stats/bulletins/{b.pk}/" in html and f"/stats/bulletins/{b.pk}/xlsx/" in html and "2026-W47" in html
