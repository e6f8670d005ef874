from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from heating.access import Action
from heating.sheets import SheetFileError
from subsidies.management.commands._imports import SubsidyImportCommand
from subsidies.services.accounts import bank_accounts_import


class Command(SubsidyImportCommand):
    help = "导入改造户的一卡通账户（户编号、一卡通账号、开户银行、账户名、备注）。全部正确才写入。"
    action = Action.SUBSIDY_PAY

    def handle(self, *args: Any, **options: Any) -> None:
        path, user = self.read(options)
        try:
            outcome = bank_accounts_import(
                data=path.read_bytes(), name=path.name, user=user, dry_run=options["dry_run"]
            )
        except SheetFileError as exc:
            raise CommandError(str(exc)) from exc
        if outcome.errors:
            self.refuse(outcome.errors)
        verb = "检查通过，未写入" if options["dry_run"] else "导入完成"
        self.stdout.write(
            f"一卡通账户{verb}：共 {outcome.total} 行，新增 {outcome.created}，"
            f"更新 {outcome.updated}，未变 {outcome.unchanged}。"
        )
