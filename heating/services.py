"""Writes of the plan's core: divisions, plan years, targets, users."""

from __future__ import annotations

import csv
import datetime as dt
import enum
import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone

from heating import access, exports
from heating.access import Action
from heating.breakdown import CELLS, Breakdown
from heating.models import (
    BuildingTarget,
    County,
    CountyDeadline,
    ExportJob,
    PersonalDataAccess,
    PlanYear,
    Role,
    Target,
    Township,
    User,
    Village,
)

# 忻州城区 has no division of its own: its households live in 忻府区's 街道, whose codes end in 0xx.
CITY_DISTRICT = "忻州城区"
CITY_DISTRICT_PARENT_CODE = "140902"


@dataclass(frozen=True)
class DivisionsLoaded:
    counties: int
    townships: int
    villages: int


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@transaction.atomic
def divisions_load(*, directory: Path) -> DivisionsLoaded:
    """Create or update the 16 units, their townships and villages; safe to run again."""
    for row in _read_csv(directory / "units.csv"):
        County.objects.update_or_create(
            short_name=row["short_name"],
            defaults={
                "order": int(row["order"]),
                "name": row["name"],
                "division_code": row["division_code"] or None,
            },
        )
    county_by_code = {c.division_code: c for c in County.objects.exclude(division_code=None)}
    city_district = County.objects.get(short_name=CITY_DISTRICT)

    townships = []
    for row in _read_csv(directory / "townships.csv"):
        code, parent = row["code"], row["areaCode"]
        is_city_street = parent == CITY_DISTRICT_PARENT_CODE and code[6] == "0"
        county = city_district if is_city_street else county_by_code[parent]
        townships.append(Township(code=code, name=row["name"], county=county))
    Township.objects.bulk_create(
        townships, update_conflicts=True, unique_fields=["code"], update_fields=["name", "county"]
    )

    township_ids = dict(Township.objects.values_list("code", "pk"))
    villages = [
        Village(code=row["code"], name=row["name"], township_id=township_ids[row["streetCode"]])
        for row in _read_csv(directory / "villages.csv")
    ]
    Village.objects.bulk_create(
        villages,
        update_conflicts=True,
        unique_fields=["code"],
        update_fields=["name", "township"],
        batch_size=1000,
    )
    return DivisionsLoaded(
        counties=County.objects.count(),
        townships=Township.objects.count(),
        villages=Village.objects.count(),
    )


@transaction.atomic
def plan_year_load(*, data: dict[str, Any]) -> PlanYear:
    """Create or update a plan year from its fixture: milestones, county deadlines, m² targets."""
    dates = {
        name: dt.date.fromisoformat(data[name])
        for name in (
            "plan_due",
            "works_start",
            "works_due",
            "acceptance_start",
            "acceptance_due",
            "evaluation_start",
            "evaluation_due",
        )
    }
    plan_year, _ = PlanYear.objects.update_or_create(
        year=data["year"],
        defaults={"title": data["title"], "document_no": data.get("document_no", ""), **dates},
    )
    plan_year.full_clean()
    for short_name, due in data.get("county_works_due", {}).items():
        CountyDeadline.objects.update_or_create(
            plan_year=plan_year,
            county=County.objects.get(short_name=short_name),
            defaults={"works_due": dt.date.fromisoformat(due)},
        )
    for target in data.get("building_targets", []):
        BuildingTarget.objects.update_or_create(
            plan_year=plan_year,
            kind=target["kind"],
            defaults={
                "area_m2": Decimal(target["area_m2"]),
                "min_efficiency_gain_pct": target.get("min_efficiency_gain_pct"),
            },
        )
    return plan_year


def plan_years_load(*, directory: Path) -> list[PlanYear]:
    return [
        plan_year_load(data=json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(directory.glob("plan-*.json"))
    ]


def plan_year_get_or_create(*, year: int) -> tuple[PlanYear, bool]:
    """A year whose plan has not been entered yet gets the 2023 calendar, to be edited in the admin."""
    return PlanYear.objects.get_or_create(year=year, defaults=PlanYear.default_calendar(year))


class RowChange(enum.StrEnum):
    NEW = "new"
    UPDATED = "update"
    UNCHANGED = "skip"


@transaction.atomic
def targets_import(
    *, plan_year: PlanYear, breakdown: Breakdown, dry_run: bool = False
) -> dict[County, RowChange]:
    """Make the year's targets equal the checked table; say for each county what changed.

    Targets are saved one by one (128 a year) so that each change lands in the history with its user.
    """
    existing = {
        (t.county_id, t.path, t.area): t for t in Target.objects.filter(plan_year=plan_year)
    }
    changes: dict[County, RowChange] = {}
    for county, counts in breakdown.counts.items():
        stored = [existing.get((county.pk, path, area)) for path, area in CELLS]
        if not any(stored):
            changes[county] = RowChange.NEW
        elif any(t is None or t.households != counts[(t.path, t.area)] for t in stored):
            changes[county] = RowChange.UPDATED
        else:
            changes[county] = RowChange.UNCHANGED
            continue
        if dry_run:
            continue
        for (path, area), target in zip(CELLS, stored, strict=True):
            households = counts[(path, area)]
            if target is None:
                target = Target(
                    plan_year=plan_year, county=county, path=path, area=area, households=households
                )
            elif target.households == households:
                continue
            target.households = households
            target.full_clean()
            target.save()
    return changes


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str | None,
    role: Role,
    full_name: str = "",
    organisation: str = "",
    county: County | None = None,
    counties: list[County] | None = None,
    exist_ok: bool = False,
) -> User:
    """Create an account. `password=None`: an account nobody logs in with (the demo's records
    are written under such accounts): an unusable password, but active all the same, since the
    access policy gives an inactive account nothing and the services would refuse it.
    `exist_ok`: an account of that username already there is returned as it is (a demo run
    again), never changed."""
    if exist_ok and (existing := User.objects.filter(username=username).first()) is not None:
        return existing
    bound = access.reach(role)  # to one county, to those assigned, or to none
    user = User(
        username=username,
        role=role,
        first_name=full_name,
        organisation=organisation,
        county=county if bound is access.Reach.OWN else None,
        # The administrator's role is Django's superuser: the admin site's every page.
        is_superuser=role == Role.ADMIN,
    )
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.full_clean()
    user.save()
    if bound is access.Reach.ASSIGNED:
        user.counties.set(counties or [])
    return user


@transaction.atomic
def users_deactivate(*, users: Iterable[User], by: User) -> int:
    """Deactivate accounts (users are never deleted while records name them: households, visits,
    reports and their history keep who did what). They can no longer log in, are told nothing
    and sign nothing; an administrator can activate them again. Returns how many changed."""
    access.require(by, Action.ACCOUNTS)
    changed = 0
    for user in users:
        if user.is_active and user.pk != by.pk:
            user.is_active = False
            user.save()
            changed += 1
    return changed


def personal_access_record(
    *, user: User, kind: PersonalDataAccess.Kind, households: int, detail: str
) -> None:
    """Keep who saw how many households' ID card and phone numbers in full, and where (PIPL).
    Nothing is kept when nothing was shown unmasked."""
    if households > 0:
        PersonalDataAccess.objects.create(
            user=user, kind=kind, households=households, detail=detail[:500]
        )


logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- files made in the background


def export_start(
    *, kind: str, user: User, title: str, params: dict[str, Any], total: int = 0
) -> ExportJob:
    """Record the job and queue it once the transaction commits."""
    if kind not in exports.EXPORTERS:
        raise ValueError(f"unknown export kind {kind!r}")
    job = ExportJob.objects.create(
        kind=kind, params=params, title=title[:200], created_by=user, total=total
    )
    transaction.on_commit(lambda: _queue(job.pk))
    return job


def _queue(job_id: int) -> None:
    from heating.tasks import run_export

    if settings.EXPORTS_IN_THREAD:
        # No worker (make run): a thread of this process, so that the page answers at once.
        def run() -> None:
            try:
                export_run(job_id=job_id)
            finally:
                connection.close()

        threading.Thread(target=run, name=f"export-{job_id}", daemon=True).start()
    else:
        run_export.delay(job_id)


def export_run(*, job_id: int) -> None:
    """Make the job's file, once: a message delivered twice finds the job claimed."""
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.PENDING).update(
        status=ExportJob.Status.RUNNING
    )
    if not claimed:
        return
    job = ExportJob.objects.get(pk=job_id)

    def progress(done: int, total: int) -> None:
        ExportJob.objects.filter(pk=job_id).update(done=done, total=total)

    try:
        made = exports.EXPORTERS[job.kind](job, progress)
    except Exception:
        logger.exception("export %s failed", job_id)
        _finish(job, ExportJob.Status.FAILED, exports.FAILED)
        return
    job.file.save(made.file_name, ContentFile(made.data), save=False)
    job.file_name = made.file_name
    job.personal_households = made.personal_households
    job.done = job.total
    _finish(job, ExportJob.Status.DONE, "")


def _finish(job: ExportJob, status: str, message: str) -> None:
    job.status, job.message, job.finished_at = status, message, timezone.now()
    job.save()


def exports_sweep(now: dt.datetime | None = None) -> int:
    """Delete the files of jobs finished more than a day ago; fail the jobs whose worker died.
    Returns how many jobs it touched."""
    now = now or timezone.now()
    touched = 0
    for job in ExportJob.objects.filter(finished_at__lt=now - exports.KEEP).exclude(file=""):
        job.file.delete(save=False)
        job.message = "文件已过期删除，请重新导出。"
        job.save(update_fields=["file", "message"])
        touched += 1
    stuck = ExportJob.objects.filter(
        status__in=[ExportJob.Status.PENDING, ExportJob.Status.RUNNING],
        created_at__lt=now - exports.STUCK_AFTER,
    )
    touched += stuck.update(status=ExportJob.Status.FAILED, message=exports.FAILED, finished_at=now)
    return touched
