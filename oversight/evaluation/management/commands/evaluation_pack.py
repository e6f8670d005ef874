"""evaluation_pack --year 2023 --as-of 2024-04-30 --out DIR [--seed S] [--sample N]: the
self-evaluation pack (report .docx, 绩效自评表 .xlsx, 一户一档抽样 .pdf) into DIR, its digest printed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from heating.models import PlanYear
from oversight.evaluation.pack import gather, write_pack
from oversight.evaluation.services import default_seed, indicators_load

DEFAULT_SAMPLE = 100


class Command(BaseCommand):
    help = "生成绩效自评材料：自评报告（.docx）、绩效自评表（.xlsx）、一户一档抽样（.pdf）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, required=True)
        parser.add_argument("--as-of", required=True, help="数据截至日期，如 2024-04-30")
        parser.add_argument("--out", required=True, help="输出目录")
        parser.add_argument("--seed", default="", help="抽样种子（默认：年度-截至日期）")
        parser.add_argument("--sample", type=int, default=DEFAULT_SAMPLE, help="抽样户数")

    def handle(self, *args: Any, **options: Any) -> None:
        plan_year = PlanYear.objects.filter(year=options["year"]).first()
        if plan_year is None:
            raise CommandError(f"没有{options['year']}年度的计划")
        try:
            as_of = dt.date.fromisoformat(options["as_of"])
        except ValueError as exc:
            raise CommandError(f"截至日期「{options['as_of']}」应写作 2024-04-30") from exc
        if not 1 <= options["sample"] <= 1000:
            raise CommandError("抽样户数应在1到1000之间")
        if not plan_year.indicators.exists():
            added = indicators_load(plan_year=plan_year)
            self.stdout.write(f"载入标准绩效指标 {added} 项")
        seed = options["seed"] or default_seed(plan_year, as_of)

        def progress(step: str, percent: int) -> None:
            self.stdout.write(f"[{percent:3d}%] {step}")

        content = gather(
            plan_year=plan_year, as_of=as_of, seed=seed, sample_size=options["sample"],
            progress=progress,
        )  # fmt: skip
        files = write_pack(content, Path(options["out"]), progress=progress)
        for path in (files.report, files.table, files.evidence):
            self.stdout.write(f"{path}")
        self.stdout.write(f"自评得分 {content.evaluation.total}；内容摘要 {content.digest}")
