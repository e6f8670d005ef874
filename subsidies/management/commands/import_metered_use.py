from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from heating.sheets import SheetFileError
from subsidies.management.commands._imports import SubsidyImportCommand
from subsidies.services import metered_use_import


class Command(SubsidyImportCommand):
    help = (
        "导入用能计量（供电或燃气公司的导出：户号、计量类型、起止日期、用量）。"
        "未登记的户号跳过并计数；同一户号同一期间重复为错误。全部正确才写入。"
    )

    def handle(self, *args: Any, **options: Any) -> None:
        path, user = self.read(options)
        try:
            outcome = metered_use_import(
                data=path.read_bytes(), name=path.name, user=user, dry_run=options["dry_run"]
            )
        except SheetFileError as exc:
            raise CommandError(str(exc)) from exc
        if outcome.errors:
            self.refuse(outcome.errors, outcome.more_errors)
        verb = "检查通过，未写入" if options["dry_run"] else "导入完成"
        self.stdout.write(
            f"用能计量{verb}：共 {outcome.total:,} 行，写入 {outcome.written:,}，"
            f"跳过未登记户号 {outcome.skipped:,}。"
        )
