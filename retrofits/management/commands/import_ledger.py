from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from heating import access
from heating.access import Action
from heating.commands import SheetImportCommand
from retrofits.ledger.jobs import ledger_import_file


class Command(SheetImportCommand):
    help = "导入改造户台账（xlsx 或 csv，按台账模板）。全部正确才写入，否则列出全部错误并以非零状态退出。"
    action = Action.IMPORT

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--first-load",
            action="store_true",
            help="首次导入（系统管理员）：台账接近为空、文件很大时，在 PostgreSQL 上先删除索引、导入后重建；"
            "导入期间全市台账暂停读写，请在无人使用时运行",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path, user = self.read(options)
        if options["first_load"] and user is not None and not access.may(user, Action.CORRECT):
            raise CommandError("首次导入会暂停全市台账的读写，只能由系统管理员运行。")
        job, outcome = ledger_import_file(
            data=path.read_bytes(),
            name=path.name,
            user=user,
            dry_run=options["dry_run"],
            first_load=options["first_load"],
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
