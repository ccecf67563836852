"""Record patrols from GPX / GeoJSON files (e.g. a device's export), over patrols.services.patrol_upload.

Dry run by default: each file is read and cleaned and the command says what it would record (days, fixes kept,
jumps removed, lanes nearby); `--commit` records it. Files already uploaded by the same person are reported and
skipped. A refused file records nothing and the message says why.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from patrols import conf
from patrols.importers.tracks import TrackError, parse_track
from patrols.services import patrol_upload
from patrols.tracks import clean, split_by_day, to_fixes


class Command(BaseCommand):
    help = "从 GPX / GeoJSON 文件导入巡查轨迹（默认试运行，加 --commit 写入）"

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="GPX 或 GeoJSON 文件")
        parser.add_argument("--person", type=int, required=True, help="巡查人编号（people.Person id）")
        parser.add_argument("--coordsys", choices=["wgs84", "gcj02"], default="wgs84")
        parser.add_argument("--day", help="巡查日期 YYYY-MM-DD（轨迹无时间时必填）")
        parser.add_argument("--commit", action="store_true", help="写入数据库（默认只试运行）")

    def handle(self, *args, paths, person, coordsys, day, commit, **options):
        from datetime import date

        from people.models import Person

        try:
            who = Person.objects.get(pk=person)
        except Person.DoesNotExist:
            raise CommandError(f"找不到编号为 {person} 的人员。请先在人员管理中建档，或检查 --person。") from None
        the_day = None
        if day:
            try:
                the_day = date.fromisoformat(day)
            except ValueError:
                raise CommandError("--day 格式应为 YYYY-MM-DD。") from None
        recorded = refused = 0
        total = len(paths)
        for n, raw in enumerate(paths, start=1):
            path = Path(raw)
            prefix = f"[{n}/{total}] {path.name}: "
            if not path.is_file():
                self.stderr.write(prefix + "找不到文件。")
                refused += 1
                continue
            data = path.read_bytes()
            try:
                if commit:
                    with transaction.atomic():
                        out = patrol_upload(person=who, data=data, filename=path.name, coordsys=coordsys, day=the_day)
                    if out.created:
                        recorded += len(out.patrols)
                        days = ", ".join(f"{p.day}（{p.length_m or 0:.0f} 米）" for p in out.patrols)
                        self.stdout.write(prefix + f"已记录 {len(out.patrols)} 条巡查：{days}")
                    else:
                        self.stdout.write(prefix + "已上传过，跳过。")
                    for m in out.messages:
                        self.stdout.write("    " + m)
                else:
                    if len(data) > conf.get("PATROL_UPLOAD_MAX_BYTES"):
                        raise TrackError("文件超过大小上限 PATROL_UPLOAD_MAX_BYTES。")
                    parsed = parse_track(data, filename=path.name)
                    result = clean(to_fixes(parsed.points, coordsys=coordsys))
                    days = list(split_by_day(result.fixes)) if result.timed else [the_day or "（需 --day）"]
                    self.stdout.write(
                        prefix
                        + f"{parsed.format}，{result.points_in} 个点，保留 {len(result.fixes)} 个；日期 {', '.join(map(str, days))}"
                    )
                    for m in result.messages:
                        self.stdout.write("    " + m)
            except TrackError as exc:
                refused += 1
                self.stderr.write(prefix + f"未导入：{exc}")
        mode = "已写入" if commit else "试运行（未写入，加 --commit 写入）"
        self.stdout.write(f"{mode}：{total} 个文件，记录巡查 {recorded} 条，拒绝 {refused} 个。")
