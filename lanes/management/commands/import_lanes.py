"""manage.py import_lanes FILE [--name-field F] [--kind-field F] [--key-field F] [--srid N] [--commit]: lanes from a
line file (GeoJSON, GeoPackage, Shapefile, GeoParquet); dry run by default, a file with any rejected feature writes
nothing."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from lanes.importers.lines import ImportRejected, LineFileError, import_lines

LIST_LIMIT = 20


class Command(BaseCommand):
    help = _(
        "从 GeoJSON、GeoPackage、Shapefile（.shp 或 .zip）或 GeoParquet 线文件导入街巷（每个要素一条街巷）。"
        "默认试运行，加 --commit 才写入；任何要素有问题则整个文件不写入。"
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help=_("线文件路径"))
        parser.add_argument("--name-field", default="name", metavar="F", help=_("名称字段名（默认 name）"))
        parser.add_argument(
            "--kind-field",
            metavar="F",
            help=_("类型字段名：main/secondary/back、主干道/次干道/背街小巷或 OSM highway 值（默认全部为背街小巷）"),
        )
        parser.add_argument(
            "--key-field", metavar="F", help=_("唯一标识字段名（默认用要素 FID / 行号），用于重复导入时对应同一街巷")
        )
        parser.add_argument("--source", metavar="NAME", help=_("来源名（默认为文件名去掉扩展名），标识这一批街巷"))
        parser.add_argument("--layer", metavar="NAME", help=_("图层名（文件有多个图层时必填）"))
        parser.add_argument(
            "--srid", type=int, metavar="N", help=_("文件坐标的 EPSG 代码（文件未声明坐标系或声明错误时使用）")
        )
        parser.add_argument(
            "--encoding", default="utf-8", help=_("属性文字的编码，用于没有 .cpg 文件的 Shapefile（例如 gbk）")
        )
        parser.add_argument("--skip-unnamed", action="store_true", help=_("跳过没有名称的要素（默认拒绝整个文件）"))
        parser.add_argument("--prune", action="store_true", help=_("删除同一来源以前导入、但本文件中已没有的街巷"))
        parser.add_argument("--commit", action="store_true", help=_("写入数据库（默认只试运行并报告变更）"))

    def handle(self, *args, file, commit, verbosity, **options):
        def progress(message: str) -> None:
            if verbosity >= 1:
                self.stderr.write(message)

        try:
            report = import_lines(
                file,
                name_field=options["name_field"],
                kind_field=options["kind_field"],
                key_field=options["key_field"],
                source=options["source"],
                layer=options["layer"],
                srid=options["srid"],
                encoding=options["encoding"],
                skip_unnamed=options["skip_unnamed"],
                prune=options["prune"],
                commit=commit,
                progress=progress,
            )
        except (LineFileError, ImportRejected) as exc:
            raise CommandError(str(exc)) from None

        if verbosity >= 2:
            prefix = "" if commit else _("将") + " "
            for label, keys in ((_("新增"), report.created), (_("更新"), report.updated), (_("删除"), report.removed)):
                for key in keys[:LIST_LIMIT]:
                    self.stdout.write(f"  {prefix}{label}: {key}")
                if len(keys) > LIST_LIMIT:
                    self.stdout.write(f"  {prefix}{label}: … (+{len(keys) - LIST_LIMIT})")
        self.stdout.write(report.summary())
        if not commit:
            self.stdout.write(_("试运行：未写入；加 --commit 写入。"))
