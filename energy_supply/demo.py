"""Supply for the demo, the tests and the benchmarks: every township's grid upgraded and gas network
laid, and contracts for each county's 煤改气 target, so that a ledger of any stage imports (the
plan's supply rules hold). Loaded before the households, as the plan wants it in a county."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from simple_history.utils import bulk_create_with_history

from energy_supply.models import GasContract, GasNetwork, GridUpgrade
from heating.models import County, HeatingPath, Target, Township

DEMO = "演示数据"


@transaction.atomic
def supply_everywhere(*, season: int, scale: float = 1.0, minimum: int = 0) -> None:
    """Ready works in every township and, for each county, a contract covering its 煤改气 target ×
    `scale` (at least `minimum` households). Safe to run again: what exists is left as it is.
    Each record starts its history, as one entered by hand would."""
    ready_on = dt.date(season, 4, 1)
    have = set(GridUpgrade.objects.values_list("code", flat=True)) | set(
        GasNetwork.objects.values_list("code", flat=True)
    )
    townships = [t for t in Township.objects.select_related("county")]
    upgrades = [
        GridUpgrade(
            code=f"DW-{t.code}",
            county=t.county,
            township=t,
            capacity_kva=Decimal(630),
            status=GridUpgrade.Status.ENERGIZED,
            energized_on=ready_on,
        )
        for t in townships
        if f"DW-{t.code}" not in have
    ]
    networks = [
        GasNetwork(
            code=f"GW-{t.code}",
            county=t.county,
            township=t,
            length_km=Decimal(12),
            company=f"{t.county.short_name}燃气公司",
            status=GasNetwork.Status.SUPPLIED,
            supplied_on=ready_on,
        )
        for t in townships
        if f"GW-{t.code}" not in have
    ]
    targets = dict(
        Target.objects.filter(plan_year=season, path=HeatingPath.GAS)
        .values_list("county")
        .annotate(n=Sum("households"))
    )
    signed = set(GasContract.objects.filter(season=season).values_list("county", flat=True))
    contracts = [
        GasContract(
            code=f"GQ-{season}-{county.order:02d}",
            county=county,
            supplier=f"{county.short_name}燃气公司",
            signed_on=dt.date(season, 3, 15),
            season=season,
            volume_10k_m3=Decimal(households) * Decimal("0.12"),
            households=households,
        )
        for county in County.objects.exclude(pk__in=signed)
        if (households := max(math.ceil(targets.get(county.pk, 0) * scale), minimum)) > 0
    ]
    for model, rows in ((GridUpgrade, upgrades), (GasNetwork, networks), (GasContract, contracts)):
        if rows:
            bulk_create_with_history(rows, model, default_change_reason=DEMO)
