from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from heating.models import PlanYear
from heating.sheets import SheetFile
from retrofits.demo import household_rows
from retrofits.ledger import COLUMNS
from retrofits.services import ledger_import_rows


class Command(BaseCommand):
    help = "按任务数生成演示用的改造户（真实村庄、合法身份证号、虚构姓名），经台账导入写入；可重复运行。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", type=float, default=0.01, help="占任务数的比例，1.0 为全量")
        parser.add_argument("--year", type=int, default=2023)
        parser.add_argument("--seed", type=int, default=2023)

    def handle(self, *args: Any, **options: Any) -> None:
        if not PlanYear.objects.filter(year=options["year"]).exists():
            raise CommandError(
                f"没有 {options['year']} 年度的计划：先运行 load_reference 和 import_targets"
            )
        rows = list(
            household_rows(scale=options["scale"], year=options["year"], seed=options["seed"])
        )
        ledger = SheetFile(
            positions={c.field: i for i, c in enumerate(COLUMNS)},
            rows=enumerate(rows, start=2),
            total=len(rows),
        )
        outcome = ledger_import_rows(ledger=ledger, name="演示数据.xlsx", source="演示数据")
        if outcome.errors:
            for error in outcome.errors[:20]:
                self.stderr.write(str(error))
            raise CommandError(f"生成的数据有 {len(outcome.errors)} 处错误")
        self.stdout.write(
            f"演示改造户 {outcome.total} 户：新增 {outcome.created}，更新 {outcome.updated}，"
            f"未变 {outcome.unchanged}。"
        )
