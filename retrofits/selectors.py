"""Reads of the household ledger."""

from __future__ import annotations

from collections.abc import Iterator

from django.contrib.auth.models import AnonymousUser

from heating import access
from heating.access import Action
from heating.models import AreaType, HeatingPath, User
from heating.sheets import NO, YES
from retrofits.choices import Stage
from retrofits.models import HouseholdQuerySet


def mask_id_number(value: str) -> str:
    return value[:6] + "*" * 8 + value[14:] if len(value) == 18 else "*" * len(value)


def mask_phone(value: str) -> str:
    digits = value.replace("-", "")
    if len(digits) < 7:
        return "*" * len(value)
    return value[:3] + "****" + value[-4:]


class PersonalData:
    """ID card and phone numbers as a user may see them: in full in the counties where the access
    policy lets them (Action.PERSONAL), masked elsewhere. `user=None` is the server itself."""

    def __init__(self, user: User | AnonymousUser | None) -> None:
        self.full = (
            access.Scope(everything=True) if user is None else access.scope(user, Action.PERSONAL)
        )

    def shown(self, county_id: int, id_number: str, phone: str) -> tuple[str, str]:
        if county_id in self.full:
            return id_number, phone
        return mask_id_number(id_number), mask_phone(phone) if phone else ""


EXPORT_FIELDS = (
    "code",
    "county__short_name",
    "township__name",
    "village__name",
    "head_name",
    "id_number",
    "phone",
    "area",
    "path",
    "equipment__model",
    "stage",
    "completed_on",
    "low_income",
    "notes",
    "county_id",
)


def ledger_rows(
    households: HouseholdQuerySet, *, user: User | AnonymousUser | None
) -> Iterator[list[object]]:
    """Rows in the template's layout and wording; ID and phone masked unless the user may see them.

    `user=None` is the server's own export (the CLI), which sees everything.
    """
    personal = PersonalData(user)
    area = dict(AreaType.choices)
    path = dict(HeatingPath.choices)
    stage = dict(Stage.choices)
    rows = households.order_by("code").values_list(*EXPORT_FIELDS)
    for values in rows.iterator(chunk_size=5000):
        (
            code, county, township, village, name, id_number, phone,
            area_value, path_value, model, stage_value, completed_on, low_income, notes, county_id,
        ) = values  # fmt: skip
        id_number, phone = personal.shown(county_id, id_number, phone)
        yield [
            code,
            county,
            township,
            village,
            name,
            id_number,
            phone,
            area[area_value],
            path[path_value],
            model or "",
            stage[stage_value],
            completed_on,
            YES if low_income else NO,
            notes,
        ]
