"""CSRF on every form: crawl the demo site (anonymous, then as each demo role), and every <form method="post"> found
carries a csrfmiddlewaretoken; a POST to each of those forms' targets without the token is refused (403)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.browser import demo_activity  # noqa: F401

PAGE_LIMIT = 40  # pages per user: every page kind, bounded (the suite stays fast)
SKIP = ("/static/", "/media/", "/i18n/", "/accounts/logout/", "/admin/logout/", "/admin/jsi18n/", "/api/schema/")
SKIP_SUFFIX = ("/xlsx/", ".xlsx", ".json", ".xml", "/delete/", "/history/")


class Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.forms: list[dict] = []
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            self._form = {"method": (a.get("method") or "get").lower(), "action": a.get("action") or "", "fields": {}}
            self.forms.append(self._form)
        elif tag in ("input", "select", "textarea", "button") and self._form is not None and a.get("name"):
            self._form["fields"].setdefault(a["name"], a.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def crawl(client: Client, starts: list[str]) -> dict[str, list[dict]]:
    """{page: its POST forms} for every page reachable from `starts` on this site (bounded)."""
    seen, queue, found = set(), list(starts), {}
    while queue and len(seen) < PAGE_LIMIT:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = Forms()
        parser.feed(response.content.decode())
        found[path] = [f for f in parser.forms if f["method"] == "post"]
        for href in parser.links:
            url = urlsplit(urljoin(path, href))
            if url.netloc and url.netloc != "testserver":
                continue
            target = url.path + (f"?{url.query}" if url.query and not url.path.startswith("/admin/") else "")
            if target.startswith(SKIP) or target.endswith(SKIP_SUFFIX) or target in seen:
                continue
            # the admin: its index, each change list and the first change form of each
            if target.startswith("/admin/") and target.count("/") > 5:
                continue
            queue.append(target)
    return found


ROLES = ["admin", "street_staff", "lane_chief", "squad_leader"]


def starts(activity) -> list[str]:
    case = activity["cases"][0]
    lane = activity["lanes"][0]
    return [
        "/",
        "/lookup/",
        f"/lookup/lanes/{lane.pk}/",
        "/report/",
        f"/track/?code={case.tracking_code}",
        "/inbox/",
        f"/inbox/{case.pk}/",
        "/squad/",
        "/dashboard/",
        "/patrols/live/",
        "/patrols/reports/",
        "/stats/bulletins/",
        "/accounts/login/",
        "/admin/",
        "/admin/lanes/lane/",
        f"/admin/lanes/lane/{lane.pk}/change/",
        "/admin/grid/area/add/",
    ]


@pytest.fixture(scope="module")
def crawled(demo, demo_activity, django_db_blocker):  # noqa: F811
    User = get_user_model()
    out = {}
    with django_db_blocker.unblock():
        out["anonymous"] = crawl(Client(), starts(demo_activity))
        for role in ROLES:
            client = Client()
            client.force_login(User.objects.get(username=role))
            out[role] = crawl(client, starts(demo_activity))
    return out


def test_every_post_form_carries_the_csrf_token(crawled):
    missing, forms = [], 0
    for user, pages in crawled.items():
        for page, post_forms in pages.items():
            for form in post_forms:
                forms += 1
                if "csrfmiddlewaretoken" not in form["fields"]:
                    missing.append((user, page, form["action"]))
    assert not missing
    pages = {p for pages in crawled.values() for p, f in pages.items() if f}
    # the public report, the login pages, the case actions and the admin's forms at least
    assert {"/report/", "/accounts/login/"} <= pages
    assert any(p.startswith("/inbox/") and p != "/inbox/" for p in pages)
    assert any(p.startswith("/admin/") for p in pages)
    assert forms >= 10
    assert sum(len(p) for p in crawled.values()) >= 50  # pages crawled in all


def test_a_post_without_the_token_is_refused(crawled, db):
    User = get_user_model()
    targets = {}  # one form of each kind (the same path with other ids is the same view) per user
    for user, pages in crawled.items():
        for page, post_forms in pages.items():
            for form in post_forms:
                target = urljoin(page, form["action"] or page)
                targets.setdefault((user, re.sub(r"\d+", "N", urlsplit(target).path)), (target, form["fields"]))
    assert len(targets) >= 5
    refused, clients = [], {}
    for (user, _kind), (target, fields) in sorted(targets.items()):
        if user not in clients:
            clients[user] = Client(enforce_csrf_checks=True)
            if user != "anonymous":
                clients[user].force_login(User.objects.get(username=user))
        data = {k: v for k, v in fields.items() if k != "csrfmiddlewaretoken"}
        response = clients[user].post(target, data)
        refused.append((user, target, response.status_code))
    assert all(status == 403 for _u, _t, status in refused), [r for r in refused if r[2] != 403]


def test_the_same_post_with_the_token_is_not_refused_for_csrf(demo, db):
    """The control: the token from the page makes the same login POST pass the CSRF check."""
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/")
    parser = Forms()
    parser.feed(page.content.decode())
    token = parser.forms[0]["fields"]["csrfmiddlewaretoken"]
    response = client.post("/accounts/login/", {"csrfmiddlewaretoken": token, "username": "x", "password": "y"})
    assert response.status_code == 200  # the form again, with its error: not 403
    assert "用户名或密码不正确" in response.content.decode()
