from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from heating.sheet_reader import Refused
from retrofits.resources import TenderCSV, TenderItemResource, TenderXLSX


class Command(BaseCommand):
    help = "导入中标设备清单（xlsx 或 csv，按模板列名）。全部正确才写入。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"找不到文件：{path}")
        if path.stat().st_size > settings.MAX_UPLOAD_MB * 2**20:
            raise CommandError(f"文件超过 {settings.MAX_UPLOAD_MB} MB 的上限")
        # The admin's upload and this read the file the same way: the bounded reader.
        file_format = TenderCSV() if path.suffix.lower() == ".csv" else TenderXLSX()
        try:
            dataset = file_format.create_dataset(path.read_bytes())
        except Refused as exc:
            raise CommandError(str(exc)) from exc
        resource = TenderItemResource()
        result = resource.import_data(
            dataset, dry_run=False, raise_errors=False, rollback_on_validation_errors=True
        )
        headers = {name: f.column_name for name, f in resource.fields.items()}
        if result.has_errors() or result.has_validation_errors():
            for row in result.invalid_rows:
                for column, messages in row.error_dict.items():
                    for message in messages:
                        header = headers.get(column, column)
                        self.stderr.write(f"第{row.number + 1}行「{header}」：{message}")
            for line, errors in result.row_errors():
                for error in errors:
                    self.stderr.write(f"第{line + 1}行：{error.error}")
            raise CommandError("中标设备清单有错误，未写入任何数据。")
        totals = result.totals
        self.stdout.write(
            f"中标设备清单：新增 {totals['new']}，更新 {totals['update']}，未变 {totals['skip']}。"
        )
