import csv
import io
from datetime import date, datetime
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from people import services
from people.importers.roster import import_roster, parse_date
from people.models import ChiefAssignment, Department, Person, Role, Squad
from people.selectors import chiefs_of_lane, placard_for_lane, squads_for_lane

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"
DAY = date(2025, 3, 10)
HEADER = ["序号", "街巷名称", "所属社区", "街巷长", "职务", "所属部门", "联系电话", "公开电话", "任职日期", "角色"]
HEADER += ["市容中队电话", "环卫中队电话", "市政中队电话"]
GOOD = [
    [
        "1",
        "福州路",
        "西片社区",
        "张三",
        "科长",
        "区建设管理委员会",
        "13800138000",
        "021-63210000",
        "2025-03-01",
        "街巷长",
    ]
    + ["021-63001000", "021-63002000", ""],
    ["2", "福州路", "310101002002", "李四", "副科长", "区市容绿化局", "13900139000", "", "2025-03-01", ""]
    + ["021-63001000", "021-63002000", ""],
    ["3", "湖北路", "", "王五", "", "区建设管理委员会", "13700137000", "", "2025/3/1", ""]
    + ["021-63001000", "021-63002000", "021-63003000"],
]


def write_csv(tmp_path, rows, *, header=HEADER, encoding="utf-8", name="roster.csv") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([header, *rows])
    path = tmp_path / name
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(tmp_path, rows, *, header=HEADER, title=None, sheet="名单", extra_sheet=True) -> Path:
    book = Workbook()
    if extra_sheet:
        book.active.title = "说明"
        book.active["A1"] = "填表说明：每行一位街巷长"
        ws = book.create_sheet(sheet)
    else:
        ws = book.active
        ws.title = sheet
    if title:
        ws.append([title])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    ws.append(header)
    for row in rows:
        ws.append(row)
    path = tmp_path / "roster.xlsx"
    book.save(path)
    return path


def db_state():
    return (
        sorted(Person.objects.values_list("name", "department__name", "private_phone", "public_phone", "title")),
        sorted(
            ChiefAssignment.objects.values_list("person__name", "role", "lane_id", "area_id", "valid_from", "valid_to")
        ),
        sorted(Squad.objects.values_list("name", "kind__code", "duty_phone")),
        sorted(Squad.lanes.through.objects.values_list("squad__name", "lane_id")),
        sorted(Department.objects.values_list("name", flat=True)),
    )


def chief_names(lane, day=date(2025, 3, 1)):
    return [a.person.name for a in chiefs_of_lane(lane, on=day)]


def squad_phones(lane):
    return {kind: (s.duty_phone if s else None) for kind, s in squads_for_lane(lane).items()}


def assert_good_import(place):
    assert chief_names(place.fuzhou_w) == ["张三"]
    assert chief_names(place.fuzhou_e) == ["李四"]
    assert chief_names(place.hubei) == ["王五"]
    assert chief_names(place.hubei, date(2025, 2, 28)) == []
    zhang = Person.objects.get(name="张三")
    assert (zhang.department.name, zhang.title, zhang.private_phone, zhang.public_phone) == (
        "区建设管理委员会",
        "科长",
        "13800138000",
        "021-63210000",
    )
    assert Person.objects.get(name="王五").department == zhang.department
    assert Department.objects.count() == 2
    for lane in (place.fuzhou_w, place.fuzhou_e):
        assert squad_phones(lane) == {"street_order": "021-63001000", "sanitation": "021-63002000", "municipal": None}
    assert squad_phones(place.hubei) == {
        "street_order": "021-63001000",
        "sanitation": "021-63002000",
        "municipal": "021-63003000",
    }
    # one phone for a kind across a street office's rows is one squad, serving those lanes
    assert Squad.objects.count() == 3
    street_order = squads_for_lane(place.hubei)["street_order"]
    assert street_order.name == "南京东路街道市容中队" and street_order.street_office == place.so
    assert set(street_order.lanes.all()) == {place.fuzhou_w, place.fuzhou_e, place.hubei}


@pytest.mark.parametrize(
    ("encoding", "reported"), [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8 (BOM)"), ("gbk", "GB18030/GBK")]
)
def test_csv_happy_path(place, tmp_path, encoding, reported):
    path = write_csv(tmp_path, GOOD, encoding=encoding)
    report = import_roster(path, commit=True, on=DAY)
    assert report.ok, report.errors
    assert report.encoding == reported and report.format == "csv"
    assert (report.header_row, report.rows, report.valid_rows, report.committed) == (1, 3, 3, True)
    assert report.counts["people_created"] == 3 and report.counts["assignments_created"] == 3
    assert report.counts["departments_created"] == 2 and report.counts["squads_created"] == 3
    assert_good_import(place)


def test_a_street_office_spreadsheet_saved_by_excel_as_gbk(place):
    """Title row above the header, CRLF, padded names, 社区居民委员会, Chinese date styles, a blank row."""
    report = import_roster(DATA / "street_office_roster_gbk.csv", commit=True, on=DAY)
    assert report.ok, [str(e) for e in report.errors]
    assert report.header_row == 2 and report.rows == 4
    assert chief_names(place.fuzhou_w) == ["张三"] and chief_names(place.hubei) == ["王五"]
    assert Person.objects.get(name="王五").is_party_member is False  # 备注 is ignored
    general = ChiefAssignment.objects.get(role=Role.GENERAL_LANE_CHIEF)
    assert (general.person.name, general.area, general.valid_from) == ("周全", place.so, date(2025, 1, 1))
    card = placard_for_lane(place.fuzhou_w, on=DAY)
    assert card["general_lane_chiefs"] == [{"name": "周全", "title": "副区长", "public_phone": "12345"}]
    assert "13600136000" not in str(card) and "13800138000" not in str(card)


def test_xlsx_happy_path(place, tmp_path):
    rows = [list(r) for r in GOOD]
    rows[0][6] = 13800138000  # a number cell
    rows[0][8] = datetime(2025, 3, 1)  # a date cell
    rows[1][8] = 45717  # an Excel serial number: 2025-03-01
    rows.insert(1, [None] * len(HEADER))  # a blank row keeps Excel's numbering
    path = write_xlsx(tmp_path, rows, title="南京东路街道街巷长名单")
    report = import_roster(path, commit=True, on=DAY, sheet="名单")
    assert report.ok, [str(e) for e in report.errors]
    assert (report.format, report.sheet, report.header_row, report.rows) == ("xlsx", "名单", 2, 3)
    assert_good_import(place)


def test_xlsx_first_sheet_by_default_and_row_numbers_as_excel_shows_them(place, tmp_path):
    rows = [list(GOOD[0]), [None] * len(HEADER), ["9", "不存在路", "", "赵六"] + [""] * 9]
    path = write_xlsx(tmp_path, rows, title="名单", extra_sheet=False)
    report = import_roster(path, on=DAY)
    assert [(e.row, e.column, e.column_letter) for e in report.errors] == [(5, "街巷名称", "B")]


def test_unknown_sheet_and_old_excel_are_refused(place, tmp_path):
    path = write_xlsx(tmp_path, GOOD)
    report = import_roster(path, sheet="Sheet9", on=DAY)
    assert not report.ok and "Sheet9" in report.file_errors[0] and "名单" in report.file_errors[0]
    xls = tmp_path / "roster.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    report = import_roster(xls, on=DAY)
    assert ".xlsx" in report.file_errors[0] and report.summary().startswith("文件被拒绝")


def test_every_row_error_names_row_column_and_reason(place, tmp_path):
    rows = [
        ["1", "不存在路", "", "甲", "", "", "", "", "", "", "", "", ""],  # row 2
        ["2", "福州路", "", "乙", "", "", "", "", "", "", "", "", ""],  # row 3: ambiguous
        ["3", "湖北路", "", "", "", "", "", "", "", "", "", "", ""],  # row 4: no chief
        ["4", "湖北路", "", "丙", "", "", "1380013800", "", "", "", "", "", ""],  # row 5: phone
        ["5", "湖北路", "", "丁", "", "", "", "", "2025-02-30", "", "", "", ""],  # row 6: impossible date
        ["6", "湖北路", "", "戊", "", "", "", "", "下周一", "", "", "", ""],  # row 7: not a date
        ["7", "湖北路", "", "己", "", "", "", "", "", "组长", "", "", ""],  # row 8: role
        ["8", "湖北路", "北片社区", "庚", "", "", "", "", "", "", "", "", ""],  # row 9: community
        ["9", "福州路", "东片社区", "辛", "", "", "", "", "", "", "", "1.38E+10", ""],  # row 10: Excel ate it
        ["10", "湖北路", "东片社区", "壬", "", "", "", "", "", "", "", "", ""],  # row 11: not in that community
        ["11", "", "", "癸", "", "", "", "", "", "", "", "", ""],  # row 12: no lane
        ["12", "湖北路", "", "子", "", "", "13700137000", "", "", "", "", "", ""],  # row 13: fine
    ]
    report = import_roster(write_csv(tmp_path, rows), commit=True, on=DAY)
    found = {(e.row, e.column): e.reason for e in report.errors}
    assert set(found) == {
        (2, "街巷名称"),
        (3, "街巷名称"),
        (4, "街巷长"),
        (5, "联系电话"),
        (6, "任职日期"),
        (7, "任职日期"),
        (8, "角色"),
        (9, "所属社区"),
        (10, "环卫中队电话"),
        (11, "街巷名称"),
        (12, "街巷名称"),
    }
    assert "找不到街巷「不存在路」" in found[(2, "街巷名称")]
    ambiguous = found[(3, "街巷名称")]
    assert "西片社区" in ambiguous and "东片社区" in ambiguous and "所属社区" in ambiguous
    assert "姓名" in found[(4, "街巷长")]
    assert "11 位" in found[(5, "联系电话")]
    assert "不存在" in found[(6, "任职日期")] and "2025-02-30" in found[(6, "任职日期")]
    assert "下周一" in found[(7, "任职日期")]
    assert "组长" in found[(8, "角色")] and "总街巷长" in found[(8, "角色")]
    assert "北片社区" in found[(9, "所属社区")]
    assert "科学计数法" in found[(10, "环卫中队电话")]
    assert "东片社区" in found[(11, "街巷名称")] and "西片社区" in found[(11, "街巷名称")]
    assert "缺少街巷名称" in found[(12, "街巷名称")]
    assert report.error_rows == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert report.valid_rows == 1
    # all or nothing: the one good row was not written either
    assert not report.committed and Person.objects.count() == 0 and ChiefAssignment.objects.count() == 0
    assert "未写入" in report.summary()
    assert str(report.errors[0]).startswith("第 2 行 B列「街巷名称」")


def test_ambiguity_hint_when_the_file_has_no_community_column(place, tmp_path):
    header = ["街巷名称", "街巷长"]
    report = import_roster(write_csv(tmp_path, [["福州路", "张三"]], header=header), on=DAY)
    (error,) = report.errors
    assert error.row == 2 and "增加「所属社区」列" in error.reason


def test_same_name_twice_in_one_community_asks_for_the_lane_id(place, tmp_path):
    from lanes.models import Lane

    twin = Lane.objects.create(name="湖北路", geom=place.hubei.geom, source_key="test:湖北路:twin")
    header = ["街巷名称", "所属社区", "街巷长"]
    report = import_roster(write_csv(tmp_path, [["湖北路", "西片社区", "张三"]], header=header), on=DAY)
    (error,) = report.errors
    assert "街巷编号" in error.reason and str(twin.pk) in error.reason
    header = ["街巷名称", "街巷编号", "街巷长"]
    report = import_roster(write_csv(tmp_path, [["湖北路", "test:湖北路:twin", "张三"]], header=header), commit=True)
    assert report.ok and chief_names(twin, report_day()) == ["张三"]
    report = import_roster(write_csv(tmp_path, [["福州路", str(twin.pk), "李四"]], header=header), on=DAY)
    assert "不符" in report.errors[0].reason


def report_day():
    from django.utils import timezone

    return timezone.localdate()


@pytest.mark.parametrize(
    ("header", "says"),
    [
        (["街巷名称", "街巷长", "身份证号"], "身份证号"),  # unknown column: better refused than silently dropped
        (["街巷名称", "职务", "联系电话"], "缺少必填列「街巷长」"),
        (["街巷名称", "街巷长", "电话", "手机"], "只保留一列"),
        (["姓", "名"], "找不到表头"),
    ],
)
def test_header_problems_reject_the_file(place, tmp_path, header, says):
    report = import_roster(write_csv(tmp_path, [["湖北路"] + [""] * (len(header) - 1)], header=header), commit=True)
    assert not report.ok and any(says in e for e in report.file_errors), report.file_errors
    assert report.errors == [] and Person.objects.count() == 0


def test_english_aliases(place, tmp_path):
    header = ["Lane", "Community", "Chief", "Title", "Phone", "Public_Phone", "Valid_From", "Role", "sanitation_phone"]
    rows = [["湖北路", "310101002001", "Wang Wu", "clerk", "13700137000", "", "2025-03-01", "lane_chief", "12319"]]
    report = import_roster(write_csv(tmp_path, rows, header=header), commit=True, on=DAY)
    assert report.ok, report.errors
    assert chief_names(place.hubei) == ["Wang Wu"] and squad_phones(place.hubei)["sanitation"] == "12319"


def test_skip_invalid_writes_the_valid_rows(place, tmp_path):
    rows = [*GOOD, ["4", "不存在路", "", "赵六", "", "", "", "", "", "", "", "", ""]]
    report = import_roster(write_csv(tmp_path, rows), commit=True, skip_invalid=True, on=DAY)
    assert report.committed and report.valid_rows == 3 and report.error_rows == [5]
    assert_good_import(place)
    assert not Person.objects.filter(name="赵六").exists()


def test_dry_run_writes_nothing_but_reports_what_it_would_do(place, tmp_path):
    before = db_state()
    report = import_roster(write_csv(tmp_path, GOOD), on=DAY)
    assert report.ok and not report.committed
    assert report.counts["people_created"] == 3 and report.counts["assignments_created"] == 3
    assert db_state() == before
    assert "试运行" in report.summary()


def test_reimport_changes_nothing(place, tmp_path):
    path = write_csv(tmp_path, GOOD)
    import_roster(path, commit=True, on=DAY)
    after_first = db_state()
    for day in (DAY, date(2025, 6, 1)):  # even on a later day
        report = import_roster(path, commit=True, on=day)
        assert report.ok and not report.changed(), report.counts
        assert report.counts["assignments_unchanged"] == 3
        assert db_state() == after_first
    # the default appointment date (no 任职日期) is the import day, and stays idempotent too
    rows = [r[:8] + [""] + r[9:] for r in GOOD]
    report = import_roster(write_csv(tmp_path, rows, name="no_dates.csv"), commit=True, on=DAY)
    assert report.ok and report.counts["assignments_created"] == 0  # already serving since 2025-03-01


def test_default_valid_from_is_the_import_day(place, tmp_path):
    header = ["街巷名称", "街巷长"]
    path = write_csv(tmp_path, [["湖北路", "王五"]], header=header)
    import_roster(path, commit=True, on=DAY)
    assert ChiefAssignment.objects.get().valid_from == DAY
    report = import_roster(path, commit=True, on=date(2025, 12, 1))
    assert report.counts["assignments_created"] == 0 and ChiefAssignment.objects.count() == 1


def test_person_identity_is_name_department_and_phone(place, tmp_path):
    dept = services.department_create(name="区建设管理委员会")
    services.person_create(name="张三", department=dept)  # no phone on record yet
    services.person_create(name="张三", private_phone="13511112222")  # no department: someone else
    header = ["街巷名称", "所属社区", "街巷长", "所属部门", "联系电话"]
    rows = [
        ["湖北路", "", "张三", "区建设管理委员会", "13800138000"],  # the department's 张三, gets the phone
        ["福州路", "西片社区", "张三", "区建设管理委员会", "13800138000"],  # the same person again
        ["福州路", "东片社区", "张三", "区建设管理委员会", "13999999999"],  # a namesake: new person, warned
    ]
    report = import_roster(write_csv(tmp_path, rows, header=header), commit=True, on=DAY)
    assert report.ok, report.errors
    assert report.counts["people_created"] == 1 and report.counts["people_updated"] == 1
    assert Person.objects.filter(name="张三").count() == 3
    assert chiefs_of_lane(place.hubei, on=DAY).get().person == chiefs_of_lane(place.fuzhou_w, on=DAY).get().person
    assert chiefs_of_lane(place.hubei, on=DAY).get().person.private_phone == "13800138000"
    assert [w.row for w in report.warnings] == [4] and "同名" in report.warnings[0].reason


def test_same_name_same_department_without_phone_is_ambiguous(place, tmp_path):
    services.person_create(name="张三", private_phone="13511112222")
    services.person_create(name="张三", private_phone="13511113333")
    report = import_roster(write_csv(tmp_path, [["湖北路", "张三"]], header=["街巷名称", "街巷长"]), on=DAY)
    (error,) = report.errors
    assert error.column == "街巷长" and "联系电话" in error.reason


def test_squad_phone_rules(place, kinds, tmp_path):
    area_squad = services.squad_create(
        name="南京东路市容中队", kind="street_order", duty_phone="021-63001000", service_areas=[place.so]
    )
    lane_squad = services.squad_create(
        name="湖北路保洁", kind="sanitation", duty_phone="021-1111111", lanes=[place.hubei]
    )
    header = ["街巷名称", "所属社区", "街巷长", "市容中队电话", "环卫中队电话", "市政中队", "市政中队电话"]
    rows = [
        # the area squad already has this phone: nothing to do
        ["湖北路", "", "王五", "021-63001000", "021-63002000", "", ""],
        # a different phone than the serving area squad: a squad for this lane, the area squad untouched
        ["福州路", "东片社区", "李四", "021-63009999", "", "", ""],
        # a named squad is created and serves the lane
        ["福州路", "西片社区", "张三", "", "", "西片市政班", "021-63003000"],
    ]
    report = import_roster(write_csv(tmp_path, rows, header=header), commit=True, on=DAY)
    assert report.ok, report.errors
    area_squad.refresh_from_db()
    lane_squad.refresh_from_db()
    assert area_squad.duty_phone == "021-63001000"
    assert squads_for_lane(place.hubei)["street_order"] == area_squad
    assert lane_squad.duty_phone == "021-63002000"  # it serves 湖北路 alone: its phone is updated
    own = squads_for_lane(place.fuzhou_e)["street_order"]
    assert own != area_squad and own.duty_phone == "021-63009999" and list(own.lanes.all()) == [place.fuzhou_e]
    assert squads_for_lane(place.fuzhou_w)["street_order"] == area_squad
    named = squads_for_lane(place.fuzhou_w)["municipal"]
    assert (named.name, named.duty_phone) == ("西片市政班", "021-63003000")
    before = db_state()
    again = import_roster(write_csv(tmp_path, rows, header=header), commit=True, on=DAY)
    assert again.ok and not again.changed() and db_state() == before


def test_conflicting_phones_for_one_named_squad(place, tmp_path):
    header = ["街巷名称", "所属社区", "街巷长", "环卫中队", "环卫中队电话"]
    rows = [
        ["湖北路", "", "王五", "南京东路环卫中队", "021-63002000"],
        ["福州路", "西片社区", "张三", "南京东路环卫中队", "021-63002001"],
    ]
    report = import_roster(write_csv(tmp_path, rows, header=header), commit=True, on=DAY)
    (error,) = report.errors
    assert (error.row, error.column) == (3, "环卫中队电话") and "第 2 行" in error.reason
    assert Squad.objects.count() == 0


def test_named_squad_of_another_kind(place, tmp_path):
    services.squad_create(name="南京东路环卫中队", kind="sanitation", duty_phone="")
    header = ["街巷名称", "街巷长", "市容中队"]
    report = import_roster(write_csv(tmp_path, [["湖北路", "王五", "南京东路环卫中队"]], header=header), on=DAY)
    (error,) = report.errors
    assert error.column == "市容中队" and "环卫" in error.reason


def test_overlapping_appointment_in_the_database_is_a_row_error(place, tmp_path):
    wang = services.person_create(name="王五")
    services.assign_lane_chief(person=wang, lane=place.hubei, valid_from=date(2025, 6, 1))
    header = ["街巷名称", "街巷长", "任职日期"]
    report = import_roster(write_csv(tmp_path, [["湖北路", "王五", "2025-03-01"]], header=header), commit=True, on=DAY)
    (error,) = report.errors
    assert (error.row, error.column) == (2, "任职日期") and "重叠" in error.reason
    assert ChiefAssignment.objects.count() == 1


def test_other_chiefs_of_a_lane_are_warned_about_not_ended(place, tmp_path):
    old = services.person_create(name="孙离")
    services.assign_lane_chief(person=old, lane=place.hubei, valid_from=date(2024, 1, 1))
    report = import_roster(
        write_csv(tmp_path, [["湖北路", "王五"]], header=["街巷名称", "街巷长"]), commit=True, on=DAY
    )
    assert report.ok and [w.row for w in report.warnings] == [2] and "孙离" in report.warnings[0].reason
    assert set(chief_names(place.hubei, DAY)) == {"孙离", "王五"}


def test_area_leader_and_party_member_columns(place, tmp_path):
    header = ["街巷名称", "所属社区", "所属街道", "街巷长", "角色", "政治面貌", "是否志愿者"]
    rows = [
        ["", "西片社区", "", "陈片长", "片长", "中共党员", "否"],
        ["", "", "南京东路街道", "周全", "总街巷长", "群众", "是"],
        ["", "", "", "无处", "总街巷长", "", ""],
        ["", "", "", "吴某", "街巷长", "也许", ""],
    ]
    report = import_roster(write_csv(tmp_path, rows, header=header), commit=True, skip_invalid=True, on=DAY)
    assert {(e.row, e.column) for e in report.errors} == {(4, "角色"), (5, "街巷名称"), (5, "政治面貌")}
    leader = ChiefAssignment.objects.get(role=Role.AREA_LEADER)
    assert leader.area == place.west and leader.person.is_party_member and not leader.person.is_volunteer
    general = ChiefAssignment.objects.get(role=Role.GENERAL_LANE_CHIEF)
    assert general.area == place.so and general.person.is_volunteer and not general.person.is_party_member


def test_too_large_files_are_refused(place, tmp_path, settings):
    settings.IMPORT_MAX_BYTES = 100
    report = import_roster(write_csv(tmp_path, GOOD), commit=True, on=DAY)
    assert not report.ok and "太大" in report.file_errors[0] and Person.objects.count() == 0


def test_unreadable_encoding_is_refused(place, tmp_path):
    path = tmp_path / "broken.csv"
    path.write_bytes("街巷名称,街巷长\n".encode() + b"\xff\xfe\xfd\x81\x30\n")
    report = import_roster(path, on=DAY)
    assert report.file_errors and "编码" in report.file_errors[0]


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2025-03-01", date(2025, 3, 1)),
        ("2025/3/1", date(2025, 3, 1)),
        ("2025.3.1", date(2025, 3, 1)),
        ("2025年3月1日", date(2025, 3, 1)),
        ("20250301", date(2025, 3, 1)),
        ("2025-03-01 00:00:00", date(2025, 3, 1)),
        ("45717", date(2025, 3, 1)),
        (datetime(2025, 3, 1, 8, 30), date(2025, 3, 1)),
        ("", None),
        (None, None),
    ],
)
def test_parse_date(text, day):
    assert parse_date(text) == day


@pytest.mark.parametrize("text", ["2025-13-01", "2025-02-29", "3/1/2025", "1900-01-01", "明天"])
def test_parse_date_refuses(text):
    with pytest.raises(ValueError):
        parse_date(text)


def test_management_command(place, tmp_path, capsys):
    path = write_csv(tmp_path, GOOD)
    call_command("import_roster", str(path), "--date", "2025-03-10")
    out = capsys.readouterr().out
    assert "试运行" in out and Person.objects.count() == 0
    call_command("import_roster", str(path), "--commit", "--date", "2025-03-10")
    assert "已写入" in capsys.readouterr().out
    assert_good_import(place)

    bad = write_csv(tmp_path, [["1", "不存在路", "", "赵六"] + [""] * 9], name="bad.csv")
    with pytest.raises(CommandError, match="--skip-invalid"):
        call_command("import_roster", str(bad), "--commit")
    assert "第 2 行 B列「街巷名称」" in capsys.readouterr().out
    call_command("import_roster", str(bad), "--commit", "--skip-invalid")  # reported, not fatal
    with pytest.raises(CommandError, match="缺少必填列"):
        call_command("import_roster", str(write_csv(tmp_path, [], header=["街巷名称", "职务"], name="h.csv")))
    xlsx = write_xlsx(tmp_path, GOOD)
    call_command("import_roster", str(xlsx), "--sheet", "名单")
    assert "工作表「名单」" in capsys.readouterr().out


def test_the_template_in_docs_is_accepted(place, kinds):
    from django.conf import settings

    template = Path(settings.BASE_DIR) / "docs" / "roster-template.csv"
    report = import_roster(template, on=DAY)
    assert report.file_errors == []  # every header is known
    assert report.rows == 1 and report.encoding == "UTF-8 (BOM)"
    assert {e.column for e in report.errors} == {"所属社区"}  # the example row names an example community


def test_a_row_without_department_matches_by_name_and_phone(place, tmp_path):
    dept = services.department_create(name="区城管局")
    known = services.person_create(name="张三", department=dept, private_phone="13800138000")
    header = ["街巷名称", "街巷长", "联系电话"]
    rows = [["湖北路", "张三", "13800138000"], ["湖北路", "张三", "13811112222"]]  # row 3: someone else
    report = import_roster(write_csv(tmp_path, rows, header=header), commit=True, on=DAY)
    assert report.ok, report.errors
    assert {a.person for a in chiefs_of_lane(place.hubei, on=DAY)} == {
        known,
        Person.objects.get(private_phone="13811112222"),
    }
    assert Person.objects.get(private_phone="13811112222").department is None
    assert report.counts["people_created"] == 1
