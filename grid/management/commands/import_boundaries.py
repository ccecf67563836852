"""manage.py import_boundaries FILE --level LEVEL [...] [--commit]: area boundaries from GeoJSON, Shapefile (.shp or
.zip) or GeoPackage (dry run by default; a file with any rejected feature writes nothing)."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from grid.importers.boundaries import BoundaryFileError, ImportRejected, import_boundaries
from grid.models import Level

LIST_LIMIT = 50


class Command(BaseCommand):
    help = _(
        "从 GeoJSON、Shapefile（.shp 或 .zip）或 GeoPackage 导入某一层级的区域边界。"
        "默认试运行，加 --commit 才写入；任何要素有问题则整个文件不写入。"
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help=_("边界文件路径"))
        parser.add_argument("--level", required=True, choices=Level.values, help=_("文件中区域的层级"))
        parser.add_argument("--code-field", default="code", metavar="F", help=_("编码字段名（默认 code）"))
        parser.add_argument("--name-field", default="name", metavar="F", help=_("名称字段名（默认 name）"))
        parser.add_argument("--parent-code", metavar="CODE", help=_("所有要素的上级编码（默认按编码前缀查找上级）"))
        parser.add_argument("--layer", metavar="NAME", help=_("图层名（文件有多个图层时必填）"))
        parser.add_argument(
            "--srid", type=int, metavar="N", help=_("文件坐标的 EPSG 代码（文件未声明坐标系或声明错误时使用）")
        )
        parser.add_argument(
            "--encoding",
            default="utf-8",
            help=_("属性文字的编码，用于没有 .cpg 文件的 Shapefile（例如 gbk；默认 utf-8）"),
        )
        parser.add_argument("--illustrative", action="store_true", help=_("标记为示意边界（非官方）"))
        parser.add_argument("--commit", action="store_true", help=_("写入数据库（默认只试运行并报告变更）"))

    def handle(
        self,
        *args,
        file,
        level,
        code_field,
        name_field,
        parent_code,
        layer,
        srid,
        illustrative,
        encoding,
        commit,
        verbosity,
        **options,
    ):
        def progress(message: str) -> None:
            if verbosity >= 1:
                self.stderr.write(message)

        try:
            report = import_boundaries(
                file,
                level=level,
                code_field=code_field,
                name_field=name_field,
                parent_code=parent_code,
                layer=layer,
                srid=srid,
                commit=commit,
                illustrative=illustrative,
                encoding=encoding,
                progress=progress,
            )
        except BoundaryFileError as exc:
            raise CommandError(str(exc)) from None
        except ImportRejected as exc:
            raise CommandError(str(exc)) from None

        for note in report.repaired:
            self.stdout.write("  " + _("修复") + f": {note}")
        for note in report.warnings:
            self.stdout.write("  " + _("警告") + f": {note}")
        if verbosity >= 2:
            prefix = "" if commit else _("将") + " "
            for label, codes in ((_("新增"), report.created), (_("更新"), report.updated)):
                for code in codes[:LIST_LIMIT]:
                    self.stdout.write(f"  {prefix}{label}: {code}")
                if len(codes) > LIST_LIMIT:
                    self.stdout.write(f"  {prefix}{label}: … (+{len(codes) - LIST_LIMIT})")
        self.stdout.write(report.summary())
        if not commit:
            self.stdout.write(_("试运行：未写入；加 --commit 写入。"))
