from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from heating.models import Role, User
from retrofits.importer import import_ledger
from retrofits.ledger import LedgerFileError, read_ledger


class Command(BaseCommand):
    help = "导入改造户台账（xlsx 或 csv，按台账模板）。全部正确才写入，否则列出全部错误并以非零状态退出。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="只检查，不写入")
        parser.add_argument("--user", help="以该用户身份导入（县级用户只能导入本县的户）")

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
            if not user.imports_ledger:
                raise CommandError(f"{user.get_role_display()}不能导入台账：台账由县级用户维护")
        try:
            ledger = read_ledger(path.read_bytes(), path.name)
        except LedgerFileError as exc:
            raise CommandError(str(exc)) from exc

        only_county = user.county if user and user.role == Role.COUNTY else None
        outcome = import_ledger(
            ledger,
            user=user,
            source=f"台账导入：{path.name}",
            only_county=only_county,
            dry_run=options["dry_run"],
        )
        if outcome.errors:
            for error in outcome.errors:
                self.stderr.write(str(error))
            raise CommandError(f"共 {len(outcome.errors)} 处错误，未写入任何数据。")
        verb = "检查通过，未写入" if options["dry_run"] else "导入完成"
        self.stdout.write(
            f"{verb}：共 {outcome.total} 行，新增 {outcome.created}，更新 {outcome.updated}，"
            f"未变 {outcome.unchanged}。"
        )
