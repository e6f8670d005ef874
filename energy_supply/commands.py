"""What the three supply import commands share."""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.management.base import CommandError
from django.db import IntegrityError

from energy_supply.services.imports import CONCURRENT, supply_import
from energy_supply.sheets import Template
from heating.access import Action
from heating.commands import SheetImportCommand
from heating.sheets import SheetFileError


class SupplyImportCommand(SheetImportCommand):
    template: ClassVar[Template]
    action = Action.SUPPLY

    def handle(self, *args: Any, **options: Any) -> None:
        path, user = self.read(options)
        try:
            outcome = supply_import(
                template=self.template,
                data=path.read_bytes(),
                name=path.name,
                user=user,
                dry_run=options["dry_run"],
            )
        except SheetFileError as exc:
            raise CommandError(str(exc)) from exc
        except IntegrityError as exc:  # another writer took a code between the checks and the write
            raise CommandError(CONCURRENT) from exc
        if outcome.errors:
            for error in outcome.errors:
                self.stderr.write(str(error))
            raise CommandError(f"共 {len(outcome.errors)} 处错误，未写入任何数据。")
        verb = "检查通过，未写入" if options["dry_run"] else "导入完成"
        self.stdout.write(
            f"{self.template.name}{verb}：共 {outcome.total} 行，新增 {outcome.created}，"
            f"更新 {outcome.updated}，未变 {outcome.unchanged}。"
        )
