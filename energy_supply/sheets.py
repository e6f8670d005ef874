"""The supply templates of docs/ledger-template.md (供用气合同, 电网改造工程, 燃气管网工程):
their columns, a file read within the supply's bounds, each row read into a model's values with
every error by row and column, and the rows of an export in the same layout. Files are small (a
row per contract or per works, at most MAX_SUPPLY_ROWS), so rows are read into memory and checked
one by one against look-ups loaded once; what only the database knows is asked for the whole file
at once (energy_supply/services/imports.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import models

from energy_supply.models import GasContract, GasNetwork, GridUpgrade, season_label
from heating.breakdown import county_labels
from heating.models import County, Township, Village
from heating.sheet_reader import HEADER_ROWS, Limits, Refused, check_csv, check_xlsx
from heating.sheets import (
    Column,
    SheetError,
    SheetFile,
    SheetFileError,
    limits,
    read_sheet,
    unneutralise,
    write_sheet,
)
from retrofits.validators import DivisionIndex, name_key, village_name_keys

# The largest value of a PositiveIntegerField on every database.
MAX_INTEGER = 2_147_483_647
PROGRESS_ROWS = 2000  # rows read between progress reports


class Problem(ValueError):
    """A cell's value cannot be used; the message says what was expected."""


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d")
    return unneutralise(str(value).strip())


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y.%m.%d")


def parse_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise Problem(f"「{text}」应为日期，如 2023-10-12、2023/10/12 或 2023年10月12日")


def parse_positive(value: object, places: int = 2, digits: int = 12) -> Decimal:
    """A positive number of at most `digits` digits, `places` of them after the point (the
    column's max_digits and decimal_places: PostgreSQL refuses a larger one)."""
    text = _text(value).replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise Problem(f"「{text}」应为数字") from None
    if not number.is_finite() or number <= 0:
        raise Problem(f"「{text}」应为正数")
    # Before rounding too: rounding a very large number overflows the decimal context.
    if number >= 10 ** (digits - places) or (number := round(number, places)) >= 10 ** (
        digits - places
    ):
        raise Problem(f"「{text}」过大，整数部分最多{digits - places}位")
    return number


def parse_whole(value: object) -> int:
    number = parse_positive(value, places=6, digits=16)
    if number != number.to_integral_value():
        raise Problem(f"「{_text(value)}」应为正整数")
    if number > MAX_INTEGER:
        raise Problem(f"「{_text(value)}」过大")
    return int(number)


def parse_season(value: object) -> int:
    """2023-2024 (also 2023—2024, 2023/2024, 2023至2024) → 2023; the seasons the database keeps
    (2000 to 2100)."""
    text = _text(value)
    match = re.fullmatch(r"(\d{4})\s*[-－—~～/至]\s*(\d{4})(?:年?采暖季)?", text)
    if (
        not match
        or int(match.group(2)) != int(match.group(1)) + 1
        or not 2000 <= int(match.group(1)) <= 2100
    ):
        raise Problem(f"「{text}」应为采暖季，如 2023-2024")
    return int(match.group(1))


@dataclass(frozen=True)
class Template:
    """One supply template: its columns, its model and how a row becomes the model's values."""

    name: str  # 供用气合同
    model: type[models.Model]
    columns: tuple[Column, ...]
    status_labels: dict[str, str] = field(default_factory=dict)  # label -> value

    @property
    def header_of(self) -> dict[str, str]:
        return {c.field: c.header for c in self.columns}

    def read(self, data: bytes, name: str) -> SheetFile:
        return read_sheet(data, name, self.columns, template=self.name)


CONTRACT = Template(
    "供用气合同",
    GasContract,
    (
        Column("code", "合同编号", True, "全市唯一", format="text"),
        Column("county", "县（市、区）", True, "任务分解表的16个单位之一，也可填区划代码或全称"),
        Column("supplier", "供气企业", True, ""),
        Column("signed_on", "签订日期", True, "如 2023-03-15", format="date"),
        Column("season", "采暖季", True, "如 2023-2024", format="text"),
        Column("volume_10k_m3", "合同气量（万立方米）", True, "正数", format="number"),
        Column("households", "可保障户数", True, "正整数：合同气量可保障的户数", format="number"),
    ),
)
UPGRADE = Template(
    "电网改造工程",
    GridUpgrade,
    (
        Column("code", "工程编号", True, "全市唯一", format="text"),
        Column("county", "县（市、区）", True, "任务分解表的16个单位之一，也可填区划代码或全称"),
        Column("township", "乡（镇、街道）", True, "本县的乡镇或街道"),
        Column("village", "村（社区）", False, "空白表示整个乡（镇、街道）"),
        Column("capacity_kva", "新增配变容量（kVA）", True, "正数", format="number"),
        Column("status", "状态", True, "未开工、施工中、已投运"),
        Column("energized_on", "投运日期", False, "已投运时必填", format="date"),
    ),
    {s.label: s.value for s in GridUpgrade.Status},
)
NETWORK = Template(
    "燃气管网工程",
    GasNetwork,
    (
        Column("code", "工程编号", True, "全市唯一", format="text"),
        Column("county", "县（市、区）", True, "任务分解表的16个单位之一，也可填区划代码或全称"),
        Column("township", "乡（镇、街道）", True, "本县的乡镇或街道"),
        Column("village", "村（社区）", False, "空白表示整个乡（镇、街道）"),
        Column("length_km", "管网长度（公里）", True, "正数", format="number"),
        Column("company", "燃气企业", True, ""),
        Column("status", "状态", True, "未开工、施工中、已通气"),
        Column("supplied_on", "通气日期", False, "已通气时必填", format="date"),
    ),
    {s.label: s.value for s in GasNetwork.Status},
)
TEMPLATES = {"contracts": CONTRACT, "upgrades": UPGRADE, "networks": NETWORK}
# The date each works status needs.
READY_DATE: dict[type[models.Model], str] = {GridUpgrade: "energized_on", GasNetwork: "supplied_on"}


# ---------------------------------------------------------------- a file within the bounds


def supply_limits() -> Limits:
    """The bounds of an uploaded file (heating/sheets.py), with the rows a county's supply file
    may hold: a city's works are a few thousand, so a larger file is a wrong file."""
    return dataclasses.replace(limits(), rows=settings.MAX_SUPPLY_ROWS)


def too_many_rows(count: int) -> str:
    return (
        f"文件有 {count:,} 行，超过每次导入 {settings.MAX_SUPPLY_ROWS:,} 行的上限，"
        "请分成几个文件上传（例如按县或乡镇分开）。"
    )


def check_supply_file(data: bytes, name: str) -> None:
    """What the file says of its size before anything is parsed (the zip's directory and the
    sheet's declared size; a CSV's lines): a file over the bounds is refused at the upload, in
    milliseconds, and never queued."""
    if not data:
        raise SheetFileError("文件为空。")
    csv = name.lower().endswith(".csv")
    if csv and (lines := data.count(b"\n")) > settings.MAX_SUPPLY_ROWS + HEADER_ROWS:
        raise SheetFileError(too_many_rows(lines))
    try:
        # A CSV's size and longest line too: one 49 MB cell is refused here, not in the job.
        (check_csv if csv else check_xlsx)(data, supply_limits())
    except Refused as exc:
        raise SheetFileError(str(exc)) from exc


@dataclass(frozen=True)
class SupplySheet:
    """A supply file read whole: its header, the columns' positions and its non-blank rows,
    which the import checks and, when it fails, the annotated copy writes again."""

    positions: dict[str, int]
    header: Sequence[object]
    rows: list[tuple[int, Sequence[object]]]

    def sheet_file(self) -> SheetFile:
        """The rows again, as heating/sheets.py's writers take them."""
        return SheetFile(
            positions=self.positions, rows=iter(self.rows), total=len(self.rows), header=self.header
        )


def read_supply_file(template: Template, data: bytes, name: str) -> SupplySheet:
    """The file's rows, refused (SheetFileError, in Chinese) when it is not the template or holds
    more than MAX_SUPPLY_ROWS rows: an xlsx whose zip does not declare its size is refused once
    the parser has counted its rows, before any row is converted."""
    check_supply_file(data, name)
    sheet = template.read(data, name)
    bound = settings.MAX_SUPPLY_ROWS
    if sheet.total > bound + HEADER_ROWS:
        raise SheetFileError(too_many_rows(sheet.total))
    rows = list(itertools.islice(sheet.rows, bound + 1))
    if len(rows) > bound:
        raise SheetFileError(too_many_rows(len(rows)))
    return SupplySheet(positions=sheet.positions, header=sheet.header, rows=rows)


# ---------------------------------------------------------------- rows


@dataclass
class ReadRow:
    row: int
    values: dict[str, Any]  # a field's value; None where blank or wrong


ReadProgress = Callable[[int], None]  # rows read so far


class RowReader:
    """Turns a template's rows into model values with every problem of each row; look-ups are
    loaded once per file (the counties, and the townships and villages: one query each)."""

    def __init__(self, template: Template, *, today: dt.date) -> None:
        self.template = template
        self.today = today
        self.counties = county_labels(County.objects.all())
        self.divisions: DivisionIndex | None = None
        if template is not CONTRACT:
            townships = list(Township.objects.all())
            villages = list(Village.objects.all())
            self.divisions = DivisionIndex(townships, villages)
            # Names anywhere in the city: where the county or township is wrong, a township or
            # village that is none of the city's is a second error of the row, not a hidden one.
            self.township_names = {k for t in townships for k in (name_key(t.name), t.code)}
            self.village_names = {k for v in villages for k in village_name_keys(v.name) | {v.code}}
        model: Any = template.model
        self.parsers: dict[str, Callable[[object], Any]] = {
            "signed_on": parse_date,
            "season": parse_season,
            "households": parse_whole,
            "energized_on": parse_date,
            "supplied_on": parse_date,
        }
        for column in template.columns:
            found = model._meta.get_field(column.field)
            if isinstance(found, models.DecimalField):
                self.parsers[column.field] = functools.partial(
                    parse_positive, places=found.decimal_places, digits=found.max_digits
                )
        self.ready_date = READY_DATE.get(model)
        self.header_of = template.header_of

    def read(
        self,
        rows: Iterable[tuple[int, Sequence[object]]],
        positions: dict[str, int],
        progress: ReadProgress | None = None,
    ) -> tuple[list[ReadRow], list[SheetError]]:
        """Every row, read; and every problem of every row. A code twice in the file is an error
        of each row after the first."""
        read: list[ReadRow] = []
        errors: list[SheetError] = []
        codes: dict[str, int] = {}
        header_of = self.header_of
        for count, (number, cells) in enumerate(rows, start=1):
            width = len(cells)
            raw = {f: cells[i] if i < width else None for f, i in positions.items()}
            values, problems = self.row(raw)
            code = values.get("code")
            if code and codes.setdefault(code, number) != number:
                problems.append(("code", f"编号「{code}」与第{codes[code]}行重复"))
            errors += [
                SheetError(number, header_of[f], _text(raw.get(f)), message)
                for f, message in problems
            ]
            read.append(ReadRow(number, values))
            if progress is not None and count % PROGRESS_ROWS == 0:
                progress(count)
        return read, errors

    def row(self, raw: dict[str, object]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        values: dict[str, Any] = {}
        problems: list[tuple[str, str]] = []
        for column in self.template.columns:
            value = raw.get(column.field)
            text = _text(value)
            if not text:
                if column.required:
                    problems.append((column.field, "必填，不能为空"))
                values[column.field] = None
                continue
            try:
                values[column.field] = self.value(column.field, value, text, values)
            except Problem as exc:
                values[column.field] = None
                problems.append((column.field, str(exc)))
        status, date_field = values.get("status"), self.ready_date
        if date_field:
            day = values.get(date_field)
            if day is not None and day > self.today:
                header = self.header_of[date_field]
                problems.append((date_field, f"{header}{day:%Y-%m-%d}晚于今天"))
            if status:
                ready = status == self.template.model.READY  # type: ignore[attr-defined]
                wrong = date_field in dict(problems)
                if ready and day is None and not wrong:
                    problems.append((date_field, f"状态为“{raw.get('status')}”时必填"))
                if not ready and day is not None:
                    problems.append((date_field, f"状态为“{raw.get('status')}”时不应填写"))
        return values, problems

    def value(self, name: str, value: object, text: str, values: dict[str, Any]) -> Any:
        if name in self.parsers:
            return self.parsers[name](value)
        if name == "county":
            county = self.counties.get(text)
            if county is None:
                raise Problem(f"「{text}」不是任务分解表的16个县（市、区）之一")
            return county
        if name == "township":
            assert self.divisions is not None
            county = values.get("county")
            if county is None:  # blank or wrong: is it a township of the city at all?
                if text not in self.township_names and name_key(text) not in self.township_names:
                    raise Problem(f"「{text}」不是本市的乡（镇、街道）")
                return None
            township = self.divisions.township(county.pk, text)
            if township is None:
                raise Problem(f"「{text}」不是{county.short_name}的乡（镇、街道）")
            return township
        if name == "village":
            assert self.divisions is not None
            township = values.get("township")
            if township is None:
                if text not in self.village_names and name_key(text) not in self.village_names:
                    raise Problem(f"「{text}」不是本市的村（社区）")
                return None
            village = self.divisions.village(township, text)
            if village is None:
                raise Problem(f"「{text}」不是该乡（镇、街道）的村（社区）")
            return village
        if name == "status":
            if text not in self.template.status_labels:
                raise Problem(f"「{text}」应为 {'、'.join(self.template.status_labels)}")
            return self.template.status_labels[text]
        limit = self.template.model._meta.get_field(name).max_length  # type: ignore[union-attr]
        if limit and len(text) > limit:
            raise Problem(f"最多{limit}个字符，「{text}」有{len(text)}个")
        return text


def export_rows(template: Template, records: Iterable[Any]) -> Iterable[Sequence[object]]:
    """Records in the template's layout and wording; the export imports again unchanged."""
    for record in records:
        row: list[object] = []
        for column in template.columns:
            value = getattr(record, column.field)
            if column.field == "season":
                value = season_label(value)
            elif column.field == "status":
                value = record.get_status_display()
            elif isinstance(value, models.Model):
                value = value.short_name if isinstance(value, County) else str(value)
            elif isinstance(value, Decimal):
                value = float(value)
            row.append(value)
        yield row


def write_template(template: Template, records: Iterable[Any], counties: Sequence[str]) -> bytes:
    return write_sheet(
        export_rows(template, records),
        template.columns,
        title=template.name,
        lists={"county": list(counties), "status": list(template.status_labels)},
        strict=("county", "status"),
    )
