from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from heating.models import PlanYear
from heating.resources import TargetBreakdownResource, TaskBreakdownXLSX


class Command(BaseCommand):
    help = "按任务分解表原格式导出某年度的改造任务（xlsx）。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out", type=Path)
        parser.add_argument("--year", type=int, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        plan_year = PlanYear.objects.filter(year=options["year"]).first()
        if plan_year is None:
            raise CommandError(f"没有 {options['year']} 年度的计划")
        dataset = TargetBreakdownResource(plan_year=plan_year).export()
        out: Path = options["out"]
        out.write_bytes(TaskBreakdownXLSX().export_data(dataset))
        self.stdout.write(f"已导出 {out}")
