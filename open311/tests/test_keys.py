"""API keys: issued once in the admin (only a hash stored), revocable, checked by the request endpoint."""

import pytest
from django.contrib.messages import get_messages

from open311 import selectors
from open311.models import ApiKey

pytestmark = pytest.mark.django_db


def test_admin_issues_a_key_shown_once_and_stores_only_its_hash(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="pw-root-123")
    client.force_login(admin)
    response = client.post(
        "/admin/open311/apikey/add/",
        {"name": "12345 热线", "contact": "王工", "active": "on", "can_post": "on", "rate_per_hour": "100"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    key = ApiKey.objects.get()
    assert key.name == "12345 热线" and key.rate_per_hour == 100
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    raw = next(m for m in shown if "只显示这一次" in m).rsplit("：", 1)[1]
    assert raw.startswith(key.prefix) and raw not in key.key_hash
    assert selectors.active_key(raw) == key
    assert selectors.active_key(raw + "x") is None

    # Revoked in the admin: the key no longer works; the hash is kept.
    response = client.post(
        f"/admin/open311/apikey/{key.pk}/change/",
        {"name": "12345 热线", "contact": "王工", "can_post": "on", "rate_per_hour": "100"},
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert not key.active and key.key_hash == selectors.hash_key(raw)
    assert selectors.active_key(raw) is None


def test_admin_pages_render(client, django_user_model):
    from open311.services import issue_api_key

    admin = django_user_model.objects.create_superuser("root2", password="pw-root-123")
    client.force_login(admin)
    key, _raw = issue_api_key(name="某应用")
    for url in (
        "/admin/open311/apikey/",
        "/admin/open311/apikey/add/",
        f"/admin/open311/apikey/{key.pk}/change/",
        "/admin/open311/open311request/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    assert "某应用" in client.get("/admin/open311/apikey/").content.decode()
    assert key.key_hash not in client.get(f"/admin/open311/apikey/{key.pk}/change/").content.decode()
