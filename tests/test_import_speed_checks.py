"""The import checks a chunk of rows column by column (RowChecker.check_rows), for speed; what it
answers must be what check() answers row by row: the same good rows, the same errors, and the same
codes and ID numbers for the checks that wait for the last row. Rows drawn at random from cells
that are right, wrong, or odd (numbers, dates, booleans, blanks, quotes, spaces, NUL) are checked
both ways and compared."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from heating.access import Scope
from heating.models import County
from retrofits.ledger.checks import RowChecker
from retrofits.ledger.file import COLUMNS
from retrofits.models import TenderItem
from tests.ledger_files import IDS

pytestmark = pytest.mark.django_db

TODAY = dt.date(2024, 3, 1)
POSITIONS = {c.field: i for i, c in enumerate(COLUMNS)}

CELLS: dict[str, list[Any]] = {
    "code": ["XF-{n}", "XF-{n}", "XF-{n}", " XF-{n} ", "", "X" * 33, "'=XF-{n}", 12.0, "XF-1"],
    "county": ["忻府区", "忻府区", "原平市", "忻府", "140902", "", "无此县", " 忻府区 "],
    "township": ["奇村镇", "奇村镇", "北城街道", "", "无此镇"],
    "village": ["辛庄村委会", "辛庄村", "辛庄", "城西社区", "", "无此村"],
    "head_name": ["张三", "张三", "李四", "", "名" * 51, "'+王五", 3.0],
    "id_number": [
        *IDS,
        *IDS,
        IDS[0].lower(),
        IDS[1][:9] + " " + IDS[1][9:],
        "140902197001013459",  # a wrong check digit
        "{born:18990101}",  # born before 1900, its check digit right
        "{born:20300101}",  # born after today
        "{born:19700230}",  # no such day
        "14090219700101345",
        "",
        140902197001013458.0,
        "１４０９０２１９７００１０１３４５８",
    ],
    "phone": ["13812345678", "13812345678", "", "0350-3031234", "0350 3031234", "999",
              "+8613812345678", "13812345678\x0013812345678", "１３８１２３４５６７８",
              13812345678.0],
    "area": ["农村", "农村", "城区/县城", "", "乡下"],
    "path": ["煤改电", "煤改电", "煤改气", "集中供热", "集中供热（工业余热）", "生物质热电联产", "",
             "烧煤"],
    "equipment": ["KRS-8P", "KRS-8P", "XR-3000", "BG-20", "", "NOPE", " KRS-8P "],
    "stage": ["已选型", "已选型", "已确户", "施工中", "已完工", "已验收", "", "完了"],
    "completed_on": [None, "", "", dt.date(2023, 9, 30), dt.datetime(2023, 9, 30, 8, 0),
                     "2023-09-30", "2023/9/30", "2023年09月30日", "2023.09.30", "昨天",
                     dt.date(2025, 1, 1), 45000.0, True],
    "low_income": ["", "", "否", "是", " 是 ", "也许", True, False, None, 0.0, 1.0],
    "notes": ["", "", "备注", "'-1", "  空格  ", 7.5],
    "plan_year": ["", "", 2023, "2023", 2023.0, "2023年", " 2023 ", "2025", "二〇二三", 2023.5,
                  True, None],
}  # fmt: skip


def cell(value: Any, n: int) -> Any:
    """A cell of CELLS for row `n`: its code numbered, an ID number of that birth date made."""
    if not isinstance(value, str):
        return value
    if value.startswith("{born:"):
        return id_number(n % 1000, born=value[6:14])
    return value.format(n=n)


def random_rows(rng: random.Random, count: int, *, odd: float) -> list[list[Any]]:
    """Rows in the template's columns; each cell the usual one, or with `odd` chance any other."""
    rows = []
    for n in range(count):
        row = []
        for column in COLUMNS:
            choices = CELLS[column.field]
            value = rng.choice(choices) if rng.random() < odd else choices[0]
            row.append(cell(value, n))
        rows.append(row)
    return rows


def both_ways(
    rows: list[list[Any]], scope: Scope, chunk: int
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    numbered = [(n + 2, tuple(r)) for n, r in enumerate(rows)]
    by_row = RowChecker(positions=POSITIONS, scope=scope, today=TODAY, default_year=2023)
    good, errors = [], []
    for number, values in numbered:
        one, found = by_row.check(number, values)
        errors += found
        if one is not None:
            good.append(tuple(one))
    expected = (good, errors, by_row.keys, by_row.finish())

    by_column = RowChecker(positions=POSITIONS, scope=scope, today=TODAY, default_year=2023)
    good, errors = [], []
    for start in range(0, len(numbered), chunk):
        some, found = by_column.check_rows(numbered[start : start + chunk])
        good += map(tuple, some)
        errors += found
    return expected, (good, errors, by_column.keys, by_column.finish())


def one_odd_cell_each() -> list[list[Any]]:
    """For every column, a row for each of its cells, the row's other cells the usual ones."""
    rows = []
    for column in COLUMNS:
        for value in CELLS[column.field]:
            row = [CELLS[c.field][0] for c in COLUMNS]
            row[POSITIONS[column.field]] = value
            rows.append(row)
    for n, row in enumerate(rows):
        row[:] = [cell(value, n) for value in row]
        if row[POSITIONS["id_number"]] == IDS[0]:
            row[POSITIONS["id_number"]] = id_number(n)  # no repeats but the odd cell's
    return rows


def id_number(serial: int, born: str = "19800101") -> str:
    """A GB 11643 number of 忻府区 with its check digit right, one for each serial below 1000."""
    body = f"140902{born}{serial:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def test_check_rows_answers_as_check_does_cell_by_cell(tender: list[TenderItem]) -> None:
    rows = one_odd_cell_each()
    for chunk in (1, 7, len(rows)):
        expected, found = both_ways(rows, Scope(everything=True), chunk=chunk)
        assert found == expected
    good, errors, _, last = expected
    assert len(good) > len(rows) / 2 and errors and last  # the odd cells are found wrong


# Cells check() takes as they are, or once trimmed: none of them sends a row to check().
VALID: dict[str, list[Any]] = {
    "code": [" XF-{n} "],
    "county": [" 忻府区 ", "140902"],
    "township": [" 奇村镇"],
    "village": ["辛庄村", "辛庄 "],
    "head_name": [" 李四 ", "'+王五"],
    "id_number": [" {id} ", "{id_lower}"],
    "phone": ["", "0350-3031234", " 13812345678 ", "+8613812345678"],
    "area": [" 农村 "],
    "path": [" 煤改电 "],
    "equipment": [" KRS-8P ", "XR-3000"],
    "stage": [" 已选型 ", "已确户"],
    "completed_on": [None, ""],
    "low_income": [" 是 ", "否", "", "是"],
    "notes": [" 备注 ", "'=1+1", 7.5],
    "plan_year": ["", None, 2023, "2023", 2023.0, " 2023年 "],
}


def test_check_rows_takes_every_good_row_without_check(
    tender: list[TenderItem], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole-column checks accept what check() accepts: a good row goes through check()
    only where its cells must be looked at one by one (never, here)."""
    calls: list[int] = []
    real = RowChecker._check

    def counted(self: RowChecker, row: int, values: Any) -> Any:
        calls.append(row)
        return real(self, row, values)

    monkeypatch.setattr(RowChecker, "_check", counted)
    rows: list[list[Any]] = []
    for column in COLUMNS:
        for value in VALID[column.field]:
            n = len(rows)
            row = [cell(c, n) for c in (CELLS[c.field][0] for c in COLUMNS)]
            row[POSITIONS["id_number"]] = id_number(n)
            if isinstance(value, str):
                value = value.format(n=n, id=id_number(n), id_lower=id_number(n).lower())
            row[POSITIONS[column.field]] = value
            rows.append(row)
    checker = RowChecker(
        positions=POSITIONS, scope=Scope(everything=True), today=TODAY, default_year=2023
    )
    good, errors = checker.check_rows([(n + 2, tuple(r)) for n, r in enumerate(rows)])
    assert (len(good), errors, checker.finish(), calls) == (len(rows), [], [], [])
    calls.clear()
    expected, found = both_ways(rows, Scope(everything=True), chunk=5)
    assert found == expected


@pytest.mark.parametrize("odd", [0.0, 0.02, 0.3, 1.0])
def test_check_rows_answers_as_check_does(tender: list[TenderItem], odd: float) -> None:
    rng = random.Random(f"ledger-{odd}")
    rows = random_rows(rng, 600, odd=odd)
    expected, found = both_ways(rows, Scope(everything=True), chunk=97)
    assert found[0] == expected[0]
    assert found[1] == expected[1]
    assert found[2:] == expected[2:]
    if odd == 0.0:
        assert expected[1] == [] and len(expected[0]) == len(rows)


def test_check_rows_answers_as_check_does_for_a_countys_scope(tender: list[TenderItem]) -> None:
    rows = random_rows(random.Random("county"), 300, odd=0.2)
    scope = Scope(ids=frozenset([County.objects.get(short_name="忻府区").pk]))
    expected, found = both_ways(rows, scope, chunk=50)
    assert found == expected


def test_the_last_checks_find_repeats_and_wrong_id_numbers_as_before(
    tender: list[TenderItem],
) -> None:
    """A clean file passes the whole-column test; each way of failing it falls back to the loop,
    which states every error."""
    base = random_rows(random.Random("clean"), 6, odd=0.0)
    for n, row in enumerate(base):
        row[POSITIONS["id_number"]] = IDS[n]
    cases = {
        "clean": {},
        "code twice": {3: {"code": "XF-0"}},
        "ID twice": {4: {"id_number": IDS[1]}},
        "check digit": {5: {"id_number": "140902197001013459"}},
        "no such day": {2: {"id_number": id_number(2, born="19700230")}},
        "born after today": {1: {"id_number": id_number(1, born="20300101")}},
        "born before 1900": {0: {"id_number": id_number(0, born="18991231")}},
    }
    for name, changes in cases.items():
        rows = [list(r) for r in base]
        for at, cells in changes.items():
            for field, value in cells.items():
                rows[at][POSITIONS[field]] = value
        expected, found = both_ways(rows, Scope(everything=True), chunk=4)
        assert found == expected, name
        assert bool(expected[3]) == (name != "clean"), name
