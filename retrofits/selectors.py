"""Reads of the household ledger."""

from __future__ import annotations

from collections.abc import Iterator

from django.contrib.auth.models import AnonymousUser

from heating.access import PersonalData
from heating.models import AreaType, HeatingPath, User
from heating.sheets import NO, YES
from retrofits.choices import Stage
from retrofits.models import HouseholdQuerySet

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
    "plan_year__year",
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
            area_value, path_value, model, stage_value, completed_on, low_income, notes, year,
            county_id,
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
            year,
        ]
