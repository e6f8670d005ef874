from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from heating.breakdown import county_labels
from heating.models import County, PlanYear
from subsidies.exports import entitlements_xlsx


class Command(BaseCommand):
    help = "导出一个年度的补贴核算结果（户编号、补贴项目、补贴金额（元）、其中市级、其中县级）。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, required=True)
        parser.add_argument("--county", help="只导出该县（市、区）")
        parser.add_argument("--out", type=Path, required=True, help="输出的 xlsx 文件")

    def handle(self, *args: Any, **options: Any) -> None:
        year = options["year"]
        if not PlanYear.objects.filter(year=year).exists():
            raise CommandError(f"没有{year}年度的计划")
        county = None
        if options["county"]:
            county = county_labels(County.objects.all()).get(options["county"].strip())
            if county is None:
                raise CommandError(f"「{options['county']}」不是任务分解表的16个县（市、区）之一")
        out: Path = options["out"]
        out.write_bytes(entitlements_xlsx(year, county))
        self.stdout.write(f"已导出：{out}")
