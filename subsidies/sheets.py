"""The subsidy templates of docs/ledger-template.md (补贴标准, 计量户号, 用能计量): their columns, the
cell parsers, and a reader for the utility's metered-use export, which may hold a million rows and
so is streamed (rows converted as they are asked for) rather than read whole."""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime as dt
import io
import itertools
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from django.conf import settings

from heating.sheet_reader import HEADER_ROWS, Refused, start_xlsx
from heating.sheets import (
    Column,
    Counted,
    SheetFile,
    SheetFileError,
    _positions,
    _sheet,
    header_key,
    limits,
    read_sheet,
    unneutralise,
)

# A season's export of a whole area: a row per customer and month. The ledger's own bound
# (MAX_UPLOAD_ROWS) is a household file's; this one is the utility's.
METER_ROWS = getattr(settings, "MAX_METER_ROWS", 3_000_000)


class Problem(ValueError):
    """A cell's value cannot be used; the message says what was expected."""


POLICY_TEMPLATE = "补贴标准"
POLICY_COLUMNS = (
    Column("year", "年度", True, "计划年度，如 2023", format="text"),
    Column(
        "county", "县（市、区）", False, "空白为全市默认标准；填县（市、区）则替代该县的默认标准"
    ),
    Column("path", "取暖路径", True, "集中供热、煤改电、煤改气、生物质热电联产"),
    Column("kind", "补贴类别", True, "设备购置补贴（每户一次）或 运行补贴（每个采暖季）"),
    Column("method", "计算方式", True, "设备购置补贴：按中标价比例 或 定额；运行补贴：按用量"),
    Column(
        "rate", "比例或单价", False, "按中标价比例：0 到 1 之间；按用量：元/千瓦时 或 元/立方米"
    ),
    Column("amount", "定额（元）", False, "计算方式为定额时必填，正数"),
    Column("free_use", "起补用量", False, "每个采暖季不予补贴的用量（千瓦时或立方米），默认 0"),
    Column("cap", "每户上限（元）", True, "正数；运行补贴为每户每个采暖季的上限"),
    Column("low_income_bonus", "低收入户加补（元）", False, "不小于 0，默认 0"),
    Column("city_share", "市级承担比例", True, "0 到 1 之间，其余由县级承担"),
)

ACCOUNT_TEMPLATE = "计量户号"
ACCOUNT_COLUMNS = (
    Column("code", "户编号", True, "台账中的户编号", format="text"),
    Column("kind", "计量类型", True, "电 或 气"),
    Column("number", "户号", True, "供电或燃气公司的户号，同一计量类型内唯一", format="text"),
)

BANK_TEMPLATE = "一卡通账户"
BANK_COLUMNS = (
    Column("code", "户编号", True, "台账中的户编号", format="text"),
    Column("number", "一卡通账号", True, "12 到 30 位数字", format="text"),
    Column("bank", "开户银行", True, ""),
    Column("holder", "账户名", True, "账户持有人姓名；与户主姓名不同时须在备注中说明原因"),
    Column("notes", "备注", False, ""),
)

USE_TEMPLATE = "用能计量"
USE_COLUMNS = (
    Column("number", "户号", True, "供电或燃气公司的户号", format="text"),
    Column("kind", "计量类型", True, "电（谷电千瓦时）或 气（立方米）"),
    Column("start_date", "起始日期", True, "如 2023-11-01", format="date"),
    Column("end_date", "截止日期", True, "如 2023-11-30，不早于起始日期", format="date"),
    Column("use", "用量", True, "不小于 0", format="number"),
)


def text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d")
    return unneutralise(str(value).strip())


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y.%m.%d", "%Y%m%d")


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PLAIN_NUMBER = re.compile(r"\d{1,12}(?:\.\d{1,2})?")


def parse_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    # The utilities' exports write ISO dates: a million rows parse them ten times faster so.
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    shown = text(value)
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(shown, fmt).date()
        except ValueError:
            continue
    raise Problem(f"「{shown}」应为日期，如 2023-11-30")


def parse_decimal(value: object, *, places: int, digits: int, percent: bool = False) -> Decimal:
    """A number of at most `digits` digits, `places` after the point, never rounded: a value
    with more places is refused rather than silently changed. With `percent`, 35% is 0.35."""
    if places == 2 and digits >= 14 and isinstance(value, str) and _PLAIN_NUMBER.fullmatch(value):
        return Decimal(value)  # the common case of a metered-use file, checked by the pattern
    shown = text(value).replace(",", "")
    if isinstance(value, float):
        # calamine gives numbers as floats; their shortest repr is what the cell showed.
        shown = repr(value)
    number_text = shown
    scale = Decimal(1)
    if percent and shown.endswith(("%", "％")):
        number_text, scale = shown[:-1], Decimal("0.01")
    try:
        number = Decimal(number_text) * scale
    except InvalidOperation:
        raise Problem(f"「{shown}」应为数字") from None
    if not number.is_finite():
        raise Problem(f"「{shown}」应为数字")
    number = number.normalize()
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise Problem(f"「{shown}」最多{places}位小数")
    if abs(number) >= 10 ** (digits - places):
        raise Problem(f"「{shown}」过大")
    return number.quantize(Decimal(1).scaleb(-places))


def parse_year(value: object) -> int:
    shown = text(value)
    if not re.fullmatch(r"\d{4}", shown):
        raise Problem(f"「{shown}」应为年份，如 2023")
    return int(shown)


# ---------------------------------------------------------------- the metered-use file


def read_small(data: bytes, name: str, template: str) -> SheetFile:
    """A policy, meter-account or bank-account file: the ledger's bounds (heating/sheets.py)."""
    columns = {
        POLICY_TEMPLATE: POLICY_COLUMNS,
        ACCOUNT_TEMPLATE: ACCOUNT_COLUMNS,
        BANK_TEMPLATE: BANK_COLUMNS,
    }[template]
    return read_sheet(data, name, columns, template=template)


def read_use(data: bytes, name: str) -> SheetFile:
    """The utility's export, its rows converted as they are asked for: an xlsx parsed in the
    sheet reader's child process (heating/sheet_reader.py), a CSV decoded line by line, so that
    memory stays bounded however many rows the season has."""
    if not data:
        raise SheetFileError("文件为空。")
    bounds = dataclasses.replace(limits(), rows=METER_ROWS)
    if name.lower().endswith(".csv"):
        return _csv_sheet(data)
    started = start_xlsx(data, bounds)

    def read() -> Counted:
        try:
            return started()
        except Refused as exc:
            raise SheetFileError(str(exc)) from exc

    return _sheet(read, USE_COLUMNS, template=USE_TEMPLATE)


def _csv_sheet(data: bytes) -> SheetFile:
    """heating/sheets.py's reading of a CSV (the header among the first five rows, the columns
    by their headers), with the rows handed on as the csv module gives them: blank ones are
    skipped by the import, which at a million rows saves a generator step a row."""
    rows, height = _stream_csv(data, METER_ROWS)
    head = list(itertools.islice(rows, HEADER_ROWS))
    key = USE_COLUMNS[0].header
    at = next(
        (i for i, (_, row) in enumerate(head) if any(header_key(v) == key for v in row)), None
    )
    if at is None:
        names = "、".join(c.header for c in USE_COLUMNS[:3])
        raise SheetFileError(
            f"找不到表头：第一行应为{USE_TEMPLATE}模板的列名（{names}……）。"
            f"请下载{USE_TEMPLATE}模板填写。"
        )
    number, header = head[at]
    return SheetFile(
        positions=_positions(header, USE_COLUMNS, template=USE_TEMPLATE),
        rows=itertools.chain(head[at + 1 :], rows),
        total=height - number,
        header=header,
    )


def csv_encoding(data: bytes) -> str:
    """UTF-8 if the whole file decodes as such (checked piecewise: no second copy of the file),
    else GB18030, as Chinese Excel saves a CSV."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 1 << 20
    try:
        for at in range(0, len(data), step):
            decoder.decode(data[at : at + step], final=at + step >= len(data))
    except UnicodeDecodeError:
        try:
            codecs.getincrementaldecoder("gb18030")().decode(data[: 1 << 16], final=False)
        except UnicodeDecodeError:
            raise SheetFileError("无法识别 CSV 文件的编码，请保存为 UTF-8 或 GBK 编码。") from None
        return "gb18030"
    return "utf-8-sig"


def _stream_csv(data: bytes, bound: int) -> Counted:
    lines = data.count(b"\n")
    if lines > bound + HEADER_ROWS:
        raise SheetFileError(
            f"文件有 {lines:,} 行，超过每次导入 {bound:,} 行的上限，请分成几个文件上传。"
        )
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=csv_encoding(data), newline="")
    rows: Iterator[tuple[int, list[str]]] = enumerate(csv.reader(stream), start=1)
    return rows, lines
