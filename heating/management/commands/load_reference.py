from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from heating.services import divisions_load, plan_years_load


class Command(BaseCommand):
    help = "载入区划（16个县级单位、乡镇、村）和各计划年度的时间节点与建筑节能任务；可重复运行。"

    def handle(self, *args: Any, **options: Any) -> None:
        loaded = divisions_load(directory=settings.FIXTURES_DIR / "divisions")
        self.stdout.write(
            f"区划：{loaded.counties} 个县级单位，{loaded.townships} 个乡镇（街道），"
            f"{loaded.villages} 个村（社区）"
        )
        for plan_year in plan_years_load(directory=settings.FIXTURES_DIR / "plans"):
            self.stdout.write(f"计划年度：{plan_year.year}（{plan_year.title}）")
