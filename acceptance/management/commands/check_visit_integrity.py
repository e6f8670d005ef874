from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from acceptance.models import Inspection
from acceptance.services.integrity import Backfilled, integrity_backfill


class Command(BaseCommand):
    help = (
        "核查尚未核查的验收记录（核查功能上线前录入的、批量写入的）：为照片补算指纹，"
        "并像新到的验收记录一样标出异常（位置在县外、照片重复、行程过快、验收期外）。可重复运行。"
    )

    def handle(self, *args: Any, **options: Any) -> None:
        total = Inspection.objects.filter(integrity_checked=False).count()
        last = [time.monotonic()]

        def progress(done: Backfilled) -> None:
            if time.monotonic() - last[0] >= 5 or done.visits == total:
                last[0] = time.monotonic()
                self.stdout.write(f"已核查 {done.visits}/{total} 条验收记录")

        done = integrity_backfill(progress=progress)
        self.stdout.write(
            f"核查完成：验收记录 {done.visits} 条，补算照片指纹 {done.photos} 张，"
            f"新增异常提示 {done.flags} 条"
            + (
                f"；{done.unreadable} 张照片文件缺失或无法读取，未参与比对"
                if done.unreadable
                else ""
            )
            + "。"
        )
