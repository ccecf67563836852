"""Import a lane-chief roster (街巷长名单) from the spreadsheet a street office keeps: CSV (UTF-8 with or without
BOM, GBK/GB18030 as Excel saves it on a Chinese Windows, UTF-16 "Unicode text") or XLSX (the first sheet, or a
named one). See docs/roster-template.csv for the columns.

One row = one person appointed to one post, usually a lane chief (街巷长) of one lane:

- Columns are recognised by their Chinese header or an English alias (STATIC_COLUMNS, roster_columns); 序号
  and 备注 are accepted and ignored. The header row may sit under a title row (searched in the first 10 rows). An unknown
  header or a missing required one (街巷名称, 街巷长) rejects the whole file.
- The lane is found by name; where several lanes share the name (a street split at community borders),
  所属社区 (community name or 12-digit code; "…社区居民委员会" and "…社区" are the same), 所属街道, or
  街巷编号 (the lane's id or source key) tells them apart.
- Role (角色): 街巷长 (default) → the lane; 总街巷长 → the street office (所属街道, else the street office of the
  community or of the lane); 片长 → the community (所属社区, else 所属街道, else the lane's community).
- Person identity: same name + same department (+ same private phone when both are known) is the same person;
  a row without a department matches the one person of that name with that private phone, whatever their
  department. A matching person with no phone on record gets the file's phone; a namesake in the same department with a
  different phone becomes a new person (reported as a warning). Non-empty 职务/公开电话/党员/志愿者 cells
  update the person.
- Appointment: open-ended from 任职日期 (default: the import day). If the person already holds that post on that
  day nothing changes, so re-importing a file — even on a later day — changes nothing. Other chiefs of the
  lane are not ended (a lane may have several); they are listed as warnings.
- Squad phones (市容中队电话, 环卫中队电话, 市政中队电话; one pair of columns per SquadKind, so a city's own
  kinds work too). With a squad name (市容中队 …): that squad (created if new) serves the lane and has the phone.
  With a phone only, in this order:
    1. the squad of that kind serving the lane (people.selectors.squads_for_lane) has this phone: nothing to do;
    2. that squad serves this lane alone: its duty phone is updated;
    3. a squad of that kind with this phone in the lane's street office exists: it now serves the lane too;
    4. otherwise a squad "<街道><类型>中队" (or "…（<phone>）" if the name is taken) is created for the lane.
  In 3 and 4 the lane is listed on that squad explicitly, so it takes precedence over area squads for this lane,
  and the lane is taken off other squads of that kind that listed it. A shared squad's phone is only changed
  through a named squad column. So one 市容 phone on every row of a street office gives one 市容 squad serving
  those lanes, and re-importing the file changes nothing.

Dry run by default: everything is done inside one transaction and rolled back, so the report shows exactly what a
commit would do. Any wrong row rejects the whole file (nothing written) unless skip_invalid=True, which writes the
valid rows and reports the others. Row numbers are the ones Excel shows.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl.utils import get_column_letter

from grid.models import Area, Level
from lanes.models import Lane
from people import services
from people.models import ChiefAssignment, Person, Role, Squad, SquadKind
from people.selectors import squads_for_lane

HEADER_SCAN_ROWS = 10
PROGRESS_EVERY = 200
MAX_LISTED = 5

ROLE_VALUES = {
    "街巷长": Role.LANE_CHIEF,
    "lane_chief": Role.LANE_CHIEF,
    "总街巷长": Role.GENERAL_LANE_CHIEF,
    "general_lane_chief": Role.GENERAL_LANE_CHIEF,
    "片长": Role.AREA_LEADER,
    "area_leader": Role.AREA_LEADER,
}
YES = {"是", "y", "yes", "true", "1", "√", "✓", "✔", "党员", "中共党员", "中共预备党员"}
NO = {"否", "n", "no", "false", "0", "×", "✗", "不是"}


@dataclass(frozen=True)
class Column:
    field: str
    label: str  # the canonical (Chinese) header, as in docs/roster-template.csv
    aliases: tuple[str, ...] = ()
    required: bool = False


STATIC_COLUMNS = (
    Column("seq", "序号", ("no", "#", "序")),
    Column("lane", "街巷名称", ("街巷", "街巷名", "路段", "路段名称", "lane", "lane_name", "street"), required=True),
    Column("lane_ref", "街巷编号", ("lane_id", "lane_key", "source_key")),
    Column("community", "所属社区", ("社区", "社区名称", "community")),
    Column("street_office", "所属街道", ("街道", "街道名称", "street_office", "subdistrict")),
    Column("chief", "街巷长", ("街巷长姓名", "姓名", "chief", "name"), required=True),
    Column("title", "职务", ("title", "position")),
    Column("department", "所属部门", ("部门", "单位", "工作单位", "department")),
    Column("private_phone", "联系电话", ("手机", "手机号", "手机号码", "电话", "phone", "mobile", "private_phone")),
    Column("public_phone", "公开电话", ("对外电话", "公开联系电话", "public_phone")),
    Column("valid_from", "任职日期", ("任职时间", "任职起", "任职起始日期", "valid_from", "start_date", "from")),
    Column("role", "角色", ("role",)),
    Column("duties", "职责", ("duties",)),
    Column("is_party_member", "是否党员", ("党员", "政治面貌", "party_member", "is_party_member")),
    Column("is_volunteer", "是否志愿者", ("志愿者", "volunteer", "is_volunteer")),
    Column("remark", "备注", ("remark", "remarks", "note", "notes")),
)
IGNORED_FIELDS = {"seq", "remark"}


def roster_columns(kinds: list[SquadKind] | None = None) -> list[Column]:
    """All columns a roster may have: the static ones plus, per squad kind, "<名称>中队电话" and "<名称>中队"."""
    kinds = list(SquadKind.objects.order_by("order", "code")) if kinds is None else kinds
    columns = list(STATIC_COLUMNS)
    for kind in kinds:
        columns.append(
            Column(f"squad_phone:{kind.code}", f"{kind.name}中队电话", (f"{kind.name}电话", f"{kind.code}_phone"))
        )
        columns.append(
            Column(f"squad_name:{kind.code}", f"{kind.name}中队", (f"{kind.name}中队名称", f"{kind.code}_squad"))
        )
    return columns


# ---------------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """A problem in one row: `row` as Excel numbers it, `column` the header as written in the file ("" when it
    concerns the whole row), `reason` in Chinese, saying what to do."""

    row: int
    column: str
    reason: str
    column_letter: str = ""

    def __str__(self) -> str:
        where = _("第 %(row)d 行") % {"row": self.row}
        if self.column:
            letter = f" {self.column_letter}" + _("列") if self.column_letter else ""
            where += f"{letter}「{self.column}」"
        return f"{where}：{self.reason}"


COUNT_LABELS = {
    "people_created": gettext_lazy("新增人员"),
    "people_updated": gettext_lazy("更新人员"),
    "departments_created": gettext_lazy("新增部门"),
    "assignments_created": gettext_lazy("新增任职"),
    "assignments_unchanged": gettext_lazy("任职已存在"),
    "squads_created": gettext_lazy("新增中队"),
    "squads_updated": gettext_lazy("更新中队电话"),
    "squad_lanes_added": gettext_lazy("中队新增负责街巷"),
    "squads_unchanged": gettext_lazy("中队电话已一致"),
}


@dataclass
class RosterReport:
    path: str
    format: str = ""
    encoding: str = ""
    sheet: str = ""
    header_row: int | None = None
    rows: int = 0  # non-blank data rows
    valid_rows: int = 0  # rows without any error (written if committed)
    file_errors: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    commit_requested: bool = False
    skip_invalid: bool = False
    committed: bool = False

    @property
    def ok(self) -> bool:
        return not self.file_errors and not self.errors

    @property
    def error_rows(self) -> list[int]:
        return sorted({e.row for e in self.errors})

    def changed(self) -> bool:
        keys = ("people_created", "people_updated", "departments_created", "assignments_created")
        keys += ("squads_created", "squads_updated", "squad_lanes_added")
        return any(self.counts[k] for k in keys)

    def summary(self) -> str:
        if self.file_errors:
            return "\n".join([_("文件被拒绝，未写入任何数据："), *("  " + e for e in self.file_errors)])
        source = self.format.upper()
        if self.encoding:
            source += _("，编码 %(enc)s") % {"enc": self.encoding}
        if self.sheet:
            source += _("，工作表「%(sheet)s」") % {"sheet": self.sheet}
        lines = [
            _("%(path)s（%(source)s）：表头在第 %(header)d 行，数据 %(rows)d 行，正确 %(valid)d 行，有错 %(bad)d 行")
            % {
                "path": Path(self.path).name,
                "source": source,
                "header": self.header_row or 0,
                "rows": self.rows,
                "valid": self.valid_rows,
                "bad": len(self.error_rows),
            }
        ]
        counts = "，".join(f"{label} {self.counts[key]}" for key, label in COUNT_LABELS.items() if self.counts[key])
        lines.append(counts or _("没有需要变更的内容"))
        if self.committed:
            lines.append(_("已写入数据库。") + (_("有错的行已跳过，见上。") if self.errors else ""))
        elif self.errors and not self.skip_invalid:
            lines.append(
                _(
                    "有错误，未写入任何数据：请改正后重新导入，或加 --skip-invalid 只导入正确的行（以上计数为正确的行若写入时的变更）"
                )
            )
        else:
            lines.append(_("试运行：未写入任何数据；确认无误后加 --commit 写入"))
        return "\n".join(lines)


class _FileRejected(Exception):
    def __init__(self, *messages: str):
        super().__init__(*messages)
        self.messages = list(messages)


class _RowFailure(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field = field
        self.reason = reason


# ---------------------------------------------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------------------------------------------


def _read_csv(raw: bytes) -> tuple[list[tuple[int, list]], str]:
    if raw.startswith(codecs.BOM_UTF8):
        text, encoding = raw[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict"), "UTF-8 (BOM)"
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text, encoding = raw.decode("utf-16"), "UTF-16"
    else:
        try:
            text, encoding = raw.decode("utf-8"), "UTF-8"
        except UnicodeDecodeError:
            try:
                text, encoding = raw.decode("gb18030"), "GB18030/GBK"
            except UnicodeDecodeError:
                raise _FileRejected(
                    _(
                        "无法识别文件编码（不是 UTF-8，也不是 GBK/GB18030）；请在 Excel 中另存为“CSV UTF-8”或 .xlsx 后再导入"
                    )
                ) from None
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(("\t", ",", ";"), key=first.count) if first else ","
    if first.count(delimiter) == 0:
        delimiter = ","
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise _FileRejected(_("CSV 格式错误：%(error)s") % {"error": exc}) from None
    return list(enumerate(records, start=1)), encoding


# An .xlsx is a zip: a small file can inflate to gigabytes (a zip bomb). Refused before openpyxl reads it when the
# parts would inflate beyond IMPORT_MAX_BYTES, or by more than this ratio once past a few megabytes (real rosters
# compress about 5-10 times).
XLSX_MAX_RATIO = 100


def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise _FileRejected(
            _("无法打开 Excel 文件（%(error)s）；请确认是 .xlsx 文件，或另存为 CSV 后再导入") % {"error": exc}
        ) from None
    inflated = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos) or 1
    if inflated > settings.IMPORT_MAX_BYTES or (inflated > 8 * 1024 * 1024 and inflated / packed > XLSX_MAX_RATIO):
        raise _FileRejected(
            _("Excel 文件解压后有 %(mb).0f MB（压缩比 %(ratio).0f:1），不像花名册，疑为压缩炸弹；请另存为 CSV 后再导入")
            % {"mb": inflated / 1048576, "ratio": inflated / packed}
        )


def _read_xlsx(path: Path, sheet: str | None) -> tuple[list[tuple[int, list]], str]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    _check_zip(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
        raise _FileRejected(
            _("无法打开 Excel 文件（%(error)s）；请确认是 .xlsx 文件，或另存为 CSV 后再导入") % {"error": exc}
        ) from None
    try:
        if sheet:
            if sheet not in workbook.sheetnames:
                raise _FileRejected(
                    _("没有名为「%(sheet)s」的工作表；文件中的工作表：%(names)s")
                    % {"sheet": sheet, "names": "、".join(workbook.sheetnames)}
                )
            worksheet = workbook[sheet]
        else:
            worksheet = workbook.worksheets[0]
        worksheet.reset_dimensions()  # some writers record wrong dimensions; read what is really there
        rows = []
        for cells in worksheet.iter_rows():
            values = [cell.value for cell in cells]
            number = next((cell.row for cell in cells if getattr(cell, "row", None)), None)
            if number is None:
                continue  # an entirely empty row: nothing to read
            rows.append((number, values))
        return rows, worksheet.title
    finally:
        workbook.close()


def _read(path: Path, sheet: str | None, report: RosterReport) -> list[tuple[int, list]]:
    with path.open("rb") as fh:
        head = fh.read(8)
    suffix = path.suffix.lower()
    if head.startswith(b"\xd0\xcf\x11\xe0") or suffix == ".xls":
        raise _FileRejected(_("这是旧版 Excel（.xls）文件：请在 Excel 中“另存为” .xlsx 或“CSV UTF-8”后再导入"))
    if head.startswith(b"PK") or suffix in (".xlsx", ".xlsm"):
        report.format = "xlsx"
        rows, report.sheet = _read_xlsx(path, sheet)
        return rows
    if sheet:
        raise _FileRejected(_("--sheet 只适用于 Excel（.xlsx）文件"))
    report.format = "csv"
    rows, report.encoding = _read_csv(path.read_bytes())
    return rows


# ---------------------------------------------------------------------------------------------------------------
# Cell values
# ---------------------------------------------------------------------------------------------------------------


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    return unicodedata.normalize("NFKC", str(value)).strip()


def _norm_header(value) -> str:
    text = _text(value).lower()
    text = re.sub(r"\s+", "", text).strip("*＊")
    text = re.sub(r"\((必填|选填|可选|optional|required)\)$", "", text)
    return text.replace("-", "_")


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_EXCEL_EPOCH = date(1899, 12, 30)


def parse_date(value) -> date | None:
    """A date as spreadsheets hold it: an Excel date cell, 2024-03-01, 2024/3/1, 2024.3.1, 2024年3月1日,
    20240301, or an Excel serial number (45352). None for an empty cell; ValueError (message in Chinese) else."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if not text:
        return None
    text = re.sub(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$", "", text)  # "2024-03-01 00:00:00"
    if re.fullmatch(r"\d{5}", text):
        day = _EXCEL_EPOCH + timedelta(days=int(text))
    else:
        for pattern in _DATE_PATTERNS:
            match = pattern.match(text)
            if match:
                year, month, day_ = (int(g) for g in match.groups())
                try:
                    day = date(year, month, day_)
                except ValueError:
                    raise ValueError(_("日期不存在：「%(value)s」") % {"value": text}) from None
                break
        else:
            raise ValueError(_("无法识别的日期「%(value)s」，请写成 2024-03-01 这样的格式") % {"value": text})
    if not 1949 <= day.year <= 2100:
        raise ValueError(_("日期「%(value)s」不合理（年份 %(year)d）") % {"value": text, "year": day.year})
    return day


def _yes_no(value) -> bool | None:
    text = _text(value).lower()
    if not text:
        return None
    if text in NO or text.startswith(("非", "不")) or text in {"群众", "共青团员", "团员", "无党派人士"}:
        return False
    if text in YES or "党员" in text:
        return True
    raise ValueError(_("无法识别「%(value)s」，请填“是”或“否”") % {"value": text})


def _core_area_name(name: str) -> str:
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", name or ""))
    for suffix in ("社区居民委员会", "居民委员会", "居委会", "社区", "街道办事处", "街道办", "街道"):
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


_GEOMS = ("geom", "community__geom", "community__parent__geom")  # not needed here, and large


def _lane_key(name: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name or ""))


# ---------------------------------------------------------------------------------------------------------------
# The importer
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class _Row:
    number: int
    values: dict  # field -> raw cell value
    lane: Lane | None = None
    community: Area | None = None
    street_office: Area | None = None
    target_area: Area | None = None
    chief: str = ""
    title: str = ""
    department: str = ""
    private_phone: str = ""
    public_phone: str = ""
    valid_from: date | None = None
    role: str = Role.LANE_CHIEF
    duties: str = ""
    is_party_member: bool | None = None
    is_volunteer: bool | None = None
    squads: dict = field(default_factory=dict)  # kind code -> (phone, name)
    errors: list = field(default_factory=list)  # (field, reason)


class RosterImporter:
    def __init__(self, path, *, commit: bool, skip_invalid: bool, on: date | None, sheet: str | None, progress):
        self.path = Path(path)
        self.commit = commit
        self.skip_invalid = skip_invalid
        self.on = on or timezone.localdate()
        self.sheet = sheet
        self.progress = progress or (lambda message: None)
        self.report = RosterReport(path=str(path), commit_requested=commit, skip_invalid=skip_invalid)
        self.kinds = list(SquadKind.objects.order_by("order", "code"))
        self.headers: dict[str, tuple[int, str]] = {}  # field -> (column index, header as written)
        self._squad_phone_by_row: dict[int, tuple[str, int]] = {}  # squad id -> (phone, row) set in this import
        self._lane_people: dict[int, set[int]] = defaultdict(set)
        self._lane_first_row: dict[int, int] = {}

    # -- errors ----------------------------------------------------------------------------------------------

    def _column(self, field_name: str) -> tuple[str, str]:
        if field_name in self.headers:
            index, header = self.headers[field_name]
            return header, get_column_letter(index + 1)
        return "", ""

    def _row_error(self, row: int, field_name: str, reason: str) -> RowError:
        header, letter = self._column(field_name)
        return RowError(row=row, column=header, reason=reason, column_letter=letter)

    # -- header ----------------------------------------------------------------------------------------------

    def _find_header(self, rows: list[tuple[int, list]]) -> int:
        columns = roster_columns(self.kinds)
        by_alias = {}
        for column in columns:
            for alias in (column.label, *column.aliases):
                by_alias.setdefault(_norm_header(alias), column)

        def looks_like_header(values: list) -> bool:
            fields = {by_alias[h].field for h in map(_norm_header, values) if h in by_alias}
            return len(fields) >= 2 or bool(fields & {"lane", "chief"})

        non_blank = [i for i, (_n, values) in enumerate(rows) if any(_text(v) for v in values)]
        position = next((i for i in non_blank[:HEADER_SCAN_ROWS] if looks_like_header(rows[i][1])), None)
        if position is None:
            raise _FileRejected(
                _(
                    "找不到表头：前 %(n)d 行里没有「街巷名称」「街巷长」等列名；请把列名放在表格第一行（参考 docs/roster-template.csv）"
                )
                % {"n": HEADER_SCAN_ROWS}
            )
        number, values = rows[position]
        problems = []
        for index, value in enumerate(values):
            header = _text(value)
            if not header:
                continue
            column = by_alias.get(_norm_header(value))
            if column is None:
                problems.append(
                    _("无法识别的列「%(header)s」（第 %(row)d 行 %(letter)s 列）")
                    % {"header": header, "row": number, "letter": get_column_letter(index + 1)}
                )
                continue
            if column.field in self.headers:
                problems.append(
                    _("列「%(a)s」和「%(b)s」是同一项（%(label)s），请只保留一列")
                    % {"a": self.headers[column.field][1], "b": header, "label": column.label}
                )
                continue
            self.headers[column.field] = (index, header)
        for column in columns:
            if column.required and column.field not in self.headers:
                problems.append(
                    _("缺少必填列「%(label)s」（也可写作：%(aliases)s）")
                    % {"label": column.label, "aliases": "、".join(column.aliases[:4])}
                )
        if problems:
            accepted = "、".join(c.label for c in columns)
            raise _FileRejected(*problems, _("可用的列名：%(names)s") % {"names": accepted})
        return position

    # -- parsing rows ----------------------------------------------------------------------------------------

    def _parse(self, number: int, values: list) -> _Row | None:
        cells = {f: (values[i] if i < len(values) else None) for f, (i, _h) in self.headers.items()}
        if not any(_text(v) for f, v in cells.items() if f not in IGNORED_FIELDS):
            return None  # a blank row (perhaps only a 序号): skipped
        row = _Row(number=number, values=cells)
        err = row.errors.append

        row.chief = services.clean_name(_text(cells.get("chief")))
        if not row.chief:
            err(("chief", _("缺少街巷长姓名")))
        elif len(row.chief) > Person._meta.get_field("name").max_length:
            err(("chief", _("姓名太长（最多 %(n)d 个字）") % {"n": Person._meta.get_field("name").max_length}))
        row.title = _text(cells.get("title"))
        row.department = services.clean_name(_text(cells.get("department")))
        row.duties = _text(cells.get("duties"))
        for name in ("private_phone", "public_phone"):
            try:
                setattr(row, name, services.normalize_phone(cells.get(name)))
            except ValidationError as exc:
                err((name, " ".join(exc.messages)))
        try:
            row.valid_from = parse_date(cells.get("valid_from")) or self.on
        except ValueError as exc:
            err(("valid_from", str(exc)))
        role_text = _text(cells.get("role"))
        if role_text:
            role = ROLE_VALUES.get(role_text) or ROLE_VALUES.get(role_text.lower())
            if role is None:
                err(("role", _("未知角色「%(value)s」，可填：街巷长、总街巷长、片长") % {"value": role_text}))
            else:
                row.role = role
        for name in ("is_party_member", "is_volunteer"):
            try:
                setattr(row, name, _yes_no(cells.get(name)))
            except ValueError as exc:
                err((name, str(exc)))
        for kind in self.kinds:
            phone_field, name_field = f"squad_phone:{kind.code}", f"squad_name:{kind.code}"
            try:
                phone = services.normalize_phone(cells.get(phone_field))
            except ValidationError as exc:
                err((phone_field, " ".join(exc.messages)))
                phone = ""
            name = _text(cells.get(name_field))
            if phone or name:
                row.squads[kind.code] = (phone, name)
        return row

    # -- resolving places ------------------------------------------------------------------------------------

    def _load_places(self, rows: list[_Row]) -> None:
        names = {_text(r.values.get("lane")) for r in rows} - {""}
        keys = {_lane_key(n) for n in names}
        lanes = Lane.objects.filter(Q(name__in=names | keys) | Q(name_zh__in=names | keys)).select_related(
            "community__parent"
        )
        self.lanes_by_key: dict[str, list[Lane]] = defaultdict(list)
        for lane in lanes.defer(*_GEOMS).order_by("pk"):
            for key in {_lane_key(lane.name), _lane_key(lane.name_zh)} - {""}:
                self.lanes_by_key[key].append(lane)
        self.areas_by_key: dict[tuple[str, str], list[Area]] = defaultdict(list)
        if "community" in self.headers or "street_office" in self.headers:
            for area in Area.objects.filter(level__in=[Level.COMMUNITY, Level.STREET_OFFICE]).only(
                "id", "level", "code", "name", "parent_id"
            ):
                self.areas_by_key[(area.level, area.code)].append(area)
                core = _core_area_name(area.name)
                if core != area.code:
                    self.areas_by_key[(area.level, core)].append(area)

    def _area(self, row: _Row, field_name: str, level: str, parent: Area | None = None) -> Area | None:
        text = _text(row.values.get(field_name))
        if not text:
            return None
        found = self.areas_by_key.get((level, text)) or self.areas_by_key.get((level, _core_area_name(text))) or []
        if parent is not None and len(found) > 1:
            found = [a for a in found if a.parent_id == parent.pk] or found
        label = Level(level).label
        if not found:
            row.errors.append(
                (
                    field_name,
                    _("找不到%(label)s「%(value)s」；请填写系统中的%(label)s名称或编码")
                    % {"label": label, "value": text},
                )
            )
            return None
        if len(found) > 1:
            row.errors.append(
                (
                    field_name,
                    _("%(label)s「%(value)s」有 %(n)d 个同名（编码 %(codes)s），请填写编码")
                    % {"label": label, "value": text, "n": len(found), "codes": "、".join(a.code for a in found)},
                )
            )
            return None
        return found[0]

    def _lane_where(self, lane: Lane) -> str:
        return lane.community.name if lane.community else _("不属于任何社区")

    def _resolve(self, row: _Row) -> None:
        row.street_office = self._area(row, "street_office", Level.STREET_OFFICE)
        row.community = self._area(row, "community", Level.COMMUNITY, parent=row.street_office)
        if row.community and row.street_office and row.community.parent_id != row.street_office.pk:
            row.errors.append(
                (
                    "community",
                    _("社区「%(c)s」不在街道「%(s)s」") % {"c": row.community.name, "s": row.street_office.name},
                )
            )
        lane_name = _text(row.values.get("lane"))
        lane_ref = _text(row.values.get("lane_ref"))
        if lane_ref:
            lane = (
                Lane.objects.filter(
                    Q(source_key=lane_ref) | Q(pk=int(lane_ref))
                    if lane_ref.isdigit() and len(lane_ref) < 19
                    else Q(source_key=lane_ref)
                )
                .select_related("community__parent")
                .defer(*_GEOMS)
                .first()
            )
            if lane is None:
                row.errors.append(("lane_ref", _("找不到编号为「%(ref)s」的街巷") % {"ref": lane_ref}))
            elif lane_name and _lane_key(lane_name) not in {_lane_key(lane.name), _lane_key(lane.name_zh)}:
                row.errors.append(
                    (
                        "lane_ref",
                        _("街巷编号「%(ref)s」是「%(name)s」，与街巷名称「%(given)s」不符")
                        % {"ref": lane_ref, "name": lane.name, "given": lane_name},
                    )
                )
            else:
                row.lane = lane
        elif lane_name:
            row.lane = self._lane_by_name(row, lane_name)
        elif row.role == Role.LANE_CHIEF:
            row.errors.append(("lane", _("缺少街巷名称")))
        elif row.squads:
            row.errors.append(("lane", _("填写了中队电话，但没有填写街巷名称")))

        if row.role == Role.GENERAL_LANE_CHIEF:
            row.target_area = row.street_office or (row.community.parent if row.community else None)
            if row.target_area is None and row.lane is not None and row.lane.community is not None:
                row.target_area = row.lane.community.parent
            if row.target_area is None and not row.errors:
                row.errors.append(("role", _("总街巷长需要所属街道：请填写「所属街道」，或填写街巷、社区以便推断")))
        elif row.role == Role.AREA_LEADER:
            row.target_area = row.community or row.street_office or (row.lane.community if row.lane else None)
            if row.target_area is None and not row.errors:
                row.errors.append(("role", _("片长需要负责的区域：请填写「所属社区」或「所属街道」")))

    def _lane_by_name(self, row: _Row, name: str) -> Lane | None:
        candidates = self.lanes_by_key.get(_lane_key(name), [])
        if not candidates:
            row.errors.append(
                ("lane", _("找不到街巷「%(name)s」；请核对名称是否与系统中的街巷一致，或先导入街巷") % {"name": name})
            )
            return None
        if any(f in ("community", "street_office") for f, _r in row.errors):
            return None  # the place that would tell same-name lanes apart is wrong: that error says what to fix
        if row.community is not None:
            inside = [lane for lane in candidates if lane.community_id == row.community.pk]
            if not inside:
                where = "、".join(sorted({self._lane_where(lane) for lane in candidates}))
                row.errors.append(
                    (
                        "lane",
                        _("社区「%(c)s」里没有街巷「%(name)s」（该名称的街巷在：%(where)s）")
                        % {"c": row.community.name, "name": name, "where": where},
                    )
                )
                return None
            candidates = inside
        elif row.street_office is not None:
            inside = [
                lane for lane in candidates if lane.community and lane.community.parent_id == row.street_office.pk
            ]
            if not inside:
                row.errors.append(
                    ("lane", _("街道「%(s)s」里没有街巷「%(name)s」") % {"s": row.street_office.name, "name": name})
                )
                return None
            candidates = inside
        if len(candidates) == 1:
            return candidates[0]
        places = sorted({self._lane_where(lane) for lane in candidates})
        if len(places) > 1:
            hint = (
                _("请在「%(col)s」列填写社区名称或编码以区分") % {"col": self._column("community")[0]}
                if "community" in self.headers
                else _("请增加「所属社区」列，填写社区名称或编码以区分")
            )
            reason = _("街巷「%(name)s」有 %(n)d 条同名，分别在：%(where)s；%(hint)s") % {
                "name": name,
                "n": len(candidates),
                "where": "、".join(places),
                "hint": hint,
            }
        else:
            reason = _("街巷「%(name)s」在%(where)s有 %(n)d 条同名；请增加「街巷编号」列，填写编号（%(ids)s）") % {
                "name": name,
                "where": places[0],
                "n": len(candidates),
                "ids": "、".join(str(lane.pk) for lane in candidates[:MAX_LISTED]),
            }
        row.errors.append(("lane", reason))
        return None

    # -- writing ---------------------------------------------------------------------------------------------

    def _person(self, row: _Row, counts: Counter) -> Person:
        department = None
        if row.department:
            department, created = services.department_get_or_create(name=row.department)
            counts["departments_created"] += created
        candidates = list(Person.objects.filter(name=row.chief, department=department).order_by("pk"))
        person = None
        if not row.department and row.private_phone:
            # No department in the file: the same name with the same private phone is the same person.
            by_phone = list(Person.objects.filter(name=row.chief, private_phone=row.private_phone)[:2])
            if len(by_phone) == 1:
                candidates = by_phone
        if row.private_phone:
            same = [p for p in candidates if p.private_phone == row.private_phone]
            blank = [p for p in candidates if not p.private_phone]
            if same:
                person = same[0]
            elif len(blank) == 1:
                person = blank[0]
            elif len(blank) > 1:
                raise _RowFailure(
                    "chief",
                    _("已有 %(n)d 位同部门、同名且没有电话的「%(name)s」，无法判断是哪一位；请先在后台合并或补上电话")
                    % {"n": len(blank), "name": row.chief},
                )
            elif candidates:
                self.report.warnings.append(
                    self._row_error(
                        row.number,
                        "private_phone",
                        _(
                            "同部门已有同名人员「%(name)s」但电话不同，已作为另一人新建；如是同一人换了号码，请在后台修改电话后再导入"
                        )
                        % {"name": row.chief},
                    )
                )
        elif len(candidates) == 1:
            person = candidates[0]
        elif len(candidates) > 1:
            raise _RowFailure(
                "chief",
                _("同部门有 %(n)d 位名为「%(name)s」的人员；请填写「联系电话」以区分")
                % {"n": len(candidates), "name": row.chief},
            )
        if person is None:
            counts["people_created"] += 1
            return services.person_create(
                name=row.chief,
                title=row.title,
                department=department,
                private_phone=row.private_phone,
                public_phone=row.public_phone,
                is_volunteer=bool(row.is_volunteer),
                is_party_member=bool(row.is_party_member),
            )
        changes = {}
        for name in ("title", "private_phone", "public_phone", "is_party_member", "is_volunteer"):
            value = getattr(row, name)
            if value not in ("", None) and getattr(person, name) != value:
                changes[name] = value
        if changes:
            services.person_update(person=person, **changes)
            counts["people_updated"] += 1
        return person

    def _assignment(self, row: _Row, person: Person, counts: Counter) -> None:
        lane = row.lane if row.role == Role.LANE_CHIEF else None
        area = row.target_area if row.role != Role.LANE_CHIEF else None
        held = (
            ChiefAssignment.objects.filter(person=person, role=row.role, lane=lane, area=area)
            .on(row.valid_from)
            .exists()
        )
        if held:
            counts["assignments_unchanged"] += 1
            return
        try:
            if row.role == Role.LANE_CHIEF:
                services.assign_lane_chief(person=person, lane=lane, valid_from=row.valid_from, duties=row.duties)
            elif row.role == Role.GENERAL_LANE_CHIEF:
                services.assign_general_lane_chief(
                    person=person, street_office=area, valid_from=row.valid_from, duties=row.duties
                )
            else:
                services.assign_area_leader(person=person, area=area, valid_from=row.valid_from, duties=row.duties)
        except ValidationError as exc:
            raise _RowFailure("valid_from", " ".join(exc.messages)) from None
        counts["assignments_created"] += 1

    def _set_squad_phone(self, row: _Row, squad: Squad, phone: str, field_name: str, counts: Counter) -> None:
        earlier = self._squad_phone_by_row.get(squad.pk)
        if earlier and earlier[0] != phone:
            raise _RowFailure(
                field_name,
                _("中队「%(squad)s」的电话在第 %(row)d 行填的是 %(old)s，这里是 %(new)s；同一中队只能有一个值班电话")
                % {"squad": squad.name, "row": earlier[1], "old": earlier[0], "new": phone},
            )
        self._squad_phone_by_row[squad.pk] = (phone, row.number)
        if squad.duty_phone == phone:
            counts["squads_unchanged"] += 1
            return
        services.squad_update(squad=squad, duty_phone=phone)
        counts["squads_updated"] += 1

    def _new_squad_name(self, lane: Lane, kind: SquadKind, phone: str, street_office: Area | None) -> str:
        base = f"{street_office.name}{kind.name}中队" if street_office else f"{lane.name}{kind.name}中队"
        limit = Squad._meta.get_field("name").max_length
        for candidate in (base, f"{base}（{phone}）", f"{base}（{phone}）·{lane.pk}"):
            if not Squad.objects.filter(name=candidate[:limit]).exists():
                return candidate[:limit]
        return f"{base[: limit - 30]}·{lane.pk}·{Squad.objects.count()}"

    @staticmethod
    def _attach(lane: Lane, squad: Squad, counts: Counter) -> None:
        """Make `squad` the squad of its kind listing `lane` explicitly (the roster speaks for this lane)."""
        for other in Squad.objects.filter(kind_id=squad.kind_id, lanes=lane).exclude(pk=squad.pk):
            services.squad_remove_lanes(squad=other, lanes=[lane])
        if not squad.lanes.filter(pk=lane.pk).exists():
            services.squad_add_lanes(squad=squad, lanes=[lane])
            counts["squad_lanes_added"] += 1

    def _squads(self, row: _Row, counts: Counter) -> None:
        lane = row.lane
        serving = squads_for_lane(lane)
        street_office = lane.community.parent if lane.community else None
        for kind in self.kinds:
            if kind.code not in row.squads:
                continue
            phone, name = row.squads[kind.code]
            phone_field, name_field = f"squad_phone:{kind.code}", f"squad_name:{kind.code}"
            current = serving.get(kind.code)
            if name:  # a named squad: it serves this lane and has this phone
                squad = Squad.objects.filter(name=name).select_related("kind").first()
                if squad is None:
                    squad = services.squad_create(name=name, kind=kind, duty_phone=phone, street_office=street_office)
                    counts["squads_created"] += 1
                    self._attach(lane, squad, Counter())
                    if phone:
                        self._squad_phone_by_row[squad.pk] = (phone, row.number)
                    continue
                if squad.kind_id != kind.pk:
                    raise _RowFailure(
                        name_field,
                        _("「%(squad)s」是%(actual)s中队，不是%(kind)s中队")
                        % {"squad": name, "actual": squad.kind.name, "kind": kind.name},
                    )
                if current is None or current.pk != squad.pk:
                    self._attach(lane, squad, counts)
                if phone:
                    self._set_squad_phone(row, squad, phone, phone_field, counts)
                continue
            # a phone only
            if current is not None and current.duty_phone == phone:
                self._squad_phone_by_row.setdefault(current.pk, (phone, row.number))
                counts["squads_unchanged"] += 1
                continue
            if current is not None and self._serves_only(current, lane):
                self._set_squad_phone(row, current, phone, phone_field, counts)
                continue
            shared = None
            if street_office is not None:
                shared = (
                    Squad.objects.filter(kind=kind, duty_phone=phone, street_office=street_office)
                    .order_by("name", "pk")
                    .first()
                )
            if shared is None:
                shared = services.squad_create(
                    name=self._new_squad_name(lane, kind, phone, street_office),
                    kind=kind,
                    duty_phone=phone,
                    street_office=street_office,
                )
                counts["squads_created"] += 1
                self._attach(lane, shared, Counter())
            else:
                self._attach(lane, shared, counts)
            self._squad_phone_by_row.setdefault(shared.pk, (phone, row.number))

    @staticmethod
    def _serves_only(squad: Squad, lane: Lane) -> bool:
        return list(squad.lanes.values_list("pk", flat=True)) == [lane.pk] and not squad.service_areas.exists()

    def _apply(self, row: _Row) -> Counter:
        counts: Counter = Counter()
        person = self._person(row, counts)
        self._assignment(row, person, counts)
        if row.lane is not None and row.squads:
            self._squads(row, counts)
        if row.role == Role.LANE_CHIEF:
            self._lane_people[row.lane.pk].add(person.pk)
            self._lane_first_row.setdefault(row.lane.pk, row.number)
        return counts

    def _warn_other_chiefs(self) -> None:
        for lane_id, people in self._lane_people.items():
            others = (
                ChiefAssignment.objects.on(self.on)
                .filter(role=Role.LANE_CHIEF, lane_id=lane_id)
                .exclude(person_id__in=people)
                .select_related("person", "lane")
                .order_by("valid_from", "pk")
            )
            names = [a.person.name for a in others]
            if names:
                self.report.warnings.append(
                    self._row_error(
                        self._lane_first_row[lane_id],
                        "lane",
                        _(
                            "街巷「%(lane)s」另有在任街巷长：%(names)s（不在本文件中；导入不会结束其任职，如已卸任请在后台结束）"
                        )
                        % {"lane": others[0].lane.name, "names": "、".join(names)},
                    )
                )

    # -- run -------------------------------------------------------------------------------------------------

    def run(self) -> RosterReport:
        report = self.report
        try:
            self._check_size()
            rows = _read(self.path, self.sheet, report)
            header_position = self._find_header(rows)
        except _FileRejected as exc:
            report.file_errors.extend(exc.messages)
            return report
        report.header_row = rows[header_position][0]
        parsed = [r for number, values in rows[header_position + 1 :] if (r := self._parse(number, values))]
        report.rows = len(parsed)
        self.progress(_("读取 %(n)d 行，正在核对街巷与社区…") % {"n": len(parsed)})
        self._load_places(parsed)
        for row in parsed:
            self._resolve(row)

        with transaction.atomic():
            for done, row in enumerate(parsed, start=1):
                if not row.errors:
                    tracked = dict(self._squad_phone_by_row)
                    try:
                        with transaction.atomic():
                            counts = self._apply(row)
                    except (_RowFailure, ValidationError) as exc:
                        self._squad_phone_by_row = tracked  # the row's writes were rolled back to its savepoint
                        if isinstance(exc, _RowFailure):
                            row.errors.append((exc.field, exc.reason))
                        else:
                            row.errors.append(("", " ".join(exc.messages)))
                    else:
                        report.counts.update(counts)
                        report.valid_rows += 1
                for field_name, reason in row.errors:
                    report.errors.append(self._row_error(row.number, field_name, reason))
                if done % PROGRESS_EVERY == 0:
                    self.progress(_("已处理 %(done)d/%(total)d 行") % {"done": done, "total": len(parsed)})
            self._warn_other_chiefs()
            report.committed = self.commit and (not report.errors or self.skip_invalid)
            if not report.committed:
                transaction.set_rollback(True)
        report.errors.sort(key=lambda e: (e.row, len(e.column_letter), e.column_letter))
        report.warnings.sort(key=lambda e: (e.row, len(e.column_letter), e.column_letter))
        return report

    def _check_size(self) -> None:
        if not self.path.is_file():
            raise _FileRejected(_("找不到文件：%(path)s") % {"path": self.path})
        size = self.path.stat().st_size
        limit = settings.IMPORT_MAX_BYTES
        if size > limit:
            raise _FileRejected(
                _("文件太大（%(size).1f MB），上限 %(limit).1f MB（IMPORT_MAX_BYTES）；请拆分后分批导入")
                % {"size": size / 1e6, "limit": limit / 1e6}
            )
        if size == 0:
            raise _FileRejected(_("文件是空的"))


def import_roster(
    path,
    *,
    commit: bool = False,
    skip_invalid: bool = False,
    on: date | None = None,
    progress: Callable[[str], None] | None = None,
    sheet: str | None = None,
) -> RosterReport:
    """Import a roster file (CSV or XLSX). Dry run unless `commit`; a file with any wrong row writes nothing
    unless `skip_invalid` (then valid rows are written and the others reported). `on` is the import day (the
    default appointment date; today if None). `progress(message)` receives progress messages. `sheet` picks an
    XLSX worksheet by name (default: the first). Never raises for bad input: see RosterReport.file_errors,
    .errors (per row) and .warnings."""
    return RosterImporter(path, commit=commit, skip_invalid=skip_invalid, on=on, sheet=sheet, progress=progress).run()
