"""The ledger as a file made in the background (heating/exports.py), for exports too large to
write while a page waits: the list's filter, as the user who asked may see it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from django.http import QueryDict

from heating.access import PersonalData
from heating.exports import Made, Progress
from heating.models import County, ExportJob
from heating.selectors import plan_year_numbers
from heating.sheets import check_exportable
from retrofits.filters import HouseholdFilter
from retrofits.ledger.file import ChoiceLists, write_ledger
from retrofits.models import Household
from retrofits.selectors import ledger_rows

KIND = "ledger"
FILE_NAME = "清洁取暖改造户台账.xlsx"
REPORT_EVERY = 2000  # rows between progress reports

T = TypeVar("T")


def counted(rows: Iterable[T], progress: Progress, total: int) -> Iterator[T]:
    done = 0
    for row in rows:
        yield row
        done += 1
        if done % REPORT_EVERY == 0:
            progress(done, total)
    progress(done, total)


def ledger_file(job: ExportJob, progress: Progress) -> Made:
    """The households the list's filter (`params["query"]`) finds for the job's user."""
    user = job.created_by
    households = Household.objects.visible_to(user).select_related(
        "county", "township", "village", "equipment"
    )
    filtered = HouseholdFilter(
        QueryDict(job.params.get("query", "")), queryset=households, user=user
    )
    if not filtered.is_valid():
        raise ValueError(f"invalid filter: {filtered.errors}")
    found = filtered.qs
    total = found.count()
    check_exportable(total)
    rows = counted(ledger_rows(found, user=user), progress, total)
    counties = [c.short_name for c in County.objects.visible_to(user)]
    data = write_ledger(rows, ChoiceLists(counties=counties, years=plan_year_numbers()))
    personal = found.filter(PersonalData(user).full.q("county")).count()
    return Made(data, FILE_NAME, personal_households=personal)
