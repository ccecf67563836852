"""Publishing freezes a bulletin: the page stays byte-identical after new data; corrections are new versions;
the XLSX opens with openpyxl and holds the numbers of the page."""

from __future__ import annotations

import io
from html.parser import HTMLParser

import pytest
from openpyxl import load_workbook

from cases.models import StaffScope
from stats.services import publish_bulletin
from stats.tests.conftest import WEEK, at, make_case


class Tables(HTMLParser):
    """The ranking tables of a page: level → rows of cell texts."""

    def __init__(self):
        super().__init__()
        self.tables, self.level, self.row, self.cell = {}, None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "ranking" in (a.get("class") or ""):
            self.level = a["data-level"]
            self.tables[self.level] = []
        elif tag == "tr" and self.level:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.row.append(self.cell)
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.tables[self.level].append(self.row)
            self.row = None
        elif tag == "table":
            self.level = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


@pytest.fixture
def staff(world, django_user_model):
    user = django_user_model.objects.create_user(username="stats-staff", password="pw-stats-123")
    StaffScope.objects.create(user=user, area=world.so_w)
    return user


@pytest.fixture
def week_cases(world):
    w = world
    make_case(w, squad=w.sq_a, created=at(16), status="closed", deadline=at(18), closed=at(17), lane=w.lane)
    make_case(w, squad=w.sq_a, created=at(16), status="accepted", deadline=at(18))
    make_case(w, squad=w.sq_b, created=at(16), status="closed", deadline=at(17), closed=at(18), lane=w.lane2)
    return w


def test_published_page_is_frozen_and_corrections_are_versions(week_cases, staff, client):
    w = week_cases
    b1 = publish_bulletin(week=WEEK, by=staff)
    assert (b1.label, b1.version, b1.period_start.isoformat()) == ("2026-W47", 1, "2026-11-16")
    client.force_login(staff)
    page1 = client.get(f"/stats/bulletins/{b1.pk}/")
    assert page1.status_code == 200
    assert "统计西街道" in page1.content.decode() and "<svg" in page1.content.decode()
    # new cases of the same week arrive after publication
    for _i in range(3):
        make_case(w, squad=w.sq_a, created=at(17), status="closed", deadline=at(18), closed=at(18, 9))
    page2 = client.get(f"/stats/bulletins/{b1.pk}/")
    assert page2.content == page1.content
    b2 = publish_bulletin(week=WEEK.replace(day=20), by=staff, note="补录案件")
    assert b2.version == 2 and b2.period_start == b1.period_start
    page3 = client.get(f"/stats/bulletins/{b2.pk}/")
    assert page3.content != page1.content
    t1 = Tables()
    t1.feed(page1.content.decode())
    t3 = Tables()
    t3.feed(page3.content.decode())
    row1 = next(r for r in t1.tables["street_office"] if r[1] == "统计西街道")
    row3 = next(r for r in t3.tables["street_office"] if r[1] == "统计西街道")
    assert (row1[3], row1[4], row1[6]) == ("2", "1", "50.00")  # due, closed, closure rate in version 1
    assert (row3[3], row3[4], row3[6]) == ("5", "4", "80.00")  # the correction holds the late arrivals
    assert client.get(f"/stats/bulletins/{b1.pk}/").content == page1.content


def test_xlsx_matches_the_page(week_cases, staff, client):
    b = publish_bulletin(week=WEEK, by=staff)
    client.force_login(staff)
    page = Tables()
    page.feed(client.get(f"/stats/bulletins/{b.pk}/").content.decode())
    resp = client.get(f"/stats/bulletins/{b.pk}/xlsx/")
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(resp.content))
    for level, title in (("street_office", "街道排名"), ("squad", "中队排名"), ("department", "部门排名")):
        sheet = [list(r) for r in wb[title].iter_rows(values_only=True)]
        html_rows = page.tables[level][1:]
        xlsx_ranked = [r for r in sheet[1:] if r[0] is not None]
        assert len(xlsx_ranked) == len(html_rows) > 0
        for h, x in zip(html_rows, xlsx_ranked, strict=True):
            assert int(h[0]) == x[0] and h[1] == x[1]
            assert float(h[2]) == x[2]  # score
            assert [int(v) for v in h[3:6]] == x[3:6]  # due, closed, closed on time
            assert [None if v == "—" else float(v) for v in h[6:14]] == x[6:14]  # rates
            assert h[14] == (x[14] or "")  # red / black list
    squads = [r[1] for r in wb["中队排名"].iter_rows(values_only=True)]
    assert "统计丙中队" in squads  # listed as no data, not ranked
    assert [r[0] for r in page.tables["squad"][1:]] == ["1", "2"]


def test_pages_need_stats_readers(week_cases, client, django_user_model):
    b = publish_bulletin(week=WEEK, by=None)
    assert client.get(f"/stats/bulletins/{b.pk}/").status_code == 302  # to the login page
    nobody = django_user_model.objects.create_user(username="stats-nobody", password="pw-stats-123")
    client.force_login(nobody)
    assert client.get(f"/stats/bulletins/{b.pk}/").status_code == 403
    assert client.get(f"/stats/bulletins/{b.pk}/xlsx/").status_code == 403


def test_charts_are_inline_svg_without_external_resources(week_cases, staff, client):
    import xml.etree.ElementTree as ET

    b = publish_bulletin(week=WEEK, by=staff)
    client.force_login(staff)
    html = client.get(f"/stats/bulletins/{b.pk}/").content.decode()
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    assert "<script" not in html
    svgs = []
    start = 0
    while (i := html.find("<svg", start)) != -1:
        j = html.index("</svg>", i) + len("</svg>")
        svgs.append(ET.fromstring(html[i:j]))
        start = j
    ns = "{http://www.w3.org/2000/svg}"
    trend = next(s for s in svgs if s.get("class") == "trend")
    assert len(trend.findall(f"{ns}g")) == 8  # eight weeks, oldest first
    last = trend.findall(f"{ns}g")[-1]
    assert [t.text for t in last.findall(f"{ns}text")] == ["W47", "66.67"]  # 2 of 3 due cases closed
    # bars 120 px at 100 %: closure 66.67 % → 80 px, on time 1 of 3 (33.33 %) → 39 px
    assert [int(r.get("height")) for r in last.findall(f"{ns}rect")] == [80, 39]
    assert {int(r.get("height")) for g in trend.findall(f"{ns}g")[:-1] for r in g.findall(f"{ns}rect")} == {0}
    bars = next(s for s in svgs if s.get("class") == "bars")
    widths = [int(r.get("width")) for r in bars.iter(f"{ns}rect")]
    # ranking order, bars = closure rate (300 px at 100 %). Both offices score 58.82 (W: 50 % / 50 %; E: 100 % /
    # 0 %; no rework; no dispatch data); W has more due cases, so W comes first.
    assert widths == [150, 300]
