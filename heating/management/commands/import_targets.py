from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from heating.breakdown import COLUMNS, TableLayoutError
from heating.resources import TargetBreakdownResource, TaskBreakdownXLSX
from heating.services import plan_year_get_or_create

# The checked 总计 row's 总任务数 · 合计 equals the sum of every stored cell.
TOTAL_KEY = COLUMNS[2].key


class Command(BaseCommand):
    help = "导入任务分解表（原表格式的 xlsx）为某年度的改造任务。全部正确才写入，否则列出全部错误。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--year", type=int, required=True)
        parser.add_argument("--dry-run", action="store_true", help="只检查，不写入")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"找不到文件：{path}")
        try:
            dataset = TaskBreakdownXLSX().create_dataset(path.read_bytes())
        except TableLayoutError as exc:
            raise CommandError(str(exc)) from exc

        plan_year, created = plan_year_get_or_create(year=options["year"])
        if created:
            self.stdout.write(
                f"新建计划年度 {plan_year.year}，时间节点暂按2023年方案，请在管理后台核对。"
            )
        result = TargetBreakdownResource(plan_year=plan_year).import_data(
            dataset, dry_run=options["dry_run"]
        )
        if result.has_validation_errors():
            messages = [
                message
                for row in result.invalid_rows
                for column_messages in row.error_dict.values()
                for message in column_messages
            ]
            for message in messages:
                self.stderr.write(message)
            raise CommandError(f"任务分解表有 {len(messages)} 处错误，未写入任何数据。")

        totals = result.totals
        verb = "检查通过，未写入" if options["dry_run"] else "导入完成"
        self.stdout.write(
            f"{verb}：新增 {totals['new']} 个县，更新 {totals['update']} 个县，"
            f"未变 {totals['skip']} 个县。"
        )
        total_row = dataset.dict[-1]
        self.stdout.write(f"全市总任务数：{total_row[TOTAL_KEY]} 户")
