from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from heating.breakdown import county_labels
from heating.models import County
from heating.sheets import TooManyRows, check_exportable
from retrofits.ledger.file import ChoiceLists, write_ledger
from retrofits.models import Household
from retrofits.selectors import ledger_rows


class Command(BaseCommand):
    help = "按台账模板导出改造户（xlsx），可再导入且不产生任何变更。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out", type=Path)
        parser.add_argument("--county", help="只导出该县（市、区），可用简称、全称或区划代码")

    def handle(self, *args: Any, **options: Any) -> None:
        households = Household.objects.all()
        counties = list(County.objects.all())
        if options["county"]:
            county = county_labels(counties).get(options["county"].strip())
            if county is None:
                raise CommandError(f"没有县（市、区）「{options['county']}」")
            households = households.in_county(county)
            counties = [county]
        count = households.count()
        try:
            check_exportable(count)
        except TooManyRows as exc:
            raise CommandError(str(exc)) from exc
        out: Path = options["out"]
        out.write_bytes(
            write_ledger(
                ledger_rows(households, user=None),
                ChoiceLists(counties=[c.short_name for c in counties]),
            )
        )
        self.stdout.write(f"已导出 {count:,} 户到 {out}")
