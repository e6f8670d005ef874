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
never change, and what of a paid one no longer holds becomes a 追回 (Clawback)."""

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
    above_paid: int = 0  # paid entitlements now found larger: not paid again (no 补发 yet)


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
    # An unpaid entitlement on a live batch line is being paid as published (公示): it is left
    # as it is; what it should have been is settled after payment (a clawback, or counted).
    in_batch = (
        "EXISTS (SELECT 1 FROM subsidies_batchline l WHERE l.entitlement_id ="
        " subsidies_entitlement.id AND l.result = 'pending')"
    )
    cursor.execute(
        f"DELETE FROM subsidies_entitlement WHERE season = %s AND status = %s AND NOT {in_batch}"
        f" AND NOT EXISTS (SELECT 1 FROM {COMPUTED} c WHERE c.household_id ="
        " subsidies_entitlement.household_id AND c.kind = subsidies_entitlement.kind)",
        [year, unpaid],
    )
    outcome.removed = cursor.rowcount
    use = "CASE WHEN c.use_c IS NULL THEN NULL ELSE c.use_c / 100.0 END"
    if connection.vendor == "postgresql":
        use = "c.use_c::numeric / 100"
    cursor.execute(
        f"""UPDATE subsidies_entitlement SET county_id = c.county_id, policy_id = c.policy_id,
              use = {use}, amount_fen = c.amount_fen, city_fen = c.city_fen,
              county_fen = c.amount_fen - c.city_fen, computed_at = %s
            FROM {COMPUTED} c
            WHERE subsidies_entitlement.season = %s AND subsidies_entitlement.status = %s
              AND NOT {in_batch}
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
        f"""INSERT INTO subsidies_entitlement (household_id, county_id, kind, season, policy_id,
              use, amount_fen, city_fen, county_fen, status, computed_at)
            SELECT c.household_id, c.county_id, c.kind, %s, c.policy_id, {use}, c.amount_fen,
                   c.city_fen, c.amount_fen - c.city_fen, %s, %s
            FROM {COMPUTED} c
            WHERE NOT EXISTS (SELECT 1 FROM subsidies_entitlement e WHERE {match}
                              AND e.season = %s)""",
        [year, unpaid, now, year],
    )
    outcome.created = cursor.rowcount
    # What of each paid entitlement is no longer due and not yet claimed back.
    cursor.execute(
        f"""INSERT INTO subsidies_clawback (entitlement_id, county_id, paid_fen, due_fen,
              amount_fen, city_fen, county_fen, created_at)
            SELECT id, county_id, amount_fen, due_fen, claim,
                   (claim * city_fen * 2 + amount_fen) / (amount_fen * 2),
                   claim - (claim * city_fen * 2 + amount_fen) / (amount_fen * 2), %s
            FROM (
              SELECT e.id, e.county_id, e.amount_fen, e.city_fen,
                     COALESCE(c.amount_fen, 0) AS due_fen,
                     e.amount_fen - COALESCE(c.amount_fen, 0)
                       - COALESCE((SELECT CAST(SUM(k.amount_fen) AS BIGINT) FROM subsidies_clawback k
                                   WHERE k.entitlement_id = e.id), 0) AS claim
              FROM subsidies_entitlement e LEFT JOIN {COMPUTED} c ON {match}
              WHERE e.season = %s AND e.status = %s
            ) owed
            WHERE claim > 0""",
        [now, year, paid],
    )
    outcome.clawbacks = cursor.rowcount
    cursor.execute(
        "SELECT COALESCE(SUM(amount_fen), 0) FROM subsidies_clawback WHERE created_at = %s",
        [now],
    )
    outcome.clawback_fen = cursor.fetchone()[0]
    cursor.execute(
        f"SELECT COUNT(*) FROM subsidies_entitlement e JOIN {COMPUTED} c ON {match}"
        " WHERE e.season = %s AND e.status = %s AND c.amount_fen > e.amount_fen",
        [year, paid],
    )
    outcome.above_paid = cursor.fetchone()[0]
    cursor.execute(
        "SELECT COUNT(*) FROM subsidies_entitlement WHERE season = %s AND status = %s",
        [year, unpaid],
    )
    outcome.unchanged = cursor.fetchone()[0] - outcome.created - outcome.updated
    return outcome
