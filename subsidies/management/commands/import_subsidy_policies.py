from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from heating.sheets import SheetFileError
from subsidies.management.commands._imports import SubsidyImportCommand
from subsidies.services import policy_import


class Command(SubsidyImportCommand):
    help = "导入补贴标准（xlsx 或 csv，按模板）。全部正确才写入，否则列出全部错误并以非零状态退出。"

    def handle(self, *args: Any, **options: Any) -> None:
        path, user = self.read(options)
        try:
            outcome = policy_import(
                data=path.read_bytes(), name=path.name, user=user, dry_run=options["dry_run"]
            )
        except SheetFileError as exc:
            raise CommandError(str(exc)) from exc
        if outcome.errors:
            self.refuse(outcome.errors)
        verb = "检查通过，未写入" if options["dry_run"] else "导入完成"
        self.stdout.write(
            f"补贴标准{verb}：共 {outcome.total} 行，新增 {outcome.created}，"
            f"更新 {outcome.updated}，未变 {outcome.unchanged}。"
        )
