"""The checks of each row of a ledger file, in Python against look-ups loaded once (the value
rules of retrofits/validators.py), and those that wait for the last row (codes and ID numbers
twice in the file). What only the database knows is the store's to ask (store.py)."""

from __future__ import annotations

import datetime as dt
import itertools
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from heating.access import Scope
from heating.breakdown import county_labels
from heating.models import County, PlanYear
from heating.sheets import NO, YES, SheetError, unneutralise
from retrofits.choices import TENDERED_PATHS
from retrofits.ledger.file import AREA_NAMES, COLUMNS, HEADER_OF, PATH_NAMES, STAGE_NAMES
from retrofits.ledger.store import FIELDS, CheckedRow
from retrofits.models import TenderItem
from retrofits.rules import Breach
from retrofits.validators import (
    DivisionIndex,
    completion_problem,
    equipment_problem,
    id_number_problem,
    phone_problem_and_value,
)

Numbered = Sequence[tuple[int, Sequence[object]]]


def _text(value: object) -> str:
    if type(value) is str:
        return unneutralise(value.strip())
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return unneutralise(str(value).strip())


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y.%m.%d")


def _date(value: object) -> dt.date | str | None:
    """A date, None for blank, or the problem."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return f"完工日期「{text}」应为日期，如 2023-10-12、2023/10/12 或 2023年10月12日"


REQUIRED_AT = tuple(FIELDS.index(c.field) for c in COLUMNS if c.required)
DATE_AT = FIELDS.index("completed_on")
# The plan year comes last, and may be absent from a file.
YEAR_AT = FIELDS.index("plan_year")
assert len(FIELDS) - 1 == YEAR_AT
# Every field but the completion date and the plan year is read as text; the date cell may hold
# a date, the year cell a number.
TEXT_AT = tuple(i for i in range(len(FIELDS)) if i not in (DATE_AT, YEAR_AT))
ID_AT = FIELDS.index("id_number")
LOW_AT = FIELDS.index("low_income")
PLACES = ("county", "township", "village")


Places = tuple[int | None, int | None, int | None]
_NO_PLACE: Places = (None, None, None)
_BAD = object()  # a cached answer: the value is wrong, check() says how
_MISSING = object()  # not cached yet
# Usual mobile numbers (a subset of what phone_problem_and_value takes as they are), or blanks,
# joined by NUL; anything else is asked of phone_problem_and_value cell by cell.
_MOBILES = re.compile(r"(?:1[3-9][0-9]{9})?(?:\x00(?:1[3-9][0-9]{9})?)*")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
# 17 digits and a digit or X, over the joined ID numbers of a file (each of 18 characters).
_ID_SHAPES = re.compile(r"(?:[0-9]{17}[0-9X])*")
_LOW_INCOME = {YES: True, NO: False, "": False}
_ID_CHECK = "10X98765432"
_YEAR = re.compile(r"([0-9]{4})年?(?:度)?")
_first17 = operator.itemgetter(slice(0, 17))
_birth = operator.itemgetter(slice(6, 14))
_last = operator.itemgetter(17)


class RowChecker:
    """Checks rows one by one against look-ups loaded once. Hot: 209,683 rows pass through check()."""

    def __init__(
        self,
        *,
        positions: dict[str, int],
        scope: Scope,
        today: dt.date,
        default_year: int | None = None,
    ) -> None:
        counties = list(County.objects.all())
        self.counties = {label: c.pk for label, c in county_labels(counties).items()}
        self.county_names = {c.pk: c.short_name for c in counties}
        self.scope = scope
        self.divisions = DivisionIndex()
        self.tender = {
            m: (pk, path) for pk, m, path in TenderItem.objects.values_list("pk", "model", "path")
        }
        self.today = today
        # 任务年度: the plan years there are, and the year of a new household whose cell is blank
        # (None: no plan year at all, so a blank cell is an error). A blank cell is checked as
        # None: an existing household keeps its year (store.py).
        self.years = set(PlanYear.objects.values_list("year", flat=True))
        self.default_year = default_year
        self.plan_years: dict[object, object] = {}
        # Each row's code and ID number, checked by finish() (see there); and the rows of the
        # households a plan rule's breach names.
        self.numbers: list[int] = []
        self.codes: list[str] = []
        self.ids: list[str] = []
        self.finished = False
        self.places: dict[tuple[str, str, str], Places] = {}
        # Where each field's cell sits in a row; -1 where the file has no such column.
        self.index = [positions.get(f, -1) for f in FIELDS]
        self.width = max(positions.values()) + 1
        # Every column but the optional last one: check_rows() takes the fast way.
        self.complete = -1 not in self.index[:YEAR_AT]
        self.pick_text = operator.itemgetter(*(self.index[i] for i in TEXT_AT))
        self.pick_required = operator.itemgetter(*REQUIRED_AT)
        # check_rows()'s answers for each distinct value: a date cell's date, an equipment cell's
        # tender item, a stage's completion date; _BAD where check() finds an error.
        self.dates: dict[object, object] = {}
        self.equipment: dict[tuple[object, str | None, str | None], object] = {}
        self.looked_up: dict[str, dict[object, object]] = {}
        self.raw_places: dict[tuple[object, object, object], Places | None] = {}
        self.completions: dict[tuple[str | None, object], bool] = {}

    def _cells(self, values: Sequence[object]) -> tuple[list[str], object, object, object, object]:
        """The fields as stripped text in FIELDS order, and the raw ID, date, low-income and plan
        year cells."""
        if self.complete and len(values) >= self.width:
            text = self.pick_text(values)
            try:
                # The usual row: text in every cell but the date.
                cells = list(map(str.strip, text))
            except TypeError:
                cells = [_text(v) for v in text]
            else:
                if "'" in "".join(cells):
                    cells = [unneutralise(c) for c in cells]
            cells.insert(DATE_AT, "")
            cells.append("")
            index = self.index
            year = values[index[YEAR_AT]] if index[YEAR_AT] >= 0 else None
            return (
                cells,
                values[index[ID_AT]],
                values[index[DATE_AT]],
                values[index[LOW_AT]],
                year,
            )
        padded = [*values, *[None] * (self.width - len(values))]
        raw = [padded[i] if i >= 0 else None for i in self.index]
        cells = [_text(v) for v in raw]
        cells[DATE_AT] = cells[YEAR_AT] = ""
        return cells, raw[ID_AT], raw[DATE_AT], raw[LOW_AT], raw[YEAR_AT]

    def _outside(self, county: str) -> str:
        allowed = [name for pk, name in self.county_names.items() if pk in self.scope]
        if not allowed:
            return f"您没有导入台账的权限，不能导入「{county}」的户"
        if len(allowed) == 1:
            return f"只能导入本县（{allowed[0]}）的户，此行为「{county}」"
        return f"只能导入{'、'.join(allowed)}的户，此行为「{county}」"

    def _places(
        self, fail: Callable[[str, object, str], None], county: str, township: str, village: str
    ) -> Places:
        """The county, township and village of a row's names; each good triple is then cached."""
        county_id = township_id = village_id = None
        if county:
            county_id = self.counties.get(county)
            if county_id is None:
                fail("county", county, f"「{county}」不是任务分解表的16个县（市、区）之一")
            elif county_id not in self.scope:
                fail("county", county, self._outside(county))
                county_id = None
        if county_id and township:
            township_id = self.divisions.township(county_id, township)
            if township_id is None:
                fail(
                    "township",
                    township,
                    f"「{township}」不是{self.county_names[county_id]}的乡（镇、街道）",
                )
        if township_id and village:
            village_id = self.divisions.village(township_id, village)
            if village_id is None:
                fail("village", village, f"「{village}」不是{township}的村（社区）")
        return county_id, township_id, village_id

    def check_rows(self, numbered: Numbered) -> tuple[list[CheckedRow], list[SheetError]]:
        """A chunk of rows: the good ones, in order, and every error; the same as check() row by
        row, which it is on the hot path of every import (209,683 rows for a city). Each check
        runs on a whole column at once (C loops over the column: maps, joins, one regex), with
        each distinct value answered once; a row that any column finds wrong goes through check()
        for its errors, which it states exactly as check() does."""
        if not numbered:
            return [], []
        numbers, rows = zip(*numbered, strict=True)
        if not self.complete or min(map(len, rows)) < self.width:
            return self._each(numbered)  # a file without the optional columns, or short rows
        cells: list[tuple[object, ...]] = list(zip(*rows, strict=False))  # rows as wide or wider
        at = self.index
        suspect: set[int] = set()  # the rows check() is to look at again

        def text(field: str) -> list[str]:
            column = cells[at[FIELDS.index(field)]]
            try:
                stripped: list[str] = list(map(str.strip, column))  # type: ignore[arg-type]
            except TypeError:  # a cell that is not text
                return [_text(v) for v in column]
            if "'" in "".join(stripped):
                return list(map(unneutralise, stripped))
            return stripped

        def wrong(values: Sequence[object], bad: object = None) -> None:
            if bad in values:
                suspect.update(i for i, v in enumerate(values) if v is bad)

        def looked_up(field: str, names: Mapping[str, object]) -> list[Any]:
            """A column of a few distinct values (an area, a stage…) through `names`, each
            distinct cell once: what `names` gives for the cell's text, None for no such name."""
            column = cells[at[FIELDS.index(field)]]
            known = self.looked_up.setdefault(field, {})
            found = list(map(known.get, column, itertools.repeat(_MISSING)))
            if _MISSING in found:
                for i, cell in enumerate(column):
                    if found[i] is _MISSING:
                        found[i] = names.get(_text(cell))
                        if type(cell) is str:  # 1, 1.0 and True are one key: not cached
                            known[cell] = found[i]
            return found

        codes = text("code")
        if not all(codes) or max(map(len, codes)) > 32:
            suspect.update(i for i, c in enumerate(codes) if not c or len(c) > 32)
        named = list(zip(*(cells[at[FIELDS.index(f)]] for f in PLACES), strict=True))
        found_places = list(map(self.raw_places.get, named, itertools.repeat(_MISSING)))
        if _MISSING in found_places:
            found_places = [
                self._raw_place(cell) if p is _MISSING else p
                for p, cell in zip(found_places, named, strict=True)
            ]
        wrong(found_places)
        places = [p or _NO_PLACE for p in found_places]
        heads = text("head_name")
        if not all(heads) or max(map(len, heads)) > 50:
            suspect.update(i for i, n in enumerate(heads) if not n or len(n) > 50)

        raw_ids = cells[at[ID_AT]]
        ids = text("id_number")
        if set(map(type, raw_ids)) != {str}:  # a number: check() says its digits may be lost
            suspect.update(i for i, v in enumerate(raw_ids) if type(v) is not str)
        joined = "".join(ids)
        if " " in joined or joined != joined.upper():
            ids = [i.replace(" ", "").upper() for i in ids]
        if set(map(len, ids)) != {18}:  # blank, or refused now by check() (see there)
            suspect.update(i for i, n in enumerate(ids) if len(n) != 18)

        phones = text("phone")
        joined = "\x00".join(phones)
        if joined.count("\x00") != len(phones) - 1 or not _MOBILES.fullmatch(joined):
            for i, phone in enumerate(phones):
                if phone and not _MOBILE.fullmatch(phone):
                    problem, phones[i] = phone_problem_and_value(phone)
                    if problem:
                        suspect.add(i)

        areas = looked_up("area", AREA_NAMES)
        wrong(areas)
        paths = looked_up("path", PATH_NAMES)
        wrong(paths)
        stages = looked_up("stage", STAGE_NAMES)
        wrong(stages)
        models = cells[at[FIELDS.index("equipment")]]
        kinds = list(zip(models, paths, stages, strict=True))
        equipment = list(map(self.equipment.get, kinds, itertools.repeat(_MISSING)))
        if _MISSING in equipment:
            equipment = [
                self._equipment(*kind) if e is _MISSING else e
                for e, kind in zip(equipment, kinds, strict=True)
            ]
        wrong(equipment, _BAD)

        raw_dates = cells[at[DATE_AT]]
        dates = list(map(self.dates.get, raw_dates, itertools.repeat(_BAD)))
        if _BAD in dates:
            dates = [
                self._date(raw) if d is _BAD else d for d, raw in zip(dates, raw_dates, strict=True)
            ]
            wrong(dates, _BAD)
        done = list(zip(stages, dates, strict=True))
        completions = list(map(self.completions.get, done))
        if None in completions or False in completions:
            completions = [
                self._completion(*key) if c is None else c
                for c, key in zip(completions, done, strict=True)
            ]
            wrong(completions, False)

        # A cell of TRUE, FALSE or a number reads as no such text: check() decides.
        lows = looked_up("low_income", _LOW_INCOME)
        wrong(lows)

        if at[YEAR_AT] >= 0:
            raw_years = cells[at[YEAR_AT]]
            years = list(map(self.plan_years.get, raw_years, itertools.repeat(_MISSING)))
            if _MISSING in years:
                years = [
                    self._plan_year(raw) if y is _MISSING else y
                    for y, raw in zip(years, raw_years, strict=True)
                ]
            wrong(years, _BAD)
        else:
            years = [None] * len(rows)
        if self.default_year is None and None in years:
            wrong(years)

        county_ids, township_ids, village_ids = zip(*places, strict=True)
        equipment_ids = [e if type(e) is int else None for e in equipment]
        checked: list[Any] = list(
            zip(
                numbers, codes, county_ids, township_ids, village_ids, heads, ids, phones,
                areas, paths, equipment_ids, stages, dates, lows, text("notes"), years,
                strict=True,
            )
        )  # fmt: skip
        if not suspect:
            self.numbers += numbers
            self.codes += codes
            self.ids += ids
            return checked, []
        good: list[CheckedRow] = []
        errors: list[SheetError] = []
        for i, row in enumerate(checked):
            if i in suspect:
                one, found, (_, codes[i], ids[i]) = self._check(numbers[i], rows[i])
                errors += found
                if one is not None:
                    good.append(one)
            else:
                good.append(row)
        self.numbers += numbers
        self.codes += codes
        self.ids += ids
        return good, errors

    def _each(self, numbered: Numbered) -> tuple[list[CheckedRow], list[SheetError]]:
        good: list[CheckedRow] = []
        errors: list[SheetError] = []
        for row, values in numbered:
            one, found = self.check(row, values)
            errors += found
            if one is not None:
                good.append(one)
        return good, errors

    def _raw_place(self, cells: tuple[object, object, object]) -> Places | None:
        """check_rows()'s answer for a row's county, township and village cells, cached for
        cells of text: _place() of their text."""
        found = self._place((_text(cells[0]), _text(cells[1]), _text(cells[2])))
        if all(type(c) is str for c in cells):
            self.raw_places[cells] = found
        return found

    def _place(self, names: tuple[str, str, str]) -> Places | None:
        """check_rows()'s answer for a row's county, township and village names: their ids, cached
        as check() caches them; None where check() finds them wrong."""
        found = self.places.get(names)
        if found is None:
            found = self._places(lambda *wrong: None, *names)
            if found[2] is None:
                return None
            self.places[names] = found
        return found

    def _equipment(self, cell: object, path: str | None, stage: str | None) -> object:
        """check_rows()'s answer for a model cell, path and stage: the tender item's id (None for
        no model), or _BAD; cached for a cell of text."""
        model = _text(cell)
        answer: object = None
        if model or path in TENDERED_PATHS:
            answer, model_path = self.tender.get(model, (None, None))
            if (
                path
                and stage
                and equipment_problem(path=path, stage=stage, model=model, model_path=model_path)
            ):
                answer = _BAD
        if type(cell) is str:
            self.equipment[cell, path, stage] = answer
        return answer

    def _plan_year(self, raw: object) -> object:
        """check_rows()'s answer for a plan year cell: the year, None for blank, or _BAD."""
        found = self._year(raw)
        answer = _BAD if isinstance(found, str) else found
        if type(raw) in (str, int):
            self.plan_years[raw] = answer
        return answer

    def _year(self, raw: object) -> int | str | None:
        """A plan year cell: the year, None for blank, or the problem."""
        text = _text(raw)
        if not text:
            return None if self.default_year is not None else "还没有计划年度，请先导入任务分解表"
        match = _YEAR.fullmatch(text)
        if match is None or (isinstance(raw, float) and not raw.is_integer()):
            return f"任务年度「{text}」应为年份，如 2023"
        year = int(match.group(1))
        if year not in self.years:
            known = "、".join(map(str, sorted(self.years))) or "无"
            return f"任务年度「{year}」没有任务分解表（已有年度：{known}）"
        return year

    def _date(self, raw: object) -> object:
        """check_rows()'s answer for a date cell: its date, None for blank, or _BAD; cached (a
        number is never a date, whatever number it equals)."""
        found = _date(raw)
        answer = _BAD if isinstance(found, str) else found
        self.dates[raw] = answer
        return answer

    def _completion(self, stage: str | None, completed_on: object) -> bool:
        """check_rows()'s answer for a stage and a completion date (as _date() answered it):
        whether check() finds nothing wrong with the two; cached."""
        good = completed_on is not _BAD and not (
            stage and completion_problem(stage, completed_on, self.today)  # type: ignore[arg-type]
        )
        self.completions[stage, completed_on] = good
        return good

    def check(
        self, row: int, values: Sequence[object]
    ) -> tuple[CheckedRow | None, list[SheetError]]:
        good, errors, (_, code, id_number) = self._check(row, values)
        self.numbers.append(row)
        self.codes.append(code)
        self.ids.append(id_number)
        return good, errors

    @property
    def keys(self) -> list[tuple[int, str, str]]:
        """Each row's sheet number, code and ID number (blank where check() found it wrong), as
        finish() checks them."""
        return list(zip(self.numbers, self.codes, self.ids, strict=True))

    def _check(
        self, row: int, values: Sequence[object]
    ) -> tuple[CheckedRow | None, list[SheetError], tuple[int, str, str]]:
        """One row: the good row or None, its errors, and its code and ID number for finish()."""
        cells, raw_id, raw_date, raw_low_income, raw_year = self._cells(values)
        (
            code, county_text, township_text, village_text, head_name, id_number, phone_text,
            area_text, path_text, model, stage_text, _, low_income_text, notes, _,
        ) = cells  # fmt: skip
        errors: list[SheetError] = []

        def fail(name: str, value: object, message: str) -> None:
            errors.append(SheetError(row, HEADER_OF[name], _text(value), message))

        if not all(self.pick_required(cells)):
            for i in REQUIRED_AT:
                if not cells[i]:
                    fail(FIELDS[i], "", "必填，不能为空")

        if len(code) > 32:
            fail("code", code, f"户编号最多32个字符，「{code}」有{len(code)}个")
            code = ""

        names = (county_text, township_text, village_text)
        places = self.places.get(names) or self._places(fail, *names)
        county_id, township_id, village_id = places
        if village_id is not None:
            self.places[names] = places

        if len(head_name) > 50:
            fail("head_name", head_name, "户主姓名最多50个字符")

        if isinstance(raw_id, (int, float)):
            fail(
                "id_number",
                raw_id,
                f"身份证号「{id_number}」被存成了数字，末几位可能已丢失：请把本列设为文本格式后重新填写",
            )
            id_number = ""
        elif id_number:
            id_number = id_number.replace(" ", "").upper()
            # The column holds 18 characters: other lengths are refused now, the rest waits.
            if len(id_number) != 18 and (problem := id_number_problem(id_number)):
                fail("id_number", id_number, problem)
                id_number = ""
        key = (row, code, id_number)

        phone = ""
        if phone_text:
            problem, phone = phone_problem_and_value(phone_text)
            if problem:
                fail("phone", phone_text, problem)

        area = AREA_NAMES.get(area_text)
        if area is None and area_text:
            fail("area", area_text, f"城乡类型「{area_text}」应为 城区/县城 或 农村")
        path = PATH_NAMES.get(path_text)
        if path is None and path_text:
            fail(
                "path",
                path_text,
                f"取暖路径「{path_text}」应为 集中供热、煤改电、煤改气 或 生物质热电联产",
            )
        stage = STAGE_NAMES.get(stage_text)
        if stage is None and stage_text:
            fail(
                "stage",
                stage_text,
                f"实施进度「{stage_text}」应为 已确户、已选型、施工中 或 已完工",
            )

        equipment_id = None
        if model or path in TENDERED_PATHS:  # a district or biomass row without a model is fine
            equipment_id, model_path = self.tender.get(model, (None, None))
            if (
                path
                and stage
                and (
                    problem := equipment_problem(
                        path=path, stage=stage, model=model, model_path=model_path
                    )
                )
            ):
                fail("equipment", model, problem)

        completed_on = _date(raw_date)
        if isinstance(completed_on, str):
            fail("completed_on", raw_date, completed_on)
            completed_on = None
        elif stage and (problem := completion_problem(stage, completed_on, self.today)):
            fail("completed_on", raw_date, problem)

        if raw_low_income is True or low_income_text == YES:
            low_income = True
        elif raw_low_income in (None, False) or low_income_text in ("", NO):
            low_income = False
        else:
            fail("low_income", low_income_text, f"低收入户「{low_income_text}」应为 是 或 否")
            low_income = False

        plan_year = self._year(raw_year)
        if isinstance(plan_year, str):
            fail("plan_year", raw_year, plan_year)

        if errors:
            return None, errors, key
        good = (
            row,
            code,
            county_id,
            township_id,
            village_id,
            head_name,
            id_number,
            phone,
            area,
            path,
            equipment_id,
            stage,
            completed_on,
            low_income,
            notes,
            plan_year,
        )
        return tuple.__new__(CheckedRow, good), errors, key

    def finish(self) -> list[SheetError]:
        """The checks of every row's code and ID number: the ID number's birth date and check digit,
        and no code or ID number twice in the file. They change no value that is written, so a
        first load runs them while the database builds its indexes, and rolls back on an error."""
        if self.finished:
            return []  # once: a second call finds nothing more
        self.finished = True
        if self._nothing_to_find():
            return []
        errors = []
        codes: dict[str, int] = {}
        id_numbers: dict[str, int] = {}
        for row, code, id_number in self.keys:
            if code and codes.setdefault(code, row) != row:
                errors.append(
                    SheetError(
                        row, HEADER_OF["code"], code, f"户编号「{code}」与第{codes[code]}行重复"
                    )
                )
            if not id_number:
                continue
            if problem := id_number_problem(id_number, self.today):
                errors.append(SheetError(row, HEADER_OF["id_number"], id_number, problem))
            elif id_numbers.setdefault(id_number, row) != row:
                errors.append(
                    SheetError(
                        row,
                        HEADER_OF["id_number"],
                        id_number,
                        f"身份证号与第{id_numbers[id_number]}行重复（一个身份证号只能登记一户）",
                    )
                )
        return errors

    def _nothing_to_find(self) -> bool:
        """Whether finish() would find nothing, decided over whole columns (the usual file, whose
        209,683 ID numbers the loop would take one by one); where it might, the loop says what."""
        codes = [c for c in self.codes if c]
        ids = [i for i in self.ids if i]
        if len(set(codes)) != len(codes) or len(set(ids)) != len(ids):
            return False  # a repeat
        if set(map(len, ids)) - {18} or not _ID_SHAPES.fullmatch("".join(ids)):
            return False
        for digits in set(map(_birth, ids)):
            try:
                born = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
            except ValueError:
                return False
            if born.year < 1900 or born > self.today:
                return False
        # GB 11643's weights are 2**17 … 2**1 mod 11, and 13 is 2 mod 11: the weighted sum of the
        # first 17 digits is, mod 11, twice their value read as a number in base 13.
        based = map(int, map(_first17, ids), itertools.repeat(13))
        sums = map(operator.mul, based, itertools.repeat(2))
        checks = map(_ID_CHECK.__getitem__, map(operator.mod, sums, itertools.repeat(11)))
        return all(map(operator.eq, map(_last, ids), checks))

    def breach_errors(self, breaches: list[Breach]) -> list[SheetError]:
        """A plan rule's breaches as errors of the sheet rows of the households they name (of the
        first row, where a breach names none)."""
        named = {code for breach in breaches for code in breach.codes}
        rows = {code: row for row, code, _ in self.keys if code in named}
        first = min(self.numbers, default=0)
        return [
            SheetError(row, HEADER_OF.get(breach.field, HEADER_OF["code"]), "", breach.message)
            for breach in breaches
            for row in sorted({rows[c] for c in breach.codes if c in rows} or {first})
        ]
