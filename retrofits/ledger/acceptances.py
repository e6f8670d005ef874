"""The ledger store's other bulk write: many households made 已验收 at once (a season of visits
recorded together, as the demo city's), set-based like an upload, with the same change rules
(asked as acceptance, once per distinct state), the same plan rules after the write and the same
county locks. Any problem refuses all of it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from heating.models import User
from retrofits.choices import Stage
from retrofits.ledger.store import STAGING, LedgerStore
from retrofits.models import Household
from retrofits.rules import State, Touched, Via, change_problems, lock_counties, plan_breaches
from retrofits.tasks import run_rollup

# (household id, its code, the day of its passing visit)
Accepted = tuple[int, str, dt.date]


def store_acceptances(
    accepted: Sequence[Accepted], *, user: User | None, source: str
) -> list[tuple[int, str]]:
    """Make these households 已验收 on these days. Returns the problems by household id; with any,
    nothing is written."""
    if not accepted:
        return []
    store = LedgerStore(present=["stage"], now=timezone.now(), user=user, source=source)
    table = store.table
    with transaction.atomic():
        store.drop()
        store.execute(
            f"CREATE TEMPORARY TABLE {STAGING} (id bigint, code varchar(32), accepted_on date)"
        )
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {STAGING} (id, code, accepted_on) VALUES (%s, %s, %s)", accepted
            )
        store.index_staging()
        joined = f"{table} h JOIN {STAGING} s ON s.id = h.id"
        counties = [c for (c,) in store.execute(f"SELECT DISTINCT h.county_id FROM {joined}")]
        lock_counties(counties)
        problems: list[tuple[int, str]] = []
        states = store.execute(f"SELECT DISTINCT h.county_id, h.stage FROM {joined}").fetchall()
        for county_id, stage in states:
            found = change_problems(
                State(county_id, stage), State(county_id, Stage.ACCEPTED), via=Via.ACCEPTANCE
            )
            if found:
                ids = store.execute(
                    f"SELECT h.id FROM {joined} WHERE h.county_id = %s AND h.stage = %s",
                    [county_id, stage],
                ).fetchall()
                problems += [(i, p.message) for (i,) in ids for p in found]
        if not problems:
            store.with_history(
                f"UPDATE {table} AS h SET stage = %s, accepted_on = s.accepted_on, "
                "version = h.version + 1, "
                f"updated_at = %s, updated_by_id = %s FROM {STAGING} AS s WHERE h.id = s.id",
                [Stage.ACCEPTED.value, store.now, store.user_id],
                history_type="~",
            )
            touched = Household.objects.filter(pk__in=RawSQL(f"SELECT id FROM {STAGING}", ()))
            for breach in plan_breaches(Touched(frozenset(counties), touched)):
                problems.append((0, breach.message))
        store.drop()
        if problems:
            transaction.set_rollback(True)
        else:
            # As after an import: one count of its counties' figures once it commits.
            transaction.on_commit(lambda: run_rollup.delay(sorted(counties)))
    return problems
