"""The plan's supply rules: 以气定改 (no 煤改气 household beyond the gas its county has secured),
电网改造前置 (no 煤改电 works before the grid is upgraded) and 以供定改 for gas (no 煤改气 works before
the gas network reaches the village). Each is a plan rule of the household writers (registered in
apps.py), and the same figures are asked when the supply itself changes: a contract cut or
cancelled, works taken back from 已投运 or 已通气 (services.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db.models import Count, Q, Sum

from energy_supply.models import AreaWork, GasContract, GasNetwork, GridUpgrade, season_label
from heating.models import County, HeatingPath
from retrofits.choices import Stage, stages_from
from retrofits.models import Household, HouseholdQuerySet
from retrofits.rules import Breach, Touched

# 以气定改 counts the 煤改气 households from 已选型 on: their equipment is chosen against the gas.
SELECTED_ON = stages_from(Stage.SELECTED)
# Works may start only where the supply is ready: 施工中 and every stage after it.
BUILDING_ON = stages_from(Stage.BUILDING)


# ---------------------------------------------------------------- 以气定改


@dataclass(frozen=True)
class GasHeadroom:
    county: County
    season: int
    covered: int  # households the season's contracts in force cover
    used: int  # 煤改气 households at 已选型 or beyond
    confirmed: int = 0  # 煤改气 households at 已确户: not yet counted, soon to be

    @property
    def confirmed_beyond(self) -> int:
        """已确户 households the contracts could not cover were they all to go on (超改抢跑 in
        the making: a warning now; from 已选型 on the write is refused)."""
        return max(self.used + self.confirmed - max(self.covered, self.used), 0)

    @property
    def left(self) -> int:
        return self.covered - self.used

    @property
    def left_pct(self) -> float | None:
        return round(100 * self.left / self.covered, 1) if self.covered else None

    @property
    def breached(self) -> bool:
        return self.used > self.covered


def gas_headroom(
    county_ids: Iterable[int],
    season: int,
    *,
    used: Mapping[int, tuple[int, int]] | None = None,
) -> dict[int, GasHeadroom]:
    """Covered and used households of these counties: one query each, however many counties. A
    season's gas heats every year's retrofits up to its own, not a later plan year's. `used`, a
    county's (已选型及以后, 已确户) households counted elsewhere (the pages: by the rollup),
    instead of the households as they are now (the rules)."""
    ids = sorted(set(county_ids))
    covered = dict(
        GasContract.objects.in_force(season)
        .filter(county__in=ids)
        .values_list("county")
        .annotate(n=Sum("households"))
    )
    if used is None:
        counted = (
            Household.objects.filter(
                county__in=ids, path=HeatingPath.GAS, plan_year__year__lte=season
            )
            .values_list("county")
            .annotate(
                used=Count("pk", filter=Q(stage__in=SELECTED_ON)),
                confirmed=Count("pk", filter=Q(stage=Stage.CONFIRMED)),
            )
        )
        used = {county_id: (u, c) for county_id, u, c in counted}
    return {
        county.pk: GasHeadroom(
            county, season, covered.get(county.pk, 0), *used.get(county.pk, (0, 0))
        )
        for county in County.objects.filter(pk__in=ids)
    }


def gas_message(headroom: GasHeadroom, *, what: str = "写入后") -> str:
    return (
        f"{headroom.county.short_name}以气定改：{season_label(headroom.season)}采暖季供用气合同"
        f"可保障 {headroom.covered:,} 户，{what}煤改气已选型及以后的户为 {headroom.used:,} 户，"
        f"超出 {headroom.used - headroom.covered:,} 户。请先签订或增补供用气合同"
    )


def contract_problems(
    pairs: Iterable[tuple[int, int]], *, what: str = "合同变更后"
) -> dict[tuple[int, int], str]:
    """For each (county, season) whose contracts changed: do they still cover the households
    counted on them? One look at the headroom per season, however many counties."""
    counties: dict[int, set[int]] = defaultdict(set)
    for county_id, season in pairs:
        counties[season].add(county_id)
    problems = {}
    for season, ids in sorted(counties.items()):
        for county_id, headroom in gas_headroom(ids, season).items():
            if headroom.breached:
                problems[(county_id, season)] = gas_message(headroom, what=what)
    return problems


def gas_within_contracts(touched: Touched) -> list[Breach]:
    """A plan rule: in each county the write touched, the 煤改气 households at 已选型 or beyond
    stay within the households its contracts cover for the heating season of their plan year."""
    counted = touched.households.filter(path=HeatingPath.GAS, stage__in=SELECTED_ON)
    seasons: dict[int, set[int]] = defaultdict(set)
    for county_id, season in counted.values_list("county", "plan_year__year").distinct():
        seasons[season].add(county_id)
    breaches = []
    for season, counties in sorted(seasons.items()):
        for county_id, headroom in gas_headroom(counties, season).items():
            if headroom.breached:
                codes = counted.filter(county=county_id, plan_year__year=season).values_list(
                    "code", flat=True
                )
                breaches.append(
                    Breach("stage", gas_message(headroom), county_id=county_id, codes=tuple(codes))
                )
    return breaches


# ---------------------------------------------------------------- supply before works


@dataclass(frozen=True)
class AreaRule:
    works: type[GridUpgrade] | type[GasNetwork]
    path: HeatingPath
    name: str  # the plan's name for the rule
    missing: str  # what the area lacks


GRID = AreaRule(GridUpgrade, HeatingPath.ELECTRIC, "电网改造前置", "已投运的电网改造工程")
NETWORK = AreaRule(GasNetwork, HeatingPath.GAS, "以供定改", "已通气的燃气管网")
RULE_OF: dict[type[AreaWork], AreaRule] = {GridUpgrade: GRID, GasNetwork: NETWORK}


def waiting(households: HouseholdQuerySet, rule: AreaRule) -> HouseholdQuerySet:
    """Of these households, those of the rule's path at 施工中 or beyond that no ready works serve:
    neither their village nor their whole township."""
    ready = rule.works.objects.ready()
    return households.filter(path=rule.path, stage__in=BUILDING_ON).exclude(ready.covering())


def _area_breaches(touched: Touched, rule: AreaRule) -> list[Breach]:
    found = waiting(touched.households, rule)
    groups = (
        found.values("county", "county__short_name", "township__name", "village", "village__name")
        .annotate(n=Count("*"))
        .order_by("county__order", "township__code", "village__code")
    )
    breaches = []
    for g in groups:
        place = f"{g['county__short_name']}{g['township__name']}{g['village__name']}"
        message = (
            f"{place}：{rule.name}，该村及所在乡（镇、街道）尚无{rule.missing}，"
            f"{rule.path.label}户不能进入“施工中”及以后（本次涉及 {g['n']:,} 户）"
        )
        codes = found.filter(village=g["village"]).values_list("code", flat=True)
        breaches.append(
            Breach(
                "stage",
                message,
                county_id=g["county"],
                village_id=g["village"],
                codes=tuple(codes),
            )
        )
    return breaches


def grid_before_electric(touched: Touched) -> list[Breach]:
    """A plan rule: a 煤改电 household reaches 施工中 only where an upgrade is 已投运."""
    return _area_breaches(touched, GRID)


def network_before_gas(touched: Touched) -> list[Breach]:
    """A plan rule: a 煤改气 household reaches 施工中 only where the gas network is 已通气."""
    return _area_breaches(touched, NETWORK)


def dependents_left_waiting(rule: AreaRule, *, county_id: int, places: Iterable[AreaWork]) -> int:
    """After works change (taken back from ready, moved, removed): the households of the areas they
    served before that no ready works serve any more. Every one of them depended on these works."""
    served = Household.objects.none()
    for work in places:
        if work.village_id:
            served |= Household.objects.filter(village=work.village_id)
        else:
            served |= Household.objects.filter(township=work.township_id)
    return waiting(served.filter(county=county_id), rule).count()


# A works' area: its township, and its village (None: the whole township).
Place = tuple[int, int | None]


def left_waiting_by_place(rule: AreaRule, places: Iterable[Place]) -> dict[Place, int]:
    """After works change (taken back from ready, moved): for each area they served before, the
    households there that no ready works serve any more. One query for all the areas of a file,
    where dependents_left_waiting asks one for each works."""
    left: dict[Place, int] = dict.fromkeys(places, 0)
    if not left:
        return left
    villages = sorted({v for _, v in left if v is not None})
    townships = sorted({t for t, v in left if v is None})
    served = Household.objects.filter(Q(village__in=villages) | Q(township__in=townships))
    found = waiting(served, rule).order_by().values_list("township", "village")
    for township, village, n in found.annotate(n=Count("*")):
        if (township, village) in left:
            left[(township, village)] += n
        if (township, None) in left:
            left[(township, None)] += n
    return left


def withdrawal_message(rule: AreaRule, *, area: str, left: int, to: str) -> str:
    """Works taken back while `left` households of their area depend on them: `to` says what
    the write would do (改为“施工中”, 删除)."""
    return (
        f"{area}仍有 {left:,} 户{rule.path.label}户（施工中及以后）依靠该工程的"
        f"{rule.missing.removeprefix('已投运的').removeprefix('已通气的')}，不能{to}"
    )


def coverage_by_village(rule: AreaRule, county_ids: Iterable[int]) -> dict[int, bool]:
    """For each village of these counties with households on the rule's path: is it served?"""
    households = Household.objects.filter(county__in=list(county_ids), path=rule.path)
    ready = rule.works.objects.ready()
    served = set(households.filter(ready.covering()).values_list("village", flat=True).distinct())
    result: dict[int, bool] = defaultdict(bool)
    for village in households.values_list("village", flat=True).distinct():
        result[village] = village in served
    return dict(result)
