"""The acceptance rules: which checklist a path takes, the acceptance window, and 先立后破."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence

from heating.models import HeatingPath, PlanYear
from heating.models.plan import HeatingSeason

# What an inspector checks, by heating path (the plan's acceptance scheme, 忻清洁办发〔2022〕7号).
CHECKLISTS: dict[str, tuple[tuple[str, str], ...]] = {
    HeatingPath.ELECTRIC: (
        ("model_matches", "设备型号与中标清单及台账一致"),
        ("installed", "设备安装到位并已调试"),
        ("temperature", "室内温度达标"),
        ("wiring", "线路及断路器容量符合要求"),
    ),
    HeatingPath.GAS: (
        ("leak_test", "燃气泄漏检测合格"),
        ("alarm_valve", "已安装报警器和自动切断阀"),
        ("flue", "烟道安装规范"),
        ("user_trained", "用户已接受安全使用培训"),
    ),
    HeatingPath.DISTRICT: (
        ("connected", "已接入集中供热管网"),
        ("valves", "阀门安装到位"),
        ("radiators", "散热器正常供热"),
    ),
    HeatingPath.BIOMASS: (
        ("stove", "炉具（锅炉）安装到位并正常运行"),
        ("fuel", "燃料供应落实"),
    ),
}

HEATING_SEASON_START = (11, 1)  # a heating season runs from November to March
HEATING_SEASON_END_NEXT = (4, 1)  # the first day after it


def heating_seasons() -> list[HeatingSeason]:
    """The plan years' heating seasons by their start: the bureau's dates where it set them
    (PlanYear.heating_season), the same ones the running subsidy counts."""
    return sorted((p.heating_season() for p in PlanYear.objects.all()), key=lambda s: s.start)


def removal_allowed_from(
    accepted_on: dt.date, seasons: Sequence[HeatingSeason] | None = None
) -> dt.date:
    """先立后破: the old stove may go once the new system has run one whole heating season.

    The first season that starts on or after acceptance is the one that counts; removal is allowed
    from the day after it ends (1 April by default). `seasons`: heating_seasons(), passed by a
    caller that asks for many households.
    """
    for season in heating_seasons() if seasons is None else seasons:
        if season.start >= accepted_on:
            return season.end + dt.timedelta(days=1)
    # No plan year's season starts after the acceptance yet: the default calendar's.
    month, day = HEATING_SEASON_START
    season_year = (
        accepted_on.year
        if accepted_on <= dt.date(accepted_on.year, month, day)
        else accepted_on.year + 1
    )
    end_month, end_day = HEATING_SEASON_END_NEXT
    return dt.date(season_year + 1, end_month, end_day)


# Other apps may hold a removal back beyond the calendar (aftercare: a season that did not run
# stably), registered from their AppConfig.ready(). Each takes the households asked about, each
# with the day removal is allowed from (removal_allowed_from) and the day of the removal, and
# returns the refusal of those it holds back, naming why.
RemovalCheck = Callable[[Mapping[int, tuple[dt.date, dt.date]]], dict[int, str]]
REMOVAL_CHECKS: list[RemovalCheck] = []


def removal_held_back(removals: Mapping[int, tuple[dt.date, dt.date]]) -> dict[int, str]:
    """The registered checks' refusals, by household id."""
    held: dict[int, str] = {}
    for check in REMOVAL_CHECKS:
        for pk, reason in check(removals).items():
            held.setdefault(pk, reason)
    return held
