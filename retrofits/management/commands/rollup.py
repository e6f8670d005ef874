from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from retrofits.services.rollups import rollup_run


class Command(BaseCommand):
    help = "重新汇总改造进度（仪表盘和接口读取汇总结果）。"

    def handle(self, *args: Any, **options: Any) -> None:
        run = rollup_run()
        finished = timezone.localtime(run.finished_at) if run.finished_at else None
        self.stdout.write(f"进度汇总完成：{run.households} 户，{finished:%Y-%m-%d %H:%M:%S}")
