"""manage.py generate_grid --area CODE [--size 100] [--replace] [--commit]: unit grid cells for the communities at
or under an area (dry run by default)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from grid import selectors, services


class Command(BaseCommand):
    help = _(
        "为区、街道或社区下的每个社区生成单元网格（默认 100 米 × 100 米，自北向南、自西向东编号）。"
        "默认试运行，加 --commit 才写入。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--area", required=True, metavar="CODE", help=_("区、街道或社区的编码"))
        parser.add_argument(
            "--size",
            type=float,
            default=100.0,
            metavar="M",
            help=_("网格边长（米，%(min)g–%(max)g，默认 100）")
            % {"min": services.GRID_SIZE_MIN_M, "max": services.GRID_SIZE_MAX_M},
        )
        parser.add_argument("--replace", action="store_true", help=_("删除这些社区的旧网格后重新生成"))
        parser.add_argument("--commit", action="store_true", help=_("写入数据库（默认只试运行并报告）"))

    def handle(self, *args, area, size, replace, commit, verbosity, **options):
        target = selectors.area_by_code(area)
        if target is None:
            raise CommandError(
                _("找不到编码为 %(code)s 的区域：请先导入边界（manage.py import_boundaries）。") % {"code": area}
            )

        def progress(message: str) -> None:
            if verbosity >= 1:
                self.stderr.write(message)

        run = services.generate_grid_cells if commit else services.plan_grid_cells
        try:
            report = run(area=target, size_m=size, replace=replace, progress=progress)
        except ValidationError as exc:
            raise CommandError("\n".join(exc.messages)) from None
        if verbosity >= 2:
            for plan in report.communities:
                first = plan.cells[0].code if plan.cells else "-"
                last = plan.cells[-1].code if plan.cells else "-"
                self.stdout.write(f"  {plan.community.code} {plan.community.name}: {len(plan.cells)} ({first}…{last})")
        self.stdout.write(report.summary())
        if not commit:
            self.stdout.write(_("试运行：未写入；加 --commit 写入。"))
