from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from heating.breakdown import county_labels
from heating.models import County, User
from subsidies.models import Batch
from subsidies.services.batches import (
    batch_approve,
    batch_create,
    batch_notice,
    batch_publicize,
    batch_return_import,
    batch_roster,
    batch_submit,
)


class Command(BaseCommand):
    help = (
        "补贴发放批次：create（草稿）、publicize（公示，7个工作日）、submit（报县级审核）、"
        "approve（县级财政审核，报银行）、notice（公示名单）、roster（一卡通发放花名册）、"
        "return（导入银行回盘）。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "action",
            choices=["create", "publicize", "submit", "approve", "notice", "roster", "return"],
        )
        parser.add_argument("batch", nargs="?", type=int, help="批次编号（create 以外）")
        parser.add_argument("file", nargs="?", type=Path, help="银行回盘文件（return）")
        parser.add_argument("--county", help="县（市、区）（create）")
        parser.add_argument("--year", type=int, help="年度（create）")
        parser.add_argument("--date", type=dt.date.fromisoformat, help="日期，默认今天")
        parser.add_argument("--user", help="县级财政用户（approve、roster、return）")
        parser.add_argument("--out", type=Path, help="输出的 xlsx 文件（notice、roster）")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self.run(options)
        except (ValidationError, PermissionDenied) as exc:
            message = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
            raise CommandError(message) from exc

    def run(self, options: dict[str, Any]) -> None:
        action = options["action"]
        today = options["date"] or timezone.localdate()
        if action == "create":
            county = county_labels(County.objects.all()).get((options["county"] or "").strip())
            if county is None or not options["year"]:
                raise CommandError("请用 --county 和 --year 指定县（市、区）和年度")
            created = batch_create(county=county, season=options["year"])
            self.stdout.write(f"已创建批次 {created.pk}：{created.lines.count()} 笔")
            return
        found = Batch.objects.filter(pk=options["batch"]).first()
        if found is None:
            raise CommandError(f"没有批次 {options['batch']}")
        batch = found
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"没有用户 {options['user']}")
        if action in ("approve", "roster", "return") and user is None:
            raise CommandError("请用 --user 指定县级财政用户")
        if action == "publicize":
            batch = batch_publicize(batch=batch, start=today)
            self.stdout.write(f"公示至 {batch.publicity_end:%Y-%m-%d}（7个工作日）")
        elif action == "submit":
            batch_submit(batch=batch, today=today)
            self.stdout.write("已报县级审核")
        elif action == "approve":
            assert user is not None
            batch_approve(batch=batch, user=user)
            self.stdout.write("已审核，报银行")
        elif action in ("notice", "roster"):
            if not options["out"]:
                raise CommandError("请用 --out 指定输出文件")
            if action == "notice":
                data = batch_notice(batch=batch)
            else:
                assert user is not None
                data = batch_roster(batch=batch, user=user)
            options["out"].write_bytes(data)
            self.stdout.write(f"已导出：{options['out']}")
        else:
            path = options["file"]
            if path is None or not path.is_file():
                raise CommandError("请指定银行回盘文件")
            assert user is not None
            outcome = batch_return_import(
                batch=batch, data=path.read_bytes(), name=path.name, user=user, paid_on=today
            )
            if outcome.errors:
                for error in outcome.errors:
                    self.stderr.write(str(error))
                raise CommandError(f"共 {len(outcome.errors)} 处错误，未写入任何数据。")
            self.stdout.write(
                f"回盘已导入：成功 {outcome.paid}，失败 {outcome.failed}（待更正），"
                f"未回盘 {outcome.waiting}"
            )
