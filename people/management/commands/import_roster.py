"""manage.py import_roster FILE [--commit] [--skip-invalid] [--sheet NAME] [--date YYYY-MM-DD]: lane chiefs
from a street office's roster spreadsheet (CSV or XLSX). See people/importers/roster.py for the rules."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from people.importers.roster import import_roster, parse_date

LIST_LIMIT = 200


class Command(BaseCommand):
    help = _("导入街巷长名单（CSV 或 Excel .xlsx，表头见 docs/roster-template.csv）。默认试运行，加 --commit 才写入。")

    def add_arguments(self, parser):
        parser.add_argument("file", help=_("名单文件路径（.csv 或 .xlsx）"))
        parser.add_argument("--commit", action="store_true", help=_("写入数据库（默认只试运行并报告变更）"))
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help=_("跳过有错的行，只导入正确的行（默认：有任何错误就整份不导入）"),
        )
        parser.add_argument("--sheet", metavar="NAME", help=_("Excel 工作表名称（默认第一个工作表）"))
        parser.add_argument(
            "--date", metavar="YYYY-MM-DD", help=_("导入日期：未填任职日期的行从这天起任职（默认今天）")
        )

    def handle(self, *args, file, commit, skip_invalid, sheet, date, verbosity, **options):
        on = None
        if date:
            try:
                on = parse_date(date)
            except ValueError as exc:
                raise CommandError(str(exc)) from None

        def progress(message: str) -> None:
            if verbosity >= 1:
                self.stderr.write(message)

        report = import_roster(file, commit=commit, skip_invalid=skip_invalid, on=on, progress=progress, sheet=sheet)
        if report.file_errors:
            raise CommandError(report.summary())
        for label, items in ((_("错误"), report.errors), (_("提示"), report.warnings)):
            for item in items[:LIST_LIMIT]:
                self.stdout.write(f"{label} {item}")
            if len(items) > LIST_LIMIT:
                self.stdout.write(f"{label} … (+{len(items) - LIST_LIMIT})")
        self.stdout.write(report.summary())
        if report.errors and not skip_invalid:
            raise CommandError(
                _("%(n)d 行有错误，未写入任何数据；改正后重新导入，或加 --skip-invalid 只导入正确的行")
                % {"n": len(report.error_rows)}
            )
