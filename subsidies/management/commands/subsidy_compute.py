from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from heating.models import PlanYear
from subsidies.models import Kind, yuan
from subsidies.services import subsidy_compute


class Command(BaseCommand):
    help = "核算一个年度的设备购置补贴和运行补贴（可重复运行：未发放的重新核算，已发放而不再成立的生成追回记录）。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, required=True, help="计划年度，如 2023")

    def handle(self, *args: Any, **options: Any) -> None:
        year = options["year"]
        if not PlanYear.objects.filter(year=year).exists():
            raise CommandError(f"没有{year}年度的计划")
        outcome = subsidy_compute(year=year)
        self.stdout.write(f"{year}年度补贴核算完成（采暖季 {outcome.season}）：")
        for kind in Kind:
            self.stdout.write(
                f"  {kind.label}：{outcome.computed[kind]:,} 户，"
                f"合计 {yuan(outcome.total_fen[kind]):,} 元"
            )
        self.stdout.write(
            f"  新增 {outcome.created:,}，更新 {outcome.updated:,}，未变 {outcome.unchanged:,}，"
            f"撤销 {outcome.removed:,}；新增追回 {outcome.clawbacks:,} 笔，"
            f"{yuan(outcome.clawback_fen):,} 元"
        )
        if outcome.above_paid:
            self.stdout.write(
                f"  另有 {outcome.above_paid:,} 笔已发放补贴重新核算后高于已发金额，未补发。"
            )
