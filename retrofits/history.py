"""A household's change record (django-simple-history), in words people read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from heating.access import PersonalData
from heating.models import County, Township, Village
from retrofits.models import Household, TenderItem

HIDDEN = {"created_by", "updated_by"}
NAMES: dict[str, type[Any]] = {
    "county": County,
    "township": Township,
    "village": Village,
    "equipment": TenderItem,
}


@dataclass(frozen=True)
class Change:
    when: dt.datetime
    who: str
    kind: str
    reason: str
    fields: list[tuple[str, str, str]]  # (label, before, after)


def household_changes(household: Household, personal: PersonalData) -> list[Change]:
    """Newest first: who created or changed what, and why; ID card and phone numbers before and
    after as `personal` lets them be seen (masked by the household's county)."""
    records = list(
        household.history.select_related("history_user").order_by("history_date", "history_id")
    )
    changes: list[Change] = []
    previous = None
    for record in records:
        fields: list[tuple[str, str, str]] = []
        if previous is not None:
            delta = record.diff_against(previous, excluded_fields=HIDDEN)
            for change in delta.changes:
                fields.append(
                    (
                        _label(change.field),
                        _display(change.field, change.old, household.county_id, personal),
                        _display(change.field, change.new, household.county_id, personal),
                    )
                )
        kind = {"+": "创建", "~": "修改", "-": "删除"}[record.history_type]
        if previous is None or fields or record.history_change_reason:
            changes.append(
                Change(
                    when=record.history_date,
                    who=str(record.history_user) if record.history_user else "系统",
                    kind=kind,
                    reason=record.history_change_reason or "",
                    fields=fields,
                )
            )
        previous = record
    return changes[::-1]


def _display(name: str, value: object, county_id: int, personal: PersonalData) -> str:
    if value is None or value == "":
        return "（空）"
    if isinstance(value, str):
        value = personal.value(county_id, name, value)
    if name in NAMES:
        found = NAMES[name].objects.filter(pk=value).first()
        return str(found) if found else str(value)
    choices = getattr(Household._meta.get_field(name), "choices", None)
    if choices:
        return str(dict(choices).get(value, value))
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def _label(name: str) -> str:
    return str(getattr(Household._meta.get_field(name), "verbose_name", name))
