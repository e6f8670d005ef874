"""Writes of supply: a contract, a grid upgrade or a gas network (one by one, or a season's set up
at once; a whole file of them in imports.py, run in the background by jobs.py), the day gas
reached a household (or many), and the bureau's heat sources, key projects and milestones.
Contracts and works take their counties' locks, the ones the household writers take, so that a
contract cut and an import that needs the gas cannot both pass; and each is refused whole where
the households already counted on what it takes away."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from energy_supply import rules
from energy_supply.models import (
    AreaWork,
    FuelReserve,
    GasConnection,
    GasContract,
    GasNetwork,
    GridUpgrade,
    HeatSource,
    KeyProject,
    Milestone,
)
from heating import access
from heating.access import Action
from heating.models import County, HeatingPath, Township, User
from heating.versions import next_version
from retrofits.choices import DONE_STAGES
from retrofits.models import Household
from retrofits.rules import lock_counties


def _check_user(user: User | None, county_ids: Iterable[int]) -> None:
    if user is not None:
        for county_id in set(county_ids):
            access.require(user, Action.SUPPLY, county_id)


def _withdrawal_problem(old: AreaWork | None, new: AreaWork | None) -> str | None:
    """Works taken back from ready, moved or removed: do households they served now wait?"""
    if old is None or old.status != type(old).READY:
        return None
    if new is not None and (
        new.status == old.READY
        and (new.township_id, new.village_id) == (old.township_id, old.village_id)
    ):
        return None
    rule = rules.RULE_OF[type(old)]
    left = rules.dependents_left_waiting(rule, county_id=old.county_id, places=[old])
    if not left:
        return None
    to = f"改为“{new.get_status_display()}”" if new is not None else "删除"  # type: ignore[attr-defined]
    return rules.withdrawal_message(rule, area=old.area, left=left, to=to)


def _stored(instance: Any) -> Any:
    return type(instance).objects.filter(pk=instance.pk).first() if instance.pk else None


@transaction.atomic
def gas_contract_save(
    *, contract: GasContract, user: User | None, expected_version: int | None = None
) -> GasContract:
    """Create, change or cancel (cancelled_on) a contract; a cut below the households counted is
    refused with the county, the households covered and those counted. `expected_version`: the
    version the form showed (heating/versions.py)."""
    old = _stored(contract)
    counties = {contract.county_id} | ({old.county_id} if old else set())
    lock_counties(counties)
    _check_user(user, counties)
    next_version(contract, expected_version)
    contract.full_clean()
    contract.save()
    pairs = [(contract.county_id, contract.season)] + ([(old.county_id, old.season)] if old else [])
    if problems := rules.contract_problems(pairs):
        raise ValidationError({"households": list(problems.values())})
    return contract


@transaction.atomic
def area_work_save(
    *, work: AreaWork, user: User | None, expected_version: int | None = None
) -> AreaWork:
    """Create or change a grid upgrade or a gas network; taking one back from ready while
    households depend on it is refused, naming how many."""
    old = _stored(work)
    counties = {work.county_id} | ({old.county_id} if old else set())
    lock_counties(counties)
    _check_user(user, counties)
    next_version(work, expected_version)
    work.full_clean()
    work.save()
    if problem := _withdrawal_problem(old, work):
        raise ValidationError({"status": [problem]})
    return work


@transaction.atomic
def gas_connection_record(
    *, household: Household, connected_on: dt.date, user: User
) -> GasConnection:
    """The day gas reached a completed 煤改气 household (通气)."""
    access.require(user, Action.EDIT, household.county_id)
    if household.path != HeatingPath.GAS:
        raise ValidationError({"connected_on": "只有煤改气的户登记通气"})
    if household.stage not in DONE_STAGES:
        raise ValidationError({"connected_on": "该户完工后方可登记通气"})
    if connected_on > timezone.localdate():
        raise ValidationError({"connected_on": "通气日期不能晚于今天"})
    if household.completed_on and connected_on < household.completed_on - dt.timedelta(days=366):
        raise ValidationError({"connected_on": "通气日期早于完工日期一年以上，请核对"})
    connection, _ = GasConnection.objects.update_or_create(
        household=household, defaults={"connected_on": connected_on, "recorded_by": user}
    )
    return connection


@transaction.atomic
def fuel_reserve_save(
    *, reserve: FuelReserve, user: User | None, expected_version: int | None = None
) -> FuelReserve:
    old = _stored(reserve)
    _check_user(user, {reserve.county_id} | ({old.county_id} if old else set()))
    next_version(reserve, expected_version)
    reserve.full_clean()
    reserve.save()
    return reserve


# ---------------------------------------------------------------- many at once
# The bulk variants ask the rules of the one-record services once per batch, and refuse the whole
# write naming the codes. full_clean is not asked row by row: what it would ask of the database
# for each row (the references, the unique codes, the check constraints) is asked once for the
# batch, or left to the database's own constraints, which refuse the whole write.

BATCH = 2000  # households per IN (...) list and rows per INSERT, within every database's limits
NAMED = 20  # codes named per problem; the rest counted


def _refused(field: str, found: dict[str, list[str]], *, named: str, unit: str) -> ValidationError:
    """One error of the field: each problem with the codes it concerns."""
    messages = []
    for message, named_twice in found.items():
        codes = list(dict.fromkeys(named_twice))
        more = f" 等 {len(codes):,} {unit}" if len(codes) > NAMED else ""
        messages.append(f"{message}（{named}：{'、'.join(codes[:NAMED])}{more}）")
    return ValidationError({field: messages})


SupplyRecord = GridUpgrade | GasNetwork | GasContract


@transaction.atomic
def supply_records_create_bulk(
    *, records: Sequence[SupplyRecord], user: User | None, reason: str
) -> int:
    """Create many works and contracts at once (a city's supply set up for a season, the demo's),
    each starting its history under `reason` as one entered by hand would: the counties' locks,
    the user's SUPPLY in each county, each record's values and clean(), its code new. New works
    and contracts take nothing away, so no household is left without what it counts on (the
    rules `gas_contract_save` and `area_work_save` ask after a change). Refused whole, naming
    the codes."""
    if not records:
        return 0
    counties = {r.county_id for r in records}
    lock_counties(counties)
    _check_user(user, counties)
    by_model: dict[type[SupplyRecord], list[SupplyRecord]] = defaultdict(list)
    for record in records:
        by_model[type(record)].append(record)
    found: dict[str, list[str]] = defaultdict(list)
    for model, rows in by_model.items():
        codes = Counter(r.code for r in rows)
        taken = set(model.objects.filter(code__in=codes).values_list("code", flat=True))
        taken |= {code for code, n in codes.items() if n > 1}
        for record in rows:
            if record.pk is not None or record.code in taken:
                found["编号已登记，只能新建"].append(record.code)
                continue
            record.version = 0
            try:
                record.full_clean(
                    exclude=["county", "township", "village"],
                    validate_unique=False,
                    validate_constraints=False,
                )
            except ValidationError as exc:
                for message in exc.messages:
                    found[message].append(record.code)
    if found:
        raise _refused("code", found, named="编号", unit="项")
    for model, rows in by_model.items():
        bulk_create_with_history(
            rows, model, batch_size=BATCH, default_user=user, default_change_reason=reason
        )
    return len(records)


@transaction.atomic
def gas_connections_record_bulk(
    *, connections: Sequence[tuple[int, dt.date]], user: User | None
) -> int:
    """The days gas reached many households (household id, day), by the rules of
    `gas_connection_record`: completed 煤改气 households, of counties where the user keeps the
    ledger (None: the server's own command), on a day not after today nor a year before the
    works were done; a household's day recorded before is replaced. Refused whole, naming the
    households' 户编号. Returns how many."""
    if not connections:
        return 0
    ids = sorted({pk for pk, _ in connections})
    households = {
        row[0]: row
        for start in range(0, len(ids), BATCH)
        for row in Household.objects.filter(pk__in=ids[start : start + BATCH]).values_list(
            "pk", "county_id", "code", "path", "stage", "completed_on"
        )
    }
    if user is not None:
        for county_id in {row[1] for row in households.values()}:
            access.require(user, Action.EDIT, county_id)
    found: dict[str, list[str]] = defaultdict(list)
    today, seen = timezone.localdate(), set()
    for pk, connected_on in connections:
        if pk not in households:
            found["找不到该户"].append(f"#{pk}")
            continue
        _, _, code, path, stage, completed_on = households[pk]
        if pk in seen:
            found["同一户在本次登记中出现多次"].append(code)
        seen.add(pk)
        if path != HeatingPath.GAS:
            found["只有煤改气的户登记通气"].append(code)
        if stage not in DONE_STAGES:
            found["该户完工后方可登记通气"].append(code)
        if connected_on > today:
            found["通气日期不能晚于今天"].append(code)
        if completed_on and connected_on < completed_on - dt.timedelta(days=366):
            found["通气日期早于完工日期一年以上，请核对"].append(code)
    if found:
        raise _refused("connected_on", found, named="户编号", unit="户")
    # As update_or_create, one statement per batch: a day recorded before is replaced.
    GasConnection.objects.bulk_create(
        (GasConnection(household_id=pk, connected_on=on, recorded_by=user) for pk, on in connections),
        batch_size=BATCH, update_conflicts=True, unique_fields=["household"],
        update_fields=["connected_on", "recorded_by"],
    )  # fmt: skip
    return len(connections)


# ---------------------------------------------------------------- the bureau's records
# Heat sources, key projects and their milestones are the municipal bureau's (MANAGE_PLAN), kept
# in the admin site; the demo enters its own through the same services.


def _check_plan(user: User | None, county_ids: Iterable[int]) -> None:
    if user is not None:
        access.require(user, Action.MANAGE_PLAN)
        for county_id in set(county_ids):
            access.require(user, Action.MANAGE_PLAN, county_id)


def _served(record: HeatSource | KeyProject, counties: Iterable[County] | None) -> list[County]:
    """The counties a source or project serves after the write; it always serves one at least."""
    served = list(counties) if counties is not None else None
    if served == [] or (served is None and record.pk is None):
        raise ValidationError({"counties": ["请至少选择一个县（市、区）"]})
    return served if served is not None else list(record.counties.all())


@transaction.atomic
def heat_source_save(
    *, source: HeatSource, user: User | None, counties: Iterable[County] | None = None
) -> HeatSource:
    """Create or change a heat source and (`counties`, when given) the counties it serves."""
    before = set(source.counties.values_list("pk", flat=True)) if source.pk else set()
    served = _served(source, counties)
    _check_plan(user, before | {c.pk for c in served})
    source.full_clean()
    source.save()
    if counties is not None:
        source.counties.set(served)
    return source


@transaction.atomic
def key_project_save(
    *,
    project: KeyProject,
    user: User | None,
    counties: Iterable[County] | None = None,
    townships: Iterable[Township] | None = None,
) -> KeyProject:
    """Create or change a key project and (when given) the counties and townships whose
    households wait on it."""
    old = _stored(project)
    before = {old.county_id, *old.counties.values_list("pk", flat=True)} if old else set()
    served = _served(project, counties)
    _check_plan(user, before | {project.county_id} | {c.pk for c in served})
    project.full_clean()
    project.save()
    if counties is not None:
        project.counties.set(served)
    if townships is not None:
        project.townships.set(list(townships))
    return project


@transaction.atomic
def milestone_save(*, milestone: Milestone, user: User | None) -> Milestone:
    """Create or change a key project's milestone (planned and done)."""
    old = _stored(milestone)
    _check_plan(user, {milestone.project.county_id} | ({old.project.county_id} if old else set()))
    milestone.full_clean()
    milestone.save()
    return milestone


@transaction.atomic
def milestone_delete(*, milestone: Milestone, user: User | None) -> None:
    _check_plan(user, {milestone.project.county_id})
    milestone.delete()
