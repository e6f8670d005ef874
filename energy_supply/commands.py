"""What the three supply import commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from energy_supply.services import supply_import
from energy_supply.sheets import Template
from heating import access
from heating.access import Action
from heating.models import User
from heating.sheets import SheetFileError


class SupplyImportCommand(BaseCommand):
    template: ClassVar[Template]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="只检查，不写入")
        parser.add_argument("--user", help="以该用户身份导入（县级用户只能导入本县的）")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"找不到文件：{path}")
        if path.stat().st_size > settings.MAX_UPLOAD_MB * 1024 * 1024:
            raise CommandError(f"文件超过 {settings.MAX_UPLOAD_MB} MB 的上限")
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"没有用户 {options['user']}")
            if not access.may(user, Action.SUPPLY):
                raise CommandError(access.REFUSALS[Action.SUPPLY])
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
        if outcome.errors:
            for error in outcome.errors:
                self.stderr.write(str(error))
            raise CommandError(f"共 {len(outcome.errors)} 处错误，未写入任何数据。")
        verb = "检查通过，未写入" if options["dry_run"] else "导入完成"
        self.stdout.write(
            f"{self.template.name}{verb}：共 {outcome.total} 行，新增 {outcome.created}，"
            f"更新 {outcome.updated}，未变 {outcome.unchanged}。"
        )
