from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from heating.models import PlanYear
from heating.sheets import SheetFile
from retrofits.choices import Stage
from retrofits.demo import AFTER_HOUSEHOLDS, BEFORE_HOUSEHOLDS, DemoCity, household_rows
from retrofits.ledger.file import COLUMNS
from retrofits.ledger.jobs import ledger_import_rows
from retrofits.models import Household


class Command(BaseCommand):
    help = (
        "生成演示城市：按任务数生成改造户（真实村庄、合法身份证号、虚构姓名）及其施工进度，经台账导入写入，"
        "并由各模块补充能源保障、验收记录等；--as-of 生成某一天的城市。可重复运行，不会重复写入。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", type=float, default=0.01, help="占任务数的比例，1.0 为全量")
        parser.add_argument("--year", type=int, default=2023)
        parser.add_argument("--seed", type=int, default=2023)
        parser.add_argument(
            "--as-of",
            type=dt.date.fromisoformat,
            help="生成这一天的城市（如 2023-08-01）；默认为该年度绩效评价截止日，即整个采暖季之后",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        plan_year = PlanYear.objects.filter(year=options["year"]).first()
        if plan_year is None:
            raise CommandError(
                f"没有 {options['year']} 年度的计划：先运行 load_reference 和 import_targets"
            )
        started = time.perf_counter()

        def say(message: str) -> None:
            self.stdout.write(f"[{time.perf_counter() - started:5.1f} 秒] {message}")
            self.stdout.flush()

        as_of = options["as_of"] or plan_year.evaluation_due
        city = DemoCity(plan_year, options["scale"], options["seed"], as_of, say)
        say(f"生成演示城市：{plan_year.year}年度，比例 {city.scale:g}，截至 {as_of:%Y-%m-%d}")
        for step in BEFORE_HOUSEHOLDS:
            step(city)
        # Only what differs from the ledger is imported, so that running again writes nothing;
        # an accepted household's stage belongs to its visits, and the ledger leaves it alone.
        held = dict(Household.objects.values_list("code", "stage"))
        code, stage = (
            next(i for i, c in enumerate(COLUMNS) if c.field == f) for f in ("code", "stage")
        )
        labels = {label: value for value, label in Stage.choices}
        rows = [
            row
            for row in household_rows(
                scale=city.scale, year=plan_year.year, seed=city.seed, as_of=as_of
            )
            if held.get(str(row[code])) not in (labels[str(row[stage])], Stage.ACCEPTED)
        ]
        say(f"已生成演示改造户，其中 {len(rows):,} 户与台账不同，经台账导入写入……")
        if rows:
            self._import(rows, say)
        for step in AFTER_HOUSEHOLDS:
            step(city)
        say("演示城市已就绪。")

    def _import(self, rows: list[list[object]], say: Callable[[str], None]) -> None:
        ledger = SheetFile(
            positions={c.field: i for i, c in enumerate(COLUMNS)},
            rows=enumerate(rows, start=2),
            total=len(rows),
        )
        outcome = ledger_import_rows(
            ledger=ledger,
            name="演示数据.xlsx",
            source="演示数据",
            progress=lambda phase, done, total: say(f"  {phase} {done:,} / {total:,}"),
            first_load=True,  # the server's own command: into an empty ledger, the fast way
        )
        if outcome.errors:
            for error in outcome.errors[:20]:
                self.stderr.write(str(error))
            raise CommandError(f"生成的数据有 {len(outcome.errors)} 处错误")
        say(f"台账导入完成：新增 {outcome.created:,} 户，更新 {outcome.updated:,} 户。")
