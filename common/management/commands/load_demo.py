"""manage.py load_demo [--reset]: the demo data set (fictitious people on real streets; see common/demo.py).

Only for demonstration and development databases: it creates demo logins with a published password.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from common.demo import DemoError, load_demo
from lanes.importers.osm import ImportRejected

COUNT_LABELS = (
    ("street_offices", "街道"),
    ("communities", "社区"),
    ("grid_cells", "网格"),
    ("lanes", "街巷"),
    ("departments", "部门"),
    ("people", "人员"),
    ("chief_assignments", "任职"),
    ("work_groups", "工作组"),
    ("squads", "中队"),
    ("users", "演示账号"),
)


class Command(BaseCommand):
    help = _(
        "载入演示数据：芝罘区的真实名称套在上海市中心真实街道上（示意边界），虚构的街巷长、部门、中队和演示账号。"
        "已载入则直接使用；--reset 删除后重新载入。只用于演示或开发数据库。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help=_("删除已有的演示数据后重新载入"))

    def handle(self, *args, reset, verbosity, **options):
        def progress(message: str) -> None:
            if verbosity >= 1:
                self.stderr.write(message)

        try:
            report = load_demo(reset=reset, progress=progress)
        except (DemoError, ImportRejected) as exc:
            raise CommandError(str(exc)) from None

        if report.reused:
            self.stdout.write("demo already loaded — reusing it / " + _("演示数据已存在，直接使用"))
        else:
            timings = "，".join(f"{name} {seconds:.1f}s" for name, seconds in report.timings.items())
            self.stdout.write(_("演示数据已载入，用时 %(s).1f 秒（%(t)s）。") % {"s": report.seconds, "t": timings})
        counts = report.counts
        self.stdout.write("；".join(f"{label} {counts.get(key, 0)}" for key, label in COUNT_LABELS))
        if report.accounts:
            note = _("（首次载入时的密码，若已修改则以修改后为准）") if report.reused else ""
            self.stdout.write(_("演示账号（仅用于演示，请勿用于正式环境）：") + note)
            rows = [(_("用户名"), _("角色"), _("密码")), *report.accounts]
            widths = [max(_width(row[i]) for row in rows) for i in range(3)]
            for row in rows:
                self.stdout.write("  " + "  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)))


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(text))


def _pad(text: str, width: int) -> str:
    return str(text) + " " * (width - _width(text))
