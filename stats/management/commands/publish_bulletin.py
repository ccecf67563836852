"""Publish the weekly bulletin (简报) of a week: dry run by default (prints the figures it would freeze)."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from stats.indicators import Period
from stats.selectors import bulletin_content, published
from stats.services import publish_bulletin


class Command(BaseCommand):
    help = "发布周简报（默认仅预览；加 --commit 才发布）。Publish the weekly bulletin; dry run unless --commit."

    def add_arguments(self, parser):
        parser.add_argument("--week", help="该周内任一日期 YYYY-MM-DD（默认：上一周）")
        parser.add_argument("--note", default="", help="更正说明（再次发布同一周时）")
        parser.add_argument("--commit", action="store_true", help="真正发布（否则只预览）")

    def handle(self, *args, week=None, note="", commit=False, **options):
        if week:
            try:
                day = dt.date.fromisoformat(week)
            except ValueError as exc:
                raise CommandError(f"--week 须为 YYYY-MM-DD 格式的日期，收到 {week!r}") from exc
        else:
            day = timezone.localdate() - dt.timedelta(days=7)
        period = Period.of("week", day)
        existing = published(kind="week", start=period.start).count()
        content = bulletin_content(period)
        d = content["district"]
        self.stdout.write(
            f"{period.label} ({period.start} – {period.end}): 应结案 {d['due']}，结案 {d['closed']}，"
            f"按期结案 {d['closed_on_time']}，结案率 {d['rates']['closure_rate'] or '无数据'}，"
            f"按期结案率 {d['rates']['on_time_closure_rate'] or '无数据'}"
        )
        for s in content["sections"]:
            self.stdout.write(f"  {s['level']}: 排名 {len(s['ranked'])} 个，无数据 {len(s['no_data'])} 个")
        if not commit:
            self.stdout.write(f"预览：将发布第 {existing + 1} 版。加 --commit 发布。")
            return
        bulletin = publish_bulletin(week=day, note=note)
        self.stdout.write(
            self.style.SUCCESS(f"已发布 {bulletin.label} 第 {bulletin.version} 版：/stats/bulletins/{bulletin.pk}/")
        )
