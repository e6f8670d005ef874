from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from heating.models import BuildingKind, BuildingTarget, County, PlanYear, Target, Township, Village

pytestmark = pytest.mark.django_db


def test_it_loads_the_16_units_in_table_order() -> None:
    assert list(County.objects.values_list("short_name", flat=True)) == [
        "忻州城区", "忻府区", "定襄县", "原平市", "五台县", "代县", "繁峙县", "宁武县",
        "静乐县", "神池县", "五寨县", "岢岚县", "河曲县", "保德县", "偏关县", "五台山",
    ]  # fmt: skip
    assert County.objects.get(short_name="五台山").name == "五台山风景名胜区"
    assert County.objects.get(short_name="忻州城区").division_code is None


def test_it_loads_every_township_and_village() -> None:
    assert Township.objects.count() == 173
    assert Village.objects.count() == 2878


def test_city_district_holds_the_seven_streets_of_xinfu() -> None:
    streets = Township.objects.filter(county__short_name="忻州城区")
    assert sorted(streets.values_list("code", flat=True)) == [f"14090200{i}" for i in range(1, 8)]
    xinfu = Township.objects.filter(county__short_name="忻府区")
    assert xinfu.count() == 18 - 7
    assert not xinfu.filter(name__endswith="街道").exists()


def test_loading_again_changes_nothing() -> None:
    before = list(Village.objects.values_list("pk", "code", "name", "township_id"))
    call_command("load_reference", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert list(Village.objects.values_list("pk", "code", "name", "township_id")) == before
    assert County.objects.count() == 16


def test_plan_2023_has_its_milestones_and_building_targets() -> None:
    plan = PlanYear.objects.get(year=2023)
    assert str(plan.plan_due) == "2023-04-20"
    assert str(plan.works_due) == "2023-10-15"
    assert str(plan.works_due_for(County.objects.get(short_name="五台山"))) == "2023-10-01"
    assert str(plan.works_due_for(County.objects.get(short_name="原平市"))) == "2023-10-15"
    assert (str(plan.acceptance_start), str(plan.acceptance_due)) == ("2023-10-15", "2023-10-31")
    assert (str(plan.evaluation_start), str(plan.evaluation_due)) == ("2023-11-01", "2024-04-30")
    town = BuildingTarget.objects.get(plan_year=plan, kind=BuildingKind.TOWN)
    rural = BuildingTarget.objects.get(plan_year=plan, kind=BuildingKind.RURAL_ENVELOPE)
    assert (town.area_m2, town.min_efficiency_gain_pct) == (1217600, 30)
    assert (rural.area_m2, rural.min_efficiency_gain_pct) == (1834500, None)


def test_the_2023_targets_add_up_to_the_plan() -> None:
    targets = Target.objects.for_year(2023)
    assert targets.count() == 16 * 4 * 2
    assert targets.total() == 209683
    by_path = {
        p: targets.filter(path=p).total() for p in ("district", "electric", "gas", "biomass")
    }
    assert by_path == {"district": 164768, "electric": 29976, "gas": 4589, "biomass": 10350}


def test_wutaishan_finishes_acceptance_as_much_earlier() -> None:
    plan = PlanYear.objects.get(year=2023)
    # The plan moves 五台山's works to 10/1 (五(二)); acceptance is 10/15–10/31 for every unit
    # (五(三)): its acceptance does not end two weeks early.
    wutaishan = plan.window_for(County.objects.get(short_name="五台山"))
    assert (str(wutaishan.works_due), str(wutaishan.acceptance_due)) == ("2023-10-01", "2023-10-31")
    assert str(wutaishan.acceptance_start) == "2023-10-15" and wutaishan.accepting(
        dt.date(2023, 10, 25)
    )
    assert str(plan.acceptance_due_for(County.objects.get(short_name="代县"))) == "2023-10-31"
