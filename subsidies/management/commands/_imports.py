"""What the three subsidy import commands share: heating's file and --user handling, the
errors printed by row and column, a non-zero exit when anything is wrong."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.management.base import CommandError

from heating.access import Action
from heating.commands import SheetImportCommand
from heating.sheets import SheetError


class SubsidyImportCommand(SheetImportCommand):
    action = Action.SUBSIDY_POLICY

    def refuse(self, errors: Sequence[SheetError], more: int = 0) -> None:
        for error in errors:
            self.stderr.write(str(error))
        total = len(errors) + more
        extra = f"（仅列出前 {len(errors)} 处）" if more else ""
        raise CommandError(f"共 {total} 处错误{extra}，未写入任何数据。")
