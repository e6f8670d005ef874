"""load_indicators --year 2023: the standard 绩效自评 indicators for a year (those it lacks)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from heating.models import PlanYear
from oversight.evaluation.services import indicators_load


class Command(BaseCommand):
    help = "载入标准绩效自评指标（已有的指标保持不变）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        plan_year = PlanYear.objects.filter(year=options["year"]).first()
        if plan_year is None:
            raise CommandError(f"没有{options['year']}年度的计划")
        added = indicators_load(plan_year=plan_year)
        self.stdout.write(f"{plan_year.year}年度：新增绩效指标 {added} 项")
