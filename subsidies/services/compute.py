"""补贴核算: every eligible household's equipment and running subsidy for a plan year, exactly as
docs/ledger-template.md (补贴标准) says, computed by the database in a few set-based statements.

Money is whole fen and every step is integer arithmetic: a price in fen times a ratio in ten-
thousandths is the amount in fen times 10,000, and (x + 5,000) / 10,000 rounds it half up. So
SQLite and PostgreSQL agree to the fen with the Decimal computation a person does by hand.

- 设备购置补贴: the households of the year's task (任务年度 = the year), under the year's policies.
- 运行补贴 for the year's heating season (PlanYear.heating_season): every accepted household of that
  year's task or an earlier one (they all heat that season), under the year's policies, on the
  metered use whose 截止日期 falls inside the season. No metered row: no running subsidy.

The households are read through the ORM (the household table is the ledger engine's to name);
the rest is this app's own tables. A run replaces the unpaid entitlements of the year; paid ones
never change. Of a household's kind for the season, once something of it is paid: what the paid
entitlements (less what was claimed back of them) exceed of what is due now becomes a 追回
(Clawback); what they fall short of it, less what a live batch is paying, a top-up (补差), an
unpaid entitlement of its own, recomputed on every run until a batch takes it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from heating.models import PlanYear
from retrofits.choices import Stage
from retrofits.models import Household
from subsidies.models import Kind, Status

COMPUTED = "subsidies_computed"
OWED = "subsidies_owed"  # a run's top-ups: the shortfall of each household's paid kind

# Others may withhold a season's running subsidy from households (aftercare: a confirmed 散煤复烧
# in its 回头看), registered from their AppConfig.ready(): each takes the season's year and gives
# the households. A paid one withheld later becomes a clawback, like any that no longer holds.
RunningHold = Callable[[int], set[int]]
RUNNING_HOLDS: list[RunningHold] = []


def register_running_hold(hold: RunningHold) -> None:
    if hold not in RUNNING_HOLDS:
        RUNNING_HOLDS.append(hold)


def _least(a: str, b: str) -> str:
    # LEAST is PostgreSQL's, MIN(a, b) SQLite's: CASE is both.
    return f"(CASE WHEN ({a}) < ({b}) THEN ({a}) ELSE ({b}) END)"


# PostgreSQL's SUM of bigints is numeric, and numeric division does not truncate: every sum
# that is divided later is cast back to BIGINT, so that "/" is integer division on both databases.


def _units(column: str, scale: int) -> str:
    """A Decimal column as a whole number of 1/scale: exact, since the column has no more places."""
    return f"CAST(ROUND({column} * {scale}) AS BIGINT)"


def _households(**lookups: Any) -> tuple[str, list[Any]]:
    queryset = (
        Household.objects.filter(stage=Stage.ACCEPTED, **lookups)
        .order_by()
        .values(
            h_id=F("pk"),
            h_county=F("county_id"),
            h_path=F("path"),
            h_low=F("low_income"),
            h_price=F("equipment__unit_price"),
        )
    )
    sql, params = queryset.query.sql_with_params()
    return sql, list(params)


# The policies of the year and kind in whole units, and for each household the county's own
# policy of its path, else the city's default.
_POLICIES = f"""
p AS (
  SELECT id, county_id, path, method,
         {_units("COALESCE(rate, 0)", 10_000)} AS rate_u,
         {_units("COALESCE(amount, 0)", 100)} AS amount_fen,
         {_units("free_use", 100)} AS free_c,
         {_units("cap", 100)} AS cap_fen,
         {_units("low_income_bonus", 100)} AS bonus_fen,
         {_units("city_share", 10_000)} AS share_u
  FROM subsidies_policy WHERE plan_year_id = %s AND kind = %s
),
chosen AS (
  SELECT h.*, p.id AS policy_id, p.method, p.rate_u, p.amount_fen, p.free_c, p.cap_fen,
         p.bonus_fen, p.share_u
  FROM h JOIN p ON p.path = h.h_path
   AND (p.county_id = h.h_county
        OR (p.county_id IS NULL
            AND NOT EXISTS (SELECT 1 FROM p o WHERE o.path = p.path AND o.county_id = h.h_county)))
)"""

_EQUIPMENT_BASE = _least(
    "CASE WHEN method = 'ratio' THEN (price_fen * rate_u + 5000) / 10000 ELSE amount_fen END",
    "cap_fen",
)
_RUNNING_BASE = _least(
    "((CASE WHEN use_c > free_c THEN use_c - free_c ELSE 0 END) * rate_u + 5000) / 10000",
    "cap_fen",
)


def _insert_computed(select: str) -> str:
    """The computed rows: the base, the low-income top-up after the cap, then the city's part."""
    return f"""
INSERT INTO {COMPUTED} (household_id, county_id, kind, policy_id, use_c, amount_fen, city_fen)
SELECT household_id, county_id, kind, policy_id, use_c, amount_fen,
       (amount_fen * share_u + 5000) / 10000
FROM (
  SELECT household_id, county_id, kind, policy_id, use_c, share_u,
         base + (CASE WHEN base > 0 AND low THEN bonus_fen ELSE 0 END) AS amount_fen
  FROM ({select}) based
) amounted
WHERE amount_fen > 0"""


@dataclass
class Computation:
    year: int
    season: str
    computed: dict[str, int]  # kind -> households entitled
    total_fen: dict[str, int]  # kind -> amount
    created: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    clawbacks: int = 0
    clawback_fen: int = 0
    top_ups: int = 0  # 补差 made or changed by this run
    top_up_fen: int = 0  # every unpaid top-up of the season, after this run


@transaction.atomic
def subsidy_compute(*, year: int) -> Computation:
    """Compute the year's entitlements; safe to run again at any time."""
    plan_year = PlanYear.objects.get(year=year)
    season = plan_year.heating_season()
    now = timezone.now()
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            # Two runs at once would each insert the other's rows: one waits for the other.
            cursor.execute("LOCK TABLE subsidies_entitlement IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(f"DROP TABLE IF EXISTS {COMPUTED}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {COMPUTED} (household_id bigint NOT NULL, county_id bigint"
            " NOT NULL, kind varchar(16) NOT NULL, policy_id bigint NOT NULL, use_c bigint,"
            " amount_fen bigint NOT NULL, city_fen bigint NOT NULL)"
        )
        # No finally: a failed statement rolls the whole transaction back, the table with it
        # (and PostgreSQL would refuse any statement after the failure).
        _compute(cursor, year=year, season=(season.start, season.end))
        _withhold(cursor, year=year)
        # The merge looks each entitlement up here: without an index SQLite scans the whole
        # table for each of them (hours at a city's 68,000), where PostgreSQL would hash.
        cursor.execute(f"CREATE INDEX {COMPUTED}_key ON {COMPUTED} (household_id, kind)")
        outcome = _merge(cursor, year=year, now=now)
        _top_up(cursor, outcome, year=year, now=now)
        cursor.execute(f"DROP TABLE {COMPUTED}")
    outcome.season = season.label
    return outcome


def _compute(cursor: Any, *, year: int, season: tuple[Any, Any]) -> None:
    sql, params = _households(plan_year_id=year)
    cursor.execute(
        f"WITH h AS ({sql}), {_POLICIES}"
        + _insert_computed(
            f"""SELECT h_id AS household_id, h_county AS county_id, 'equipment' AS kind,
                  policy_id, CAST(NULL AS BIGINT) AS use_c, share_u, bonus_fen, h_low AS low,
                  {_EQUIPMENT_BASE} AS base
                FROM (SELECT chosen.*, {_units("h_price", 100)} AS price_fen FROM chosen) c
                WHERE NOT (method = 'ratio' AND price_fen IS NULL)"""
        ),
        [*params, year, Kind.EQUIPMENT.value],
    )
    sql, params = _households(plan_year_id__lte=year)
    # A meter's kind is its path's value: a 煤改电 household's 电 account, a 煤改气's 气 account.
    used = f"""
used AS (
  SELECT a.household_id, a.kind, CAST(SUM({_units("r.use", 100)}) AS BIGINT) AS use_c
  FROM subsidies_meterreading r JOIN subsidies_meteraccount a ON a.id = r.account_id
  WHERE r.end_date BETWEEN %s AND %s
  GROUP BY a.household_id, a.kind
)"""
    cursor.execute(
        f"WITH h AS ({sql}), {_POLICIES}, {used}"
        + _insert_computed(
            f"""SELECT h_id AS household_id, h_county AS county_id, 'running' AS kind,
                  policy_id, use_c, share_u, bonus_fen, h_low AS low, {_RUNNING_BASE} AS base
                FROM (SELECT chosen.*, used.use_c FROM chosen
                      JOIN used ON used.household_id = chosen.h_id AND used.kind = chosen.h_path)
                     c"""
        ),
        [*params, year, Kind.RUNNING.value, *season],
    )


def _withhold(cursor: Any, *, year: int) -> None:
    held = sorted(set().union(*(hold(year) for hold in RUNNING_HOLDS)))
    for at in range(0, len(held), 500):
        chunk = held[at : at + 500]
        cursor.execute(
            f"DELETE FROM {COMPUTED} WHERE kind = %s AND household_id IN "
            f"({', '.join(['%s'] * len(chunk))})",
            [Kind.RUNNING.value, *chunk],
        )


def _merge(cursor: Any, *, year: int, now: Any) -> Computation:
    """The computed rows into the entitlements: unpaid ones replaced, paid ones compared."""
    cursor.execute(
        f"SELECT kind, COUNT(*), COALESCE(SUM(amount_fen), 0) FROM {COMPUTED} GROUP BY kind"
    )
    counts = {kind: (n, total) for kind, n, total in cursor.fetchall()}
    outcome = Computation(
        year=year,
        season="",
        computed={k: counts.get(k, (0, 0))[0] for k in Kind.values},
        total_fen={k: counts.get(k, (0, 0))[1] for k in Kind.values},
    )
    unpaid, paid = Status.UNPAID.value, Status.PAID.value
    match = "c.household_id = e.household_id AND c.kind = e.kind"
    in_batch = _in_batch("subsidies_entitlement")
    cursor.execute(
        f"DELETE FROM subsidies_entitlement WHERE season = %s AND status = %s AND NOT {in_batch}"
        f" AND NOT EXISTS (SELECT 1 FROM {COMPUTED} c WHERE c.household_id ="
        " subsidies_entitlement.household_id AND c.kind = subsidies_entitlement.kind)",
        [year, unpaid],
    )
    outcome.removed = cursor.rowcount
    cursor.execute(
        f"""UPDATE subsidies_entitlement SET county_id = c.county_id, policy_id = c.policy_id,
              use = {_use("c")}, amount_fen = c.amount_fen, city_fen = c.city_fen,
              county_fen = c.amount_fen - c.city_fen, computed_at = %s
            FROM {COMPUTED} c
            WHERE subsidies_entitlement.season = %s AND subsidies_entitlement.status = %s
              AND subsidies_entitlement.top_up = 0 AND NOT {in_batch}
              AND c.household_id = subsidies_entitlement.household_id
              AND c.kind = subsidies_entitlement.kind
              AND (c.amount_fen <> subsidies_entitlement.amount_fen
                   OR c.city_fen <> subsidies_entitlement.city_fen
                   OR c.policy_id <> subsidies_entitlement.policy_id
                   OR c.county_id <> subsidies_entitlement.county_id
                   OR {_units("COALESCE(subsidies_entitlement.use, -1)", 100)}
                      <> COALESCE(c.use_c, -100))""",
        [now, year, unpaid],
    )
    outcome.updated = cursor.rowcount
    cursor.execute(
        f"""INSERT INTO subsidies_entitlement (household_id, county_id, kind, season, top_up,
              policy_id, use, amount_fen, city_fen, county_fen, status, computed_at)
            SELECT c.household_id, c.county_id, c.kind, %s, 0, c.policy_id, {_use("c")},
                   c.amount_fen, c.city_fen, c.amount_fen - c.city_fen, %s, %s
            FROM {COMPUTED} c
            WHERE NOT EXISTS (SELECT 1 FROM subsidies_entitlement e WHERE {match}
                              AND e.season = %s)""",
        [year, unpaid, now, year],
    )
    outcome.created = cursor.rowcount
    # What a household's paid entitlements of a kind (less what was already claimed back of
    # them) exceed of what is due now, claimed back of the latest paid one, split as it was.
    cursor.execute(
        f"""INSERT INTO subsidies_clawback (entitlement_id, county_id, paid_fen, due_fen,
              amount_fen, city_fen, county_fen, created_at)
            SELECT last.id, last.county_id, g.paid_fen, g.due_fen, g.claim,
                   (g.claim * last.city_fen * 2 + last.amount_fen) / (last.amount_fen * 2),
                   g.claim - (g.claim * last.city_fen * 2 + last.amount_fen)
                     / (last.amount_fen * 2), %s
            FROM (
              SELECT p.household_id, p.kind, p.paid_fen, p.top,
                     COALESCE(c.amount_fen, 0) AS due_fen,
                     CAST(p.paid_fen - COALESCE(c.amount_fen, 0) - COALESCE(k.fen, 0)
                          AS BIGINT) AS claim
              FROM ({_paid_groups()}) p
              LEFT JOIN {COMPUTED} c ON c.household_id = p.household_id AND c.kind = p.kind
              LEFT JOIN ({_clawed_groups()}) k
                ON k.household_id = p.household_id AND k.kind = p.kind
            ) g
            JOIN subsidies_entitlement last ON last.household_id = g.household_id
              AND last.kind = g.kind AND last.season = %s AND last.top_up = g.top
            WHERE g.claim > 0""",
        [now, paid, year, year, year],
    )
    outcome.clawbacks = cursor.rowcount
    cursor.execute(
        "SELECT COALESCE(SUM(amount_fen), 0) FROM subsidies_clawback WHERE created_at = %s",
        [now],
    )
    outcome.clawback_fen = cursor.fetchone()[0]
    cursor.execute(
        "SELECT COUNT(*) FROM subsidies_entitlement WHERE season = %s AND status = %s"
        " AND top_up = 0",
        [year, unpaid],
    )
    outcome.unchanged = cursor.fetchone()[0] - outcome.created - outcome.updated
    return outcome


def _top_up(cursor: Any, outcome: Computation, *, year: int, now: Any) -> None:
    """补差: of each household's kind with something paid, what is due now beyond what was paid
    (less what was claimed back of it) and beyond what a live batch is paying of it. It is one
    unpaid top-up, numbered after the kind's last entitlement, recomputed on every run like any
    unpaid entitlement and gone when nothing is owed; one a batch holds is left as published,
    and what is owed beyond it is the next top-up. Split between city and county as what is due
    now is split."""
    unpaid, paid = Status.UNPAID.value, Status.PAID.value
    cursor.execute(f"DROP TABLE IF EXISTS {OWED}")
    cursor.execute(
        f"""CREATE TEMPORARY TABLE {OWED} AS
            SELECT c.household_id, c.kind, c.county_id, c.policy_id, c.use_c,
                   c.amount_fen AS due_fen, c.city_fen AS due_city_fen, p.top,
                   CAST(c.amount_fen - p.paid_fen + COALESCE(k.fen, 0) - COALESCE(b.fen, 0)
                        AS BIGINT) AS owed_fen
            FROM {COMPUTED} c
            JOIN ({_paid_groups()}) p ON p.household_id = c.household_id AND p.kind = c.kind
            LEFT JOIN ({_clawed_groups()}) k
              ON k.household_id = c.household_id AND k.kind = c.kind
            LEFT JOIN (SELECT household_id, kind, SUM(amount_fen) AS fen
                       FROM subsidies_entitlement WHERE season = %s AND status = %s
                         AND {_in_batch("subsidies_entitlement")}
                       GROUP BY household_id, kind) b
              ON b.household_id = c.household_id AND b.kind = c.kind""",
        [paid, year, year, year, unpaid],
    )
    # The last of the kind, paid or not, numbers the next top-up.
    cursor.execute(
        f"""UPDATE {OWED} SET top = (SELECT MAX(e.top_up) FROM subsidies_entitlement e
              WHERE e.household_id = {OWED}.household_id AND e.kind = {OWED}.kind
                AND e.season = %s)""",
        [year],
    )
    free = f"status = '{unpaid}' AND top_up > 0 AND NOT {_in_batch('subsidies_entitlement')}"
    owed = f"""SELECT 1 FROM {OWED} o WHERE o.household_id = subsidies_entitlement.household_id
                 AND o.kind = subsidies_entitlement.kind AND o.owed_fen > 0"""
    cursor.execute(
        f"DELETE FROM subsidies_entitlement WHERE season = %s AND {free} AND NOT EXISTS ({owed})",
        [year],
    )
    outcome.removed += cursor.rowcount
    split = "(o.owed_fen * o.due_city_fen * 2 + o.due_fen) / (o.due_fen * 2)"
    cursor.execute(
        f"""UPDATE subsidies_entitlement SET county_id = o.county_id, policy_id = o.policy_id,
              use = {_use("o")}, amount_fen = o.owed_fen, city_fen = {split},
              county_fen = o.owed_fen - {split}, computed_at = %s
            FROM {OWED} o
            WHERE subsidies_entitlement.season = %s AND subsidies_entitlement.{free}
              AND o.household_id = subsidies_entitlement.household_id
              AND o.kind = subsidies_entitlement.kind AND o.owed_fen > 0
              AND (o.owed_fen <> subsidies_entitlement.amount_fen
                   OR {split} <> subsidies_entitlement.city_fen
                   OR o.policy_id <> subsidies_entitlement.policy_id
                   OR o.county_id <> subsidies_entitlement.county_id)""",
        [now, year],
    )
    outcome.top_ups = cursor.rowcount
    cursor.execute(
        f"""INSERT INTO subsidies_entitlement (household_id, county_id, kind, season, top_up,
              policy_id, use, amount_fen, city_fen, county_fen, status, computed_at)
            SELECT o.household_id, o.county_id, o.kind, %s, o.top + 1, o.policy_id,
                   {_use("o")}, o.owed_fen, {split}, o.owed_fen - {split}, %s, %s
            FROM {OWED} o
            WHERE o.owed_fen > 0 AND NOT EXISTS (
              SELECT 1 FROM subsidies_entitlement e WHERE e.household_id = o.household_id
                AND e.kind = o.kind AND e.season = %s AND e.status = %s AND e.top_up > 0
                AND NOT {_in_batch("e")})""",
        [year, unpaid, now, year, unpaid],
    )
    outcome.top_ups += cursor.rowcount
    cursor.execute(
        "SELECT COALESCE(SUM(amount_fen), 0) FROM subsidies_entitlement"
        " WHERE season = %s AND status = %s AND top_up > 0",
        [year, unpaid],
    )
    outcome.top_up_fen = cursor.fetchone()[0]
    cursor.execute(f"DROP TABLE {OWED}")


def _in_batch(table: str) -> str:
    """An unpaid entitlement on a live batch line is being paid as published (公示): it is left
    as it is; what it should have been is settled after payment (a clawback or a top-up)."""
    return (
        f"EXISTS (SELECT 1 FROM subsidies_batchline l WHERE l.entitlement_id = {table}.id"
        " AND l.result = 'pending')"
    )


def _paid_groups() -> str:
    """Per household and kind of the season (a parameter, after the paid status): what is paid
    and the last paid entitlement's top-up number."""
    return """SELECT household_id, kind, CAST(SUM(amount_fen) AS BIGINT) AS paid_fen,
                     MAX(top_up) AS top
              FROM subsidies_entitlement WHERE status = %s AND season = %s
              GROUP BY household_id, kind"""


def _clawed_groups() -> str:
    """Per household and kind of the season (a parameter): what was claimed back."""
    return """SELECT e.household_id, e.kind, CAST(SUM(k.amount_fen) AS BIGINT) AS fen
              FROM subsidies_clawback k JOIN subsidies_entitlement e ON e.id = k.entitlement_id
              WHERE e.season = %s GROUP BY e.household_id, e.kind"""


def _use(alias: str) -> str:
    if connection.vendor == "postgresql":
        return f"{alias}.use_c::numeric / 100"
    return f"CASE WHEN {alias}.use_c IS NULL THEN NULL ELSE {alias}.use_c / 100.0 END"
