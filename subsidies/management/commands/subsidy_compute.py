from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from heating.models import PlanYear
from subsidies.models import Kind, yuan
from subsidies.services import subsidy_compute


class Command(BaseCommand):
    help = "核算一个年度的设备购置补贴和运行补贴（可重复运行：未发放的重新核算，已发放而不再成立的生成追回记录，已发放而少发的生成补差）。"

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
        if outcome.top_ups or outcome.top_up_fen:
            self.stdout.write(
                f"  补差（已发放后重新核算高于已发金额）：本次新增或调整 {outcome.top_ups:,} 笔，"
                f"待发补差共 {yuan(outcome.top_up_fen):,} 元"
            )
