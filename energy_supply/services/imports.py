"""A supply file's rows checked and written: all or nothing, every error by row and column, an
upsert by code (new codes created, changed rows updated with their history, nothing deleted).

Set-based, so that a county's file of thousands of works is checked in seconds: the look-ups are
loaded once (sheets.RowReader), the codes already registered are asked in one query, the rows are
written by bulk statements with simple-history's history rows, and the supply rules are asked
once for the whole file after the write, inside its transaction and under the counties' locks, so
that a file may move works or contracts around as long as every household keeps what it counts on.

full_clean is not asked row by row: what it would ask of each row (its values, the township in
the county and the village in the township, the status and its date, the check constraints) the
reader asks against the look-ups, and the unique codes are the one query's; the database's own
constraints refuse the whole write should another writer slip in between (IntegrityError).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, get_history_manager_for_model

from energy_supply import rules
from energy_supply.sheets import (
    CONTRACT,
    ReadRow,
    RowReader,
    SupplySheet,
    Template,
    read_supply_file,
)
from heating import access
from heating.access import Action
from heating.models import Township, User, Village
from heating.sheets import SheetError
from retrofits.rules import lock_counties

Progress = Callable[[str, int, int], None]  # (phase, rows done, rows in all)
# Codes per IN (...) list: within SQLite's default 32,766 variables and PostgreSQL's 65,535.
CODES_PER_QUERY = 10_000
# Rows per INSERT (Django cuts SQLite's further, to its 999 variables).
WRITE_BATCH = 500
# What an IntegrityError of the write means: another writer took a code meanwhile.
CONCURRENT = "导入期间数据被同时修改，未写入任何数据，请重新导入。"
# Where a row's model value goes: the divisions are written by their ids.
ATTNAMES = {"county": "county_id", "township": "township_id", "village": "village_id"}


@dataclass
class SupplyOutcome:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[SheetError] = field(default_factory=list)


def supply_import(
    *, template: Template, data: bytes, name: str, user: User | None, dry_run: bool = False
) -> SupplyOutcome:
    """Import a supply file now (the commands' way; the web's is a job, jobs.py). The file is
    refused whole (SheetFileError) when it is not the template or too large."""
    sheet = read_supply_file(template, data, name)
    return supply_rows_import(template=template, sheet=sheet, user=user, dry_run=dry_run)


def supply_rows_import(
    *,
    template: Template,
    sheet: SupplySheet,
    user: User | None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> SupplyOutcome:
    """Check every row of a read file and, with no error anywhere and not a dry run, write them.
    A dry run goes the same way, the rules included, and rolls back. `user` None: the server's
    own command, everywhere; a user writes where they keep supply (SUPPLY)."""
    report = progress or (lambda phase, done, total: None)
    total = len(sheet.rows)
    report("逐行检查", 0, total)
    reader = RowReader(template, today=timezone.localdate())
    rows, errors = reader.read(
        sheet.rows, sheet.positions, lambda done: report("逐行检查", done, total)
    )
    outcome = SupplyOutcome(total=total, errors=errors)
    allowed = access.Scope(everything=True) if user is None else access.scope(user, Action.SUPPLY)
    # Writing, and the rules, are one transaction: the page shows them as the last tenth.
    report("写入数据库", total * 9 // 10, total)
    with transaction.atomic():
        _write(template, rows, outcome, allowed, user)
        if outcome.errors or dry_run:
            transaction.set_rollback(True)
    order = [c.header for c in template.columns]
    outcome.errors.sort(key=lambda e: (e.row, order.index(e.column)))
    return outcome


@dataclass
class _Written:
    row: int  # the sheet's row number
    record: Any  # as written
    before: dict[str, Any] | None  # the stored values it replaced (None: created)


def _write(
    template: Template,
    rows: list[ReadRow],
    outcome: SupplyOutcome,
    allowed: access.Scope,
    user: User | None,
) -> None:
    model: Any = template.model
    header_of = template.header_of
    existing = _existing(model, [r.values["code"] for r in rows if r.values.get("code")])
    lock_counties(
        {r.values["county"].pk for r in rows if r.values.get("county")}
        | {o.county_id for o in existing.values()}
    )
    # Where the user may write, asked of every row that names a county or a stored code, its
    # other errors or not: every error of the file is listed at once.
    for row in rows:
        old = existing.get(row.values.get("code") or "")
        county = row.values.get("county")
        if old is not None and old.county_id not in allowed:
            message = "该编号已登记在其他县（市、区），请联系市能源局"
            outcome.errors.append(SheetError(row.row, header_of["code"], old.code, message))
        elif county is not None and county.pk not in allowed:
            message = f"只能导入本县（市、区）的{template.name}"
            outcome.errors.append(
                SheetError(row.row, header_of["county"], county.short_name, message)
            )
    if outcome.errors:
        return
    names = [ATTNAMES.get(c.field, c.field) for c in template.columns]
    created: list[_Written] = []
    updated: list[_Written] = []
    for row in rows:
        values = {
            ATTNAMES.get(name, name): value.pk if name == "county" else value
            for name, value in row.values.items()
        }
        old = existing.get(values["code"])
        if old is None:
            created.append(_Written(row.row, model(**values, version=0), None))
            continue
        before = {name: getattr(old, name) for name in names}
        if all(before[name] == values[name] for name in names):
            outcome.unchanged += 1
            continue
        for name, value in values.items():
            setattr(old, name, value)
        old.version += 1  # a form opened before is stale now
        updated.append(_Written(row.row, old, before))
    reason = f"导入{template.name}"
    if created:
        bulk_create_with_history(
            [w.record for w in created], model, batch_size=WRITE_BATCH,
            default_user=user, default_change_reason=reason,
        )  # fmt: skip
    if updated:
        records = [w.record for w in updated]
        _update(model, records, [*names, "version"])
        # The history rows bulk_update_with_history would write, as it writes them.
        get_history_manager_for_model(model).bulk_history_create(
            records, batch_size=WRITE_BATCH, update=True,
            default_user=user, default_change_reason=reason,
        )  # fmt: skip
    outcome.created, outcome.updated = len(created), len(updated)
    if template is CONTRACT:
        outcome.errors += _contract_errors(template, created + updated)
    else:
        outcome.errors += _withdrawal_errors(template, updated)


def _update(model: Any, records: list[Any], names: list[str]) -> None:
    """Write these columns of each record: one UPDATE … WHERE id = %s, executed for every row
    in one call. Django's bulk_update builds a CASE of every cell instead, whose expressions cost
    10,000 changed rows 16 s of Python (measured, bench/supply_import.py)."""
    fields = [model._meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    columns = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    table, key = quote(model._meta.db_table), quote(model._meta.pk.column)
    sql = f"UPDATE {table} SET {columns} WHERE {key} = %s"
    rows = [
        [f.get_db_prep_save(getattr(record, f.attname), connection) for f in fields] + [record.pk]
        for record in records
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _existing(model: Any, codes: Sequence[str]) -> dict[str, Any]:
    """The stored records of these codes: one query (one per CODES_PER_QUERY codes)."""
    found: dict[str, Any] = {}
    for start in range(0, len(codes), CODES_PER_QUERY):
        chunk = codes[start : start + CODES_PER_QUERY]
        found.update((o.code, o) for o in model._default_manager.filter(code__in=chunk))
    return found


def _contract_errors(template: Template, written: list[_Written]) -> list[SheetError]:
    """Contracts cut or moved below what households count on: the rows that put a contract
    there, or else those that took one away, named with the county's figures."""
    touched = {(w.record.county_id, w.record.season) for w in written}
    touched |= {(w.before["county_id"], w.before["season"]) for w in written if w.before}
    errors = []
    column = template.header_of["households"]
    for pair, message in rules.contract_problems(touched).items():
        blamed = [w.row for w in written if (w.record.county_id, w.record.season) == pair] or [
            w.row
            for w in written
            if w.before and (w.before["county_id"], w.before["season"]) == pair
        ]
        errors += [SheetError(row, column, "", message) for row in blamed]
    return errors


def _withdrawal_errors(template: Template, updated: list[_Written]) -> list[SheetError]:
    """Works taken back from ready, or moved away, while households of the area they served
    depend on them (and no other ready works serve them): refused, naming how many."""
    model: Any = template.model
    withdrawn = [
        w
        for w in updated
        if w.before is not None
        and w.before["status"] == model.READY
        and (
            w.record.status != model.READY
            or (w.record.township_id, w.record.village_id)
            != (w.before["township_id"], w.before["village_id"])
        )
    ]
    if not withdrawn:
        return []
    rule = rules.RULE_OF[model]
    left = rules.left_waiting_by_place(rule, {_place(w) for w in withdrawn})
    waiting = [w for w in withdrawn if left[_place(w)]]
    townships = Township.objects.in_bulk({_place(w)[0] for w in waiting})
    villages = Village.objects.in_bulk({v for w in waiting if (v := _place(w)[1]) is not None})
    errors = []
    for w in waiting:
        township, village = _place(w)
        area = f"{townships[township]}{villages[village] if village else '（全乡镇）'}"
        to = f"改为“{w.record.get_status_display()}”"
        message = rules.withdrawal_message(rule, area=area, left=left[(township, village)], to=to)
        errors.append(SheetError(w.row, template.header_of["status"], "", message))
    return errors


def _place(written: _Written) -> rules.Place:
    assert written.before is not None
    return written.before["township_id"], written.before["village_id"]
