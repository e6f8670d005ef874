from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from heating.access import Action
from heating.commands import SheetImportCommand
from retrofits.services import ledger_import_file


class Command(SheetImportCommand):
    help = "导入改造户台账（xlsx 或 csv，按台账模板）。全部正确才写入，否则列出全部错误并以非零状态退出。"
    action = Action.IMPORT

    def handle(self, *args: Any, **options: Any) -> None:
        path, user = self.read(options)
        job, outcome = ledger_import_file(
            data=path.read_bytes(), name=path.name, user=user, dry_run=options["dry_run"]
        )
        if outcome is None:  # not a ledger at all: one message for the whole file
            raise CommandError(job.message)
        if outcome.errors:
            for error in outcome.errors:
                self.stderr.write(str(error))
            raise CommandError(f"共 {len(outcome.errors)} 处错误，未写入任何数据。")
        verb = "检查通过，未写入" if options["dry_run"] else "导入完成"
        self.stdout.write(
            f"{verb}：共 {outcome.total} 行，新增 {outcome.created}，更新 {outcome.updated}，"
            f"未变 {outcome.unchanged}。"
        )
