"""The task-breakdown table through django-import-export: one format, one resource. And the
formats through which every django-import-export upload is read: the portal's bounded reader.

The admin's import page, `import_targets` and `export_targets` all go through these two classes, so
the printed layout, the checks and the all-or-nothing write exist once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import tablib
from django.core.exceptions import ValidationError
from import_export import resources
from import_export.fields import Field
from import_export.formats.base_formats import CSV, XLSX
from import_export.results import Result, RowResult

from heating import breakdown
from heating.breakdown import FLAT_HEADERS, ROW_HEADER, TableError
from heating.models import County, PlanYear
from heating.selectors import targets_of_year
from heating.services import targets_import
from heating.sheet_reader import SPLIT, Limits, Read, read_csv, read_xlsx
from heating.sheets import limits

# ---------------------------------------------------------------- bounded formats


class BoundedFormat:
    """A django-import-export format whose file is read by the portal's bounded reader
    (heating/sheet_reader.py: the zip's directory and the declared size checked first, then parsed
    in a child process under a memory ceiling), never by tablib in the web process: there a 1.6 KB
    xlsx declaring cell XFD1048576 took the admin's import from 170 MB to 5.9 GB. A file over the
    bounds raises sheet_reader.Refused, whose message (Chinese) the admin shows on the form.

    A subclass sets the rows a file of its resource may hold and what the refusal advises."""

    max_rows: ClassVar[int] = 300_000
    max_mb: ClassVar[int] = 600  # once unzipped (xlsx) or as uploaded (CSV)
    advice: ClassVar[str] = SPLIT

    def limits(self) -> Limits:
        bounds = limits()
        return dataclasses.replace(
            bounds,
            rows=min(self.max_rows, bounds.rows),
            uncompressed=min(self.max_mb * 2**20, bounds.uncompressed),
            advice=self.advice,
        )

    def is_binary(self) -> bool:
        return True  # the reader takes the bytes, and finds a CSV's encoding itself

    def get_read_mode(self) -> str:
        return "rb"

    def read(self, data: bytes, bounds: Limits) -> Read:
        raise NotImplementedError

    def create_dataset(self, in_stream: bytes | str) -> tablib.Dataset:
        data = in_stream.encode() if isinstance(in_stream, str) else in_stream
        rows, _ = self.read(data, self.limits())
        return sheet_dataset(row for _, row in rows)


class BoundedXLSX(BoundedFormat, XLSX):
    def read(self, data: bytes, bounds: Limits) -> Read:
        return read_xlsx(data, bounds)


class BoundedCSV(BoundedFormat, CSV):
    """A CSV in UTF-8 or GBK (GB18030), as the ledger's: django-import-export's own took UTF-8 only."""

    def read(self, data: bytes, bounds: Limits) -> Read:
        return read_csv(data, bounds)


def sheet_dataset(rows: Iterable[Sequence[object]]) -> tablib.Dataset:
    """Rows as tablib would have made them: the first row that is not blank gives the headers,
    blank rows are left out, each row is as wide as the headers. Whole numbers come as int, as
    the sheet shows them (the parser gives every number as a float: a model 3000 is not 3000.0)."""
    dataset = tablib.Dataset()
    width = None
    for row in rows:
        if not any(value not in (None, "") for value in row):
            continue
        values = [int(v) if isinstance(v, float) and v.is_integer() else v for v in row]
        if width is None:
            dataset.headers = ["" if v is None else str(v).strip() for v in values]
            width = len(values)
        else:
            dataset.append((values + [""] * width)[:width])
    return dataset


# ---------------------------------------------------------------- the task-breakdown table


class TaskBreakdownXLSX(XLSX):
    """The printed layout (title, unit row, merged two-row header) instead of a plain header row,
    read by the bounded reader too (breakdown.read_printed)."""

    max_mb = breakdown.TABLE_MB  # the admin's form refuses a larger upload before reading it

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
