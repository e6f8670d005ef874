"""The checks of each row of a ledger file, in Python against look-ups loaded once (the value
rules of retrofits/validators.py), and those that wait for the last row (codes and ID numbers
twice in the file). What only the database knows is the store's to ask (store.py)."""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Sequence

from heating.access import Scope
from heating.breakdown import county_labels
from heating.models import County
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
# Every field but the completion date is read as text; the date cell may hold a date.
TEXT_AT = tuple(i for i in range(len(FIELDS)) if i != DATE_AT)
ID_AT = FIELDS.index("id_number")
LOW_AT = FIELDS.index("low_income")


Places = tuple[int | None, int | None, int | None]


class RowChecker:
    """Checks rows one by one against look-ups loaded once. Hot: 209,683 rows pass through check()."""

    def __init__(self, *, positions: dict[str, int], scope: Scope, today: dt.date) -> None:
        counties = list(County.objects.all())
        self.counties = {label: c.pk for label, c in county_labels(counties).items()}
        self.county_names = {c.pk: c.short_name for c in counties}
        self.scope = scope
        self.divisions = DivisionIndex()
        self.tender = {
            m: (pk, path) for pk, m, path in TenderItem.objects.values_list("pk", "model", "path")
        }
        self.today = today
        # Each row's code and ID number, checked by finish() (see there); and the rows of the
        # households a plan rule's breach names.
        self.keys: list[tuple[int, str, str]] = []
        self.finished = False
        self.places: dict[tuple[str, str, str], Places] = {}
        # Where each field's cell sits in a row; -1 where the file has no such column.
        self.index = [positions.get(f, -1) for f in FIELDS]
        self.width = max(positions.values()) + 1
        self.complete = -1 not in self.index
        self.pick_text = operator.itemgetter(*(self.index[i] for i in TEXT_AT))
        self.pick_required = operator.itemgetter(*REQUIRED_AT)

    def _cells(self, values: Sequence[object]) -> tuple[list[str], object, object, object]:
        """The fields as stripped text in FIELDS order, and the raw ID, date and low-income cells."""
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
            index = self.index
            return cells, values[index[ID_AT]], values[index[DATE_AT]], values[index[LOW_AT]]
        padded = [*values, *[None] * (self.width - len(values))]
        raw = [padded[i] if i >= 0 else None for i in self.index]
        cells = [_text(v) for v in raw]
        cells[DATE_AT] = ""
        return cells, raw[ID_AT], raw[DATE_AT], raw[LOW_AT]

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

    def check(
        self, row: int, values: Sequence[object]
    ) -> tuple[CheckedRow | None, list[SheetError]]:
        cells, raw_id, raw_date, raw_low_income = self._cells(values)
        (
            code, county_text, township_text, village_text, head_name, id_number, phone_text,
            area_text, path_text, model, stage_text, _, low_income_text, notes,
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
        self.keys.append((row, code, id_number))

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

        if errors:
            return None, errors
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
        )
        return tuple.__new__(CheckedRow, good), errors

    def finish(self) -> list[SheetError]:
        """The checks of every row's code and ID number: the ID number's birth date and check digit,
        and no code or ID number twice in the file. They change no value that is written, so a
        first load runs them while the database builds its indexes, and rolls back on an error."""
        if self.finished:
            return []  # once: a second call finds nothing more
        self.finished = True
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

    def breach_errors(self, breaches: list[Breach]) -> list[SheetError]:
        """A plan rule's breaches as errors of the sheet rows of the households they name (of the
        first row, where a breach names none)."""
        named = {code for breach in breaches for code in breach.codes}
        rows = {code: row for row, code, _ in self.keys if code in named}
        first = min((row for row, _, _ in self.keys), default=0)
        return [
            SheetError(row, HEADER_OF.get(breach.field, HEADER_OF["code"]), "", breach.message)
            for breach in breaches
            for row in sorted({rows[c] for c in breach.codes if c in rows} or {first})
        ]
