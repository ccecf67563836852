"""manage.py import_osm FILE [--commit] [--prune] [--merge-distance M]: lanes from an OSM XML or PBF file."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from lanes.importers.osm import ImportRejected, import_osm

LIST_LIMIT = 20


class Command(BaseCommand):
    help = _("从 OpenStreetMap 文件（.osm / .osm.gz / .osm.bz2 / .osm.pbf）导入街巷。默认试运行，加 --commit 才写入。")

    def add_arguments(self, parser):
        parser.add_argument("file", help=_("OSM XML 或 PBF 文件路径"))
        parser.add_argument("--commit", action="store_true", help=_("写入数据库（默认只试运行并报告变更）"))
        parser.add_argument(
            "--prune",
            action="store_true",
            help=_("删除以前从 OSM 导入、但本文件中没有的街巷（包括其他范围文件导入的街巷，请只用覆盖全部范围的文件）"),
        )
        parser.add_argument(
            "--merge-distance",
            type=float,
            default=60.0,
            metavar="M",
            help=_("同名路段相距不超过 M 米即合并为一条街巷（默认 60）"),
        )

    def handle(self, *args, file, commit, prune, merge_distance, verbosity, **options):
        def progress(message: str) -> None:
            if verbosity >= 1:
                self.stderr.write(message)

        try:
            report = import_osm(file, commit=commit, prune=prune, progress=progress, merge_distance_m=merge_distance)
        except ImportRejected as exc:
            raise CommandError(str(exc)) from None

        if verbosity >= 2:
            for label, keys in (
                (_("新增"), report.created_keys),
                (_("更新"), report.updated_keys),
                (_("删除"), report.removed_keys),
            ):
                for key in keys[:LIST_LIMIT]:
                    self.stdout.write(f"  {label}: {key}")
                if len(keys) > LIST_LIMIT:
                    self.stdout.write(f"  {label}: … (+{len(keys) - LIST_LIMIT})")
        self.stdout.write(report.summary())
        if not commit:
            self.stdout.write(
                "dry run: nothing written; add --commit to write / " + _("试运行：未写入；加 --commit 写入")
            )
