"""The supply templates of docs/ledger-template.md (供用气合同, 电网改造工程, 燃气管网工程):
their columns, each row read into a model's values with every error by row and column, and the
rows of an export in the same layout. Files are small (a row per contract or per works), so rows
are read into memory and checked one by one against look-ups loaded once."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models

from energy_supply.models import GasContract, GasNetwork, GridUpgrade, season_label
from heating.breakdown import county_labels
from heating.models import County
from heating.sheets import Column, SheetError, SheetFile, read_sheet, unneutralise, write_sheet
from retrofits.validators import DivisionIndex


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


def parse_positive(value: object, places: int = 2) -> Decimal:
    text = _text(value).replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise Problem(f"「{text}」应为数字") from None
    if not number.is_finite() or number <= 0:
        raise Problem(f"「{text}」应为正数")
    return round(number, places)


def parse_whole(value: object) -> int:
    number = parse_positive(value, places=6)
    if number != number.to_integral_value():
        raise Problem(f"「{_text(value)}」应为正整数")
    return int(number)


def parse_season(value: object) -> int:
    """2023-2024 (also 2023—2024, 2023/2024, 2023至2024) → 2023."""
    text = _text(value)
    match = re.fullmatch(r"(\d{4})\s*[-－—~～/至]\s*(\d{4})(?:年?采暖季)?", text)
    if not match or int(match.group(2)) != int(match.group(1)) + 1:
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


@dataclass
class ReadRow:
    row: int
    values: dict[str, Any]


class RowReader:
    """Turns a template's rows into model values; look-ups are loaded once per file."""

    def __init__(self, template: Template) -> None:
        self.template = template
        self.counties = county_labels(County.objects.all())
        self.divisions = DivisionIndex() if template is not CONTRACT else None
        self.parsers: dict[str, Callable[[object], Any]] = {
            "signed_on": parse_date,
            "season": parse_season,
            "volume_10k_m3": parse_positive,
            "households": parse_whole,
            "capacity_kva": lambda v: parse_positive(v, 1),
            "length_km": parse_positive,
            "energized_on": parse_date,
            "supplied_on": parse_date,
        }

    def read(self, sheet: SheetFile) -> tuple[list[ReadRow], list[SheetError]]:
        rows: list[ReadRow] = []
        errors: list[SheetError] = []
        codes: dict[str, int] = {}
        for number, cells in sheet.rows:
            raw = {f: cells[i] if i < len(cells) else None for f, i in sheet.positions.items()}
            values, problems = self.row(raw)
            code = values.get("code")
            if code and codes.setdefault(code, number) != number:
                problems.append(("code", f"编号「{code}」与第{codes[code]}行重复"))
            header_of = self.template.header_of
            errors += [
                SheetError(number, header_of[f], _text(raw.get(f)), message)
                for f, message in problems
            ]
            if not problems:
                rows.append(ReadRow(number, values))
        return rows, errors

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
                problems.append((column.field, str(exc)))
        status = values.get("status")
        date_field = READY_DATE.get(self.template.model)
        if status and date_field:
            ready = status == self.template.model.READY  # type: ignore[attr-defined]
            if ready and values.get(date_field) is None and date_field not in dict(problems):
                problems.append((date_field, f"状态为“{raw.get('status')}”时必填"))
            if not ready and values.get(date_field) is not None:
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
            county = values.get("county")
            assert self.divisions is not None
            township = self.divisions.township(county.pk, text) if county else None
            if county and township is None:
                raise Problem(f"「{text}」不是{county.short_name}的乡（镇、街道）")
            return township
        if name == "village":
            township = values.get("township")
            assert self.divisions is not None
            village = self.divisions.village(township, text) if township else None
            if township and village is None:
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
