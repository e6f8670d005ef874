"""Small ledger files made by the tests themselves (openpyxl and csv, not the product's writer)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from openpyxl import Workbook

HEADERS = [
    "户编号", "县（市、区）", "乡（镇、街道）", "村（社区）", "户主姓名", "身份证号", "联系电话",
    "城乡类型", "取暖路径", "设备型号", "实施进度", "完工日期", "低收入户", "备注",
]  # fmt: skip

# Valid GB 11643 numbers (the third has a pre-2000 1422xx area code; the first ends in X).
IDS = [
    "14090219650308012X",
    "140902197001013458",
    "142201195812310075",
    "140981198002291011",
    "140921199006159999",
    "140902197505050017",
]


def id_number(serial: int, area: str = "140902") -> str:
    """A valid GB 11643 number, born 1980-01-01, one for each serial below 1000."""
    body = f"{area}19800101{serial:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def row(**changes: Any) -> dict[str, Any]:
    """A valid 煤改电 household of 忻府区 奇村镇 辛庄村, changed as asked (county=, township= and
    village= name the division columns, whose headers are no Python names)."""
    base = {
        "户编号": "XF-0001",
        "县（市、区）": "忻府区",
        "乡（镇、街道）": "奇村镇",
        "村（社区）": "辛庄村委会",
        "户主姓名": "张三",
        "身份证号": IDS[0],
        "联系电话": "13812345678",
        "城乡类型": "农村",
        "取暖路径": "煤改电",
        "设备型号": "KRS-8P",
        "实施进度": "已选型",
        "完工日期": None,
        "低收入户": "否",
        "备注": "",
    }
    aliases = {"county": "县（市、区）", "township": "乡（镇、街道）", "village": "村（社区）"}
    base.update({aliases.get(k, k): v for k, v in changes.items()})
    return base


def yuanping_row(**changes: Any) -> dict[str, Any]:
    """A valid household of another county: 原平市 北城街道 城西社区, changed as asked."""
    return row(
        **{
            "户编号": "YP-1",
            "身份证号": IDS[3],
            "county": "原平市",
            "township": "北城街道",
            "village": "城西社区",
            "城乡类型": "城区/县城",
            **changes,
        }
    )


def xlsx(
    tmp_path: Path,
    rows: list[dict[str, Any]],
    headers: list[str] | None = None,
    name: str = "ledger.xlsx",
) -> Path:
    headers = headers or HEADERS
    book = Workbook()
    sheet = book.active
    sheet.append(headers)
    for r in rows:
        sheet.append([r.get(h) for h in headers])
    path = tmp_path / name
    book.save(path)
    return path


def csv_file(tmp_path: Path, rows: list[dict[str, Any]], encoding: str = "utf-8-sig") -> Path:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    for r in rows:
        writer.writerow(["" if r.get(h) is None else r.get(h) for h in HEADERS])
    path = tmp_path / "ledger.csv"
    path.write_bytes(out.getvalue().encode(encoding))
    return path
