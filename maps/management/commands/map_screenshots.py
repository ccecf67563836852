"""manage.py map_screenshots: screenshots of the dashboard, squad map, lookup, lane page and placard for docs/."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from maps.screenshots import take


class Command(BaseCommand):
    help = _(
        "从正在运行的站点（通常是演示数据）截取工作台、中队地图、街巷长查询、联系牌的截图，供文档使用。"
        "需要 Debian 的 chromium 与 playwright；站点之外的请求一律拒绝。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help=_("站点地址"))
        parser.add_argument("--out", default="docs/screenshots", help=_("输出目录"))
        parser.add_argument("--staff-user", default="admin", help=_("打开工作台的账号"))
        parser.add_argument("--squad-user", default="squad_member", help=_("打开中队地图的账号（留空则不截）"))
        parser.add_argument("--area", default="", help=_("工作台的区域编码（默认为该账号的第一个区域）"))

    def handle(self, *args, base_url, out, staff_user, squad_user, area, **options):
        try:
            written = take(
                base_url.rstrip("/"),
                Path(out),
                staff_user=staff_user,
                squad_user=squad_user or None,
                area_code=area or None,
                say=self.stdout.write,
            )
        except Exception as exc:  # the browser, the site or an account is missing: say which, and what to do
            raise CommandError(
                _(
                    "截图失败：%(error)s。请确认站点正在运行（make run）、账号存在（manage.py load_demo）并已安装 chromium。"
                )
                % {"error": str(exc)[:300]}
            ) from exc
        self.stdout.write(_("已写入 %(n)d 张截图。") % {"n": len(written)})
