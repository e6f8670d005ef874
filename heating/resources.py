"""The task-breakdown table through django-import-export: one format, one resource.

The admin's import page, `import_targets` and `export_targets` all go through these two classes, so
the printed layout, the checks and the all-or-nothing write exist once.
"""

from __future__ import annotations

from typing import Any

import tablib
from django.core.exceptions import ValidationError
from import_export import resources
from import_export.fields import Field
from import_export.formats.base_formats import XLSX
from import_export.results import Result, RowResult

from heating import breakdown
from heating.breakdown import FLAT_HEADERS, ROW_HEADER, TableError
from heating.models import County, PlanYear
from heating.selectors import targets_of_year
from heating.services import targets_import


class TaskBreakdownXLSX(XLSX):
    """The printed layout (title, unit row, merged two-row header) instead of a plain header row."""

    def get_title(self) -> str:
        return "任务分解表（xlsx）"

    def create_dataset(self, in_stream: bytes) -> tablib.Dataset:
        return breakdown.read_printed(in_stream)

    def export_data(self, dataset: tablib.Dataset, **kwargs: Any) -> bytes:
        return breakdown.write_printed(dataset)


class TargetBreakdownResource(resources.Resource):
    """A year's targets as the table: one row per county, 8 stored cells each.

    It overrides import_data whole: the table is checked and written as one unit (every county row
    depends on the 总计 row), which the library's row-by-row loop cannot express.
    """

    def __init__(self, plan_year: PlanYear | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan_year = plan_year

    @classmethod
    def get_display_name(cls) -> str:
        return "任务分解表"

    def get_user_visible_fields(self) -> list[Field]:
        return [Field(column_name=header) for header in FLAT_HEADERS]

    def _require_year(self) -> PlanYear:
        if self.plan_year is None:
            raise ValueError("TargetBreakdownResource needs a plan_year")
        return self.plan_year

    def import_data(self, dataset: tablib.Dataset, dry_run: bool = False, **kwargs: Any) -> Result:
        plan_year = self._require_year()
        result = Result()
        result.diff_headers = [ROW_HEADER, *FLAT_HEADERS]
        result.total_rows = len(dataset)
        table, errors = breakdown.check(
            dataset, counties=list(County.objects.all()), year=plan_year.year
        )
        if errors:
            _add_invalid_rows(result, dataset, errors)
            return result

        changes = targets_import(plan_year=plan_year, breakdown=table, dry_run=dry_run)
        records = {int(r[ROW_HEADER]): r for r in dataset.dict}
        for county, change in changes.items():
            record = records[table.rows[county]]
            row_result = RowResult()
            row_result.import_type = change.value
            row_result.diff = [record[h] for h in result.diff_headers]
            row_result.object_repr = county.short_name
            result.append_row_result(row_result)
            result.increment_row_result_total(row_result)
        return result

    def export(self, queryset: Any = None, **kwargs: Any) -> tablib.Dataset:
        plan_year = self._require_year()
        return breakdown.flat_dataset(
            f"忻州市{plan_year.year}年冬季清洁取暖改造任务分解表",
            targets_of_year(plan_year=plan_year),
        )


def _add_invalid_rows(result: Result, dataset: tablib.Dataset, errors: list[TableError]) -> None:
    """The errors as the admin shows them: one entry per spreadsheet row, keyed by column."""
    records = {int(r[ROW_HEADER]): r for r in dataset.dict}
    by_row: dict[int | None, dict[str, list[str]]] = {}
    for error in errors:
        by_row.setdefault(error.row, {}).setdefault(error.column, []).append(str(error))
    for row, messages in by_row.items():
        result.append_invalid_row(
            number=row if row is not None else "整表",
            row=records.get(row or 0, {}),
            validation_error=ValidationError(messages),
        )
