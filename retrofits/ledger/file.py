"""The household ledger template (清洁取暖改造户台账): its columns, and reading and writing it
through the shared template engine (heating/sheets.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from heating.models import AreaType, HeatingPath
from heating.sheets import NO, YES, Column, SheetFile, read_sheet, start_sheet, write_sheet
from retrofits.choices import Stage

SHEET_TITLE = "清洁取暖改造户台账"
TEMPLATE = "台账"

COLUMNS: tuple[Column, ...] = (
    Column("code", "户编号", True, "全市唯一，最多32个字符", format="text"),
    Column("county", "县（市、区）", True, "任务分解表的16个单位之一，也可填区划代码或全称"),
    Column("township", "乡（镇、街道）", True, "本县的乡镇或街道（忻州城区用忻府区的街道）"),
    Column("village", "村（社区）", True, "该乡镇的村或社区，可省略“村委会”“居委会”"),
    Column("head_name", "户主姓名", True, ""),
    Column(
        "id_number",
        "身份证号",
        True,
        "18位，请将本列设为文本格式；一个身份证号只能登记一户",
        format="text",
        width=22,
    ),
    Column(
        "phone",
        "联系电话",
        False,
        "11位手机号，或带区号的固定电话，如 0350-3031234",
        format="text",
    ),
    Column("area", "城乡类型", True, "城区/县城 或 农村"),
    Column("path", "取暖路径", True, "集中供热、煤改电、煤改气、生物质热电联产"),
    Column(
        "equipment",
        "设备型号",
        False,
        "煤改电、煤改气自“已选型”起必填，须为中标设备清单中该路径的型号",
    ),
    Column("stage", "实施进度", True, "已确户、已选型、施工中、已完工（已验收由验收记录产生）"),
    Column(
        "completed_on",
        "完工日期",
        False,
        "已完工时必填，如 2023-10-12，不晚于今天",
        format="date",
    ),
    Column("low_income", "低收入户", False, "是 或 否（空白为否）"),
    Column("notes", "备注", False, "", width=30),
    # Optional, and last: a file without it still imports (blank: importer.default_year()).
    Column(
        "plan_year",
        "任务年度",
        False,
        "计入哪一年度的任务，如 2023；空白：新户为上传当日所在施工期的年度，已有的户不变",
    ),
)
HEADERS: tuple[str, ...] = tuple(c.header for c in COLUMNS)
BY_HEADER = {c.header: c for c in COLUMNS}
HEADER_OF = {c.field: c.header for c in COLUMNS}

PATH_NAMES: dict[str, str] = {p.label: p.value for p in HeatingPath} | {
    "集中供热（工业余热）": HeatingPath.DISTRICT.value
}
AREA_NAMES: dict[str, str] = {a.label: a.value for a in AreaType}
STAGE_NAMES: dict[str, str] = {s.label: s.value for s in Stage}


def read_ledger(data: bytes, name: str) -> SheetFile:
    return read_sheet(data, name, COLUMNS, template=TEMPLATE)


def start_ledger(data: bytes, name: str) -> Callable[[], SheetFile]:
    """read_ledger() in two steps (heating.sheets.start_sheet): the sheet is parsed meanwhile."""
    return start_sheet(data, name, COLUMNS, template=TEMPLATE)


@dataclass(frozen=True)
class ChoiceLists:
    """The values the template's drop-downs offer."""

    counties: Sequence[str]
    townships: Sequence[str] = ()
    equipment: Sequence[str] = ()
    years: Sequence[str] = ()


def write_ledger(rows: Iterable[Sequence[object]], choices: ChoiceLists) -> bytes:
    """The template layout; rows hold display values in HEADERS order."""
    return write_sheet(
        rows,
        COLUMNS,
        title=SHEET_TITLE,
        lists={
            "county": list(choices.counties),
            "township": list(choices.townships),
            "area": list(AREA_NAMES),
            "path": [p.label for p in HeatingPath],
            "equipment": list(choices.equipment),
            "stage": [s.label for s in Stage if s != Stage.ACCEPTED],
            "low_income": [YES, NO],
            "plan_year": list(choices.years),
        },
        # Free-text columns keep a drop-down as a help, without refusing other values.
        strict=("county", "area", "path", "low_income"),
    )
