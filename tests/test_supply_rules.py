"""The plan's supply rules at the household writers' entry points, and where the supply itself
changes: 以气定改 (gas contracts), 电网改造前置 (grid upgrades), 以供定改 (gas networks), and the
heat sources the plan refuses."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from energy_supply.models import GasContract, GasNetwork, GridUpgrade, HeatSource
from energy_supply.selectors import warnings as supply_warnings
from energy_supply.services import area_work_save, gas_contract_save
from heating.models import County, PlanYear, Township, User, Village
from retrofits.choices import Stage
from retrofits.models import Household, TenderItem
from tests.conftest import login
from tests.ledger_files import row, xlsx
from tests.test_import_bulk import id_number

pytestmark = pytest.mark.django_db

GAS_MESSAGE = "忻府区以气定改：2023-2024采暖季供用气合同可保障 {covered} 户，写入后煤改气已选型及以后的户为 {used} 户，超出 {over} 户"


def gas_rows(count: int, stage: str = "已选型", start: int = 0) -> list[dict[str, object]]:
    return [
        row(
            户编号=f"QG-{i}",
            身份证号=id_number(i),
            取暖路径="煤改气",
            设备型号="BG-20",
            实施进度=stage,
        )
        for i in range(start, start + count)
    ]


def contract(households: int, county: str = "忻府区") -> GasContract:
    """The county's only contract for the 2023-2024 season."""
    GasContract.objects.filter(county__short_name=county).delete()
    return GasContract.objects.create(
        code=f"T-{county}", county=County.objects.get(short_name=county), supplier="某燃气公司",
        signed_on=dt.date(2023, 3, 1), season=2023, volume_10k_m3=10, households=households,
    )  # fmt: skip


def imported(tmp_path: Path, rows: list[dict[str, object]], name: str = "l.xlsx") -> list[str]:
    """The CLI import's error lines (none: written)."""
    err = io.StringIO()
    try:
        call_command(
            "import_ledger", str(xlsx(tmp_path, rows, name=name)), stdout=io.StringIO(), stderr=err
        )
    except CommandError:
        return err.getvalue().splitlines()
    return []


# ---------------------------------------------------------------- 以气定改


def test_a_ledger_beyond_the_gas_contracts_is_refused_naming_the_county_and_both_numbers(
    tmp_path: Path, tender: list[TenderItem]
) -> None:
    contract(2)
    message = GAS_MESSAGE.format(covered=2, used=3, over=1)
    assert imported(tmp_path, gas_rows(3)) == [
        f"第{n}行「实施进度」：{message}。请先签订或增补供用气合同" for n in (2, 3, 4)
    ]
    assert not Household.objects.exists()
    assert imported(tmp_path, gas_rows(2), name="two.xlsx") == []
    # 已确户 is not counted: the equipment is not chosen yet.
    assert imported(tmp_path, gas_rows(1, stage="已确户", start=5), name="more.xlsx") == []
    assert Household.objects.count() == 3


def test_confirmed_households_beyond_the_gas_are_a_warning_with_the_numbers(
    tmp_path: Path, tender: list[TenderItem], municipal: User
) -> None:
    """超改抢跑 in the making: 已确户 beyond what the contracts leave is said now (from 已选型 on
    the write is refused, as above)."""
    contract(3)
    rows = gas_rows(2) + gas_rows(4, stage="已确户", start=2)
    assert imported(tmp_path, rows) == []  # not refused: they have not chosen equipment yet
    found = supply_warnings(
        counties=County.objects.filter(short_name="忻府区"),
        plan_year=PlanYear.objects.get(year=2023),
        today=dt.date(2023, 6, 1),
    )
    messages = [w.message for w in found if w.kind == "gas"]
    assert "忻府区煤改气已确户 4 户，合同余量 1 户，超出 3 户" in " ".join(messages)


@pytest.fixture
def at_the_limit(tmp_path: Path, tender: list[TenderItem]) -> Household:
    """A contract for two, two households at 已选型, and a third at 已确户 (returned)."""
    contract(2)
    assert imported(tmp_path, gas_rows(2) + gas_rows(1, stage="已确户", start=2)) == []
    return Household.objects.get(code="QG-2")


def test_a_form_save_beyond_the_gas_is_refused_and_keeps_what_was_typed(
    client: Client, official: User, at_the_limit: Household
) -> None:
    h = at_the_limit
    data = {
        "code": h.code, "township": h.township_id, "village": h.village_id, "head_name": "新名字",
        "id_number": h.id_number, "phone": h.phone, "area": h.area, "path": h.path,
        "equipment": h.equipment_id, "stage": Stage.SELECTED, "completed_on": "", "notes": "", "plan_year": 2023,
        "reason": "",
    }  # fmt: skip
    response = login(client, official).post(reverse("household-edit", args=[h.pk]), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert GAS_MESSAGE.format(covered=2, used=3, over=1) in page
    assert 'value="新名字"' in page
    h.refresh_from_db()
    assert (h.stage, h.head_name) == (Stage.CONFIRMED, "张三")


def test_an_admin_correction_beyond_the_gas_is_refused(
    client: Client, administrator: User, at_the_limit: Household
) -> None:
    url = reverse("admin:retrofits_household_change", args=[at_the_limit.pk])
    login(client, administrator)
    form = client.get(url).context["adminform"].form
    data = {k: ("" if v is None else v) for k, v in form.initial.items() if k in form.fields}
    data.update(stage=Stage.SELECTED, low_income="", reason="更正")
    response = client.post(url, data)
    assert response.status_code == 200
    assert GAS_MESSAGE.format(covered=2, used=3, over=1) in response.content.decode()
    at_the_limit.refresh_from_db()
    assert at_the_limit.stage == Stage.CONFIRMED


def test_a_contract_cut_or_cancelled_below_what_is_used_is_refused(
    at_the_limit: Household, official: User
) -> None:
    deal = GasContract.objects.get(county__short_name="忻府区")
    deal.households = 1
    with pytest.raises(
        ValidationError, match="可保障 1 户，合同变更后煤改气已选型及以后的户为 2 户"
    ):
        gas_contract_save(contract=deal, user=official)
    deal.households, deal.cancelled_on = 2, dt.date(2023, 9, 1)
    with pytest.raises(ValidationError, match="可保障 0 户"):
        gas_contract_save(contract=deal, user=official)
    assert GasContract.objects.get(pk=deal.pk).cancelled_on is None
    deal.cancelled_on = None
    deal.households = 5  # raising it is always fine
    gas_contract_save(contract=deal, user=official)


def test_a_county_official_keeps_only_their_countys_contracts(
    at_the_limit: Household, other_official: User
) -> None:
    deal = GasContract.objects.get(county__short_name="忻府区")
    deal.households = 9
    with pytest.raises(PermissionDenied, match="只有本县的县级用户"):
        gas_contract_save(contract=deal, user=other_official)


# ---------------------------------------------------------------- grid and gas network first


@pytest.fixture
def no_grid_in_qicun(tender: list[TenderItem]) -> Village:
    """奇村镇 loses its upgrade: 辛庄村委会 (returned) has no energized grid."""
    qicun = Township.objects.get(name="奇村镇")
    GridUpgrade.objects.filter(township=qicun).delete()
    return Village.objects.get(township=qicun, name="辛庄村委会")


GRID_MESSAGE = (
    "忻府区奇村镇辛庄村委会：电网改造前置，该村及所在乡（镇、街道）尚无已投运的电网改造工程，"
    "煤改电户不能进入“施工中”及以后（本次涉及 {n} 户）"
)


def test_an_electric_household_waits_for_its_grid(
    tmp_path: Path, no_grid_in_qicun: Village, official: User
) -> None:
    assert imported(tmp_path, [row(实施进度="已选型")]) == []  # selecting equipment may go ahead
    assert imported(tmp_path, [row(实施进度="施工中")], name="b.xlsx") == [
        "第2行「实施进度」：" + GRID_MESSAGE.format(n=1)
    ]
    upgrade = GridUpgrade(
        code="DW-XZ", county=no_grid_in_qicun.township.county, township=no_grid_in_qicun.township,
        village=no_grid_in_qicun, capacity_kva=400, status=GridUpgrade.Status.BUILDING,
    )  # fmt: skip
    area_work_save(work=upgrade, user=official)
    assert imported(tmp_path, [row(实施进度="施工中")], name="c.xlsx") != []  # still building
    upgrade.status, upgrade.energized_on = GridUpgrade.Status.ENERGIZED, dt.date(2023, 5, 1)
    area_work_save(work=upgrade, user=official)
    assert imported(tmp_path, [row(实施进度="施工中")], name="d.xlsx") == []

    # Now the household depends on it: the upgrade cannot go back.
    upgrade.status, upgrade.energized_on = GridUpgrade.Status.BUILDING, None
    with pytest.raises(
        ValidationError, match="奇村镇辛庄村委会仍有 1 户煤改电户（施工中及以后）依靠该工程"
    ):
        area_work_save(work=upgrade, user=official)
    assert GridUpgrade.objects.get(code="DW-XZ").status == GridUpgrade.Status.ENERGIZED


def test_the_form_and_the_admin_meet_the_grid_rule(
    tmp_path: Path, client: Client, official: User, administrator: User, no_grid_in_qicun: Village
) -> None:
    assert imported(tmp_path, [row(实施进度="已选型")]) == []
    h = Household.objects.get()
    data = {
        "code": h.code, "township": h.township_id, "village": h.village_id, "head_name": h.head_name,
        "id_number": h.id_number, "phone": h.phone, "area": h.area, "path": h.path,
        "equipment": h.equipment_id, "stage": Stage.BUILDING, "completed_on": "", "notes": "", "plan_year": 2023,
        "reason": "",
    }  # fmt: skip
    response = login(client, official).post(reverse("household-edit", args=[h.pk]), data)
    assert GRID_MESSAGE.format(n=1) in response.content.decode()
    url = reverse("admin:retrofits_household_change", args=[h.pk])
    login(client, administrator)
    form = client.get(url).context["adminform"].form
    admin_data = {k: ("" if v is None else v) for k, v in form.initial.items() if k in form.fields}
    admin_data.update(stage=Stage.BUILDING, low_income="")
    assert GRID_MESSAGE.format(n=1) in client.post(url, admin_data).content.decode()
    h.refresh_from_db()
    assert h.stage == Stage.SELECTED


def test_a_gas_household_waits_for_its_network(tmp_path: Path, tender: list[TenderItem]) -> None:
    qicun = Township.objects.get(name="奇村镇")
    network = GasNetwork.objects.get(township=qicun)
    network.status, network.supplied_on = GasNetwork.Status.BUILDING, None
    area_work_save(work=network, user=None)  # nobody depends on it yet
    errors = imported(tmp_path, gas_rows(1, stage="施工中"))
    assert errors == [
        "第2行「实施进度」：忻府区奇村镇辛庄村委会：以供定改，该村及所在乡（镇、街道）尚无已通气的"
        "燃气管网，煤改气户不能进入“施工中”及以后（本次涉及 1 户）"
    ]
    network.status, network.supplied_on = GasNetwork.Status.SUPPLIED, dt.date(2023, 6, 1)
    area_work_save(work=network, user=None)
    assert imported(tmp_path, gas_rows(1, stage="施工中"), name="b.xlsx") == []
    network.status, network.supplied_on = GasNetwork.Status.PLANNED, None
    with pytest.raises(ValidationError, match="仍有 1 户煤改气户"):
        area_work_save(work=network, user=None)


# ---------------------------------------------------------------- heat sources


def heat_source(**changes: Any) -> HeatSource:
    values: dict[str, Any] = {
        "name": "某热源", "kind": HeatSource.Kind.BOILER, "fuel": HeatSource.Fuel.COAL,
        "capacity": 40, "unit": HeatSource.Unit.T_H, "flue_gas_treatment": True,
        "status": HeatSource.Status.RUNNING,
    }  # fmt: skip
    return HeatSource(**{**values, **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"capacity": 35}, "35蒸吨/小时（24.5兆瓦）及以下的燃煤锅炉不得作为热源"),
        ({"capacity": 24, "unit": HeatSource.Unit.MW}, "35蒸吨/小时（24.5兆瓦）及以下的燃煤锅炉"),
        ({"on_closure_list": True}, "列入淘汰关停和产能退出范围的企业不得作为热源"),
        (
            {
                "kind": HeatSource.Kind.BIOMASS_BOILER,
                "fuel": HeatSource.Fuel.BIOMASS,
                "flue_gas_treatment": False,
            },
            "生物质成型燃料锅炉须配备高效烟气净化设施",
        ),
    ],
)
def test_the_plan_refuses_these_heat_sources(changes: dict[str, Any], message: str) -> None:
    source = heat_source(**changes)
    with pytest.raises(ValidationError, match=message):
        source.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        source.save()  # the database refuses it too


@pytest.mark.parametrize(
    "changes",
    [
        {},  # a 40 t/h coal boiler with flue-gas treatment
        {"kind": HeatSource.Kind.BIOMASS_BOILER, "fuel": HeatSource.Fuel.BIOMASS, "capacity": 10},
        {"kind": HeatSource.Kind.CHP, "capacity": 300, "unit": HeatSource.Unit.MW},
        {
            "kind": HeatSource.Kind.HEAT_PUMP,
            "fuel": HeatSource.Fuel.ELECTRIC,
            "capacity": 5,
            "unit": HeatSource.Unit.MW,
        },
        # As the plan words it: the 35 t/h ban is of coal *boilers*, not of CHP or waste heat;
        # flue-gas treatment is asked of biomass *boilers*, not of a biomass CHP plant.
        {"kind": HeatSource.Kind.CHP, "capacity": 20},
        {"kind": HeatSource.Kind.WASTE_HEAT, "fuel": HeatSource.Fuel.WASTE_HEAT, "capacity": 10},
        {"kind": HeatSource.Kind.CHP, "fuel": HeatSource.Fuel.BIOMASS, "flue_gas_treatment": False},
    ],
)
def test_the_plan_accepts_these_heat_sources(changes: dict[str, Any]) -> None:
    source = heat_source(**changes)
    source.full_clean()
    source.save()
