"""The supply writers beside the one-record services: many gas connections at once and the bulk
that sets up a season's works and contracts (the demo's), by the rules of one record; the
bureau's heat sources, key projects and milestones, by their services and in the admin site."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

import energy_supply.admin
from energy_supply.models import (
    GasConnection,
    GasContract,
    GasNetwork,
    GridUpgrade,
    HeatSource,
    KeyProject,
    Milestone,
)
from energy_supply.services import (
    gas_connections_record_bulk,
    heat_source_save,
    key_project_save,
    milestone_delete,
    milestone_save,
    supply_records_create_bulk,
)
from heating.models import County, HeatingPath, Township, User
from retrofits.models import Household, TenderItem
from tests.conftest import login
from tests.ledger_files import IDS, row, xlsx

pytestmark = pytest.mark.django_db


def county(name: str) -> County:
    return County.objects.get(short_name=name)


# ---------------------------------------------------------------- gas connections


@pytest.fixture
def gas(tmp_path: Path, tender: list[TenderItem]) -> list[Household]:
    """Two completed 煤改气 households of 忻府区, one at 已选型 and a completed 煤改电 one."""
    gas = {"取暖路径": "煤改气", "设备型号": "BG-20"}
    rows = [
        row(户编号="QG-1", 实施进度="已完工", 完工日期=dt.date(2023, 9, 1), **gas),
        row(户编号="QG-2", 身份证号=IDS[1], 实施进度="已完工", 完工日期=dt.date(2023, 9, 5), **gas),
        row(户编号="QG-3", 身份证号=IDS[2], 实施进度="已选型", **gas),
        row(户编号="DG-1", 身份证号=IDS[4], 实施进度="已完工", 完工日期=dt.date(2023, 9, 1)),
    ]
    call_command("import_ledger", str(xlsx(tmp_path, rows)), stdout=io.StringIO())
    return list(Household.objects.order_by("code"))  # DG-1, QG-1, QG-2, QG-3


def test_gas_reaching_many_households_at_once(gas: list[Household], official: User) -> None:
    _, first, second, _ = gas
    day = dt.date(2023, 9, 20)
    assert (
        gas_connections_record_bulk(connections=[(first.pk, day), (second.pk, day)], user=None) == 2
    )
    # Again, by the county's official: the day recorded before is replaced, as one by one.
    later = dt.date(2023, 9, 25)
    gas_connections_record_bulk(connections=[(first.pk, later)], user=official)
    assert set(
        GasConnection.objects.values_list("household__code", "connected_on", "recorded_by")
    ) == {
        ("QG-1", later, official.pk),
        ("QG-2", day, None),
    }


@pytest.mark.parametrize(
    ("index", "day", "message"),
    [
        (0, "2023-09-20", "只有煤改气的户登记通气（户编号：DG-1）"),
        (3, "2023-09-20", "该户完工后方可登记通气（户编号：QG-3）"),
        (2, "2099-01-01", "通气日期不能晚于今天（户编号：QG-2）"),
        (2, "2022-09-01", "通气日期早于完工日期一年以上，请核对（户编号：QG-2）"),
        (1, "2023-09-21", "同一户在本次登记中出现多次（户编号：QG-1）"),
    ],
)
def test_many_gas_connections_follow_the_rules_of_one(
    gas: list[Household], index: int, day: str, message: str
) -> None:
    good = (gas[1].pk, dt.date(2023, 9, 20))
    with pytest.raises(ValidationError, match=message):
        gas_connections_record_bulk(
            connections=[good, (gas[index].pk, dt.date.fromisoformat(day))], user=None
        )
    assert not GasConnection.objects.exists()  # refused whole


def test_many_gas_connections_are_of_households_that_exist_in_the_users_counties(
    gas: list[Household], other_official: User, inspector: User
) -> None:
    day = dt.date(2023, 9, 20)
    with pytest.raises(ValidationError, match=r"找不到该户（户编号：#0）"):
        gas_connections_record_bulk(connections=[(gas[1].pk, day), (0, day)], user=None)
    for user in (other_official, inspector):
        with pytest.raises(PermissionDenied):
            gas_connections_record_bulk(connections=[(gas[1].pk, day)], user=user)
    assert not GasConnection.objects.exists()


# ---------------------------------------------------------------- a season's works and contracts


def works(place: Township, **changes: Any) -> list[GridUpgrade | GasNetwork | GasContract]:
    return [
        GridUpgrade(
            **{
                "code": "DW-T1", "county": place.county, "township": place,
                "capacity_kva": 400, "status": GridUpgrade.Status.ENERGIZED,
                "energized_on": dt.date(2023, 4, 1), **changes,
            }
        ),
        GasContract(
            code="GQ-T1", county=place.county, supplier="某燃气公司",
            signed_on=dt.date(2023, 3, 1), season=2023, volume_10k_m3=Decimal(5), households=50,
        ),
    ]  # fmt: skip


@pytest.fixture
def township(db: None) -> Township:
    return Township.objects.filter(county__short_name="忻府区").order_by("code").first()  # type: ignore[return-value]


def test_a_seasons_works_and_contracts_at_once(township: Township, municipal: User) -> None:
    assert supply_records_create_bulk(records=works(township), user=municipal, reason="测试") == 2
    upgrade = GridUpgrade.objects.get(code="DW-T1")
    assert upgrade.history.get().history_change_reason == "测试"
    assert upgrade.history.get().history_user == municipal
    assert GasContract.objects.get(code="GQ-T1").history.count() == 1


def test_many_works_follow_the_rules_of_one(township: Township, other_official: User) -> None:
    elsewhere = Township.objects.filter(county__short_name="原平市").first()
    with pytest.raises(ValidationError, match=r"不是忻府区的乡（镇、街道）.*（编号：DW-T1）"):
        supply_records_create_bulk(
            records=works(township, township=elsewhere), user=None, reason="测试"
        )
    with pytest.raises(ValidationError, match=r"编号已登记，只能新建（编号：DW-T1）"):
        supply_records_create_bulk(
            records=[*works(township), works(township)[0]], user=None, reason="测试"
        )
    supply_records_create_bulk(records=works(township), user=None, reason="测试")
    with pytest.raises(ValidationError, match=r"编号已登记，只能新建（编号：DW-T1、GQ-T1）"):
        supply_records_create_bulk(records=works(township), user=None, reason="测试")
    with pytest.raises(PermissionDenied):
        supply_records_create_bulk(records=[works(township)[0]], user=other_official, reason="测试")
    assert GridUpgrade.objects.filter(code="DW-T1").count() == 1


# ---------------------------------------------------------------- the bureau's records


def source(**changes: Any) -> HeatSource:
    values: dict[str, Any] = {
        "name": "某热源", "kind": HeatSource.Kind.BOILER, "fuel": HeatSource.Fuel.COAL,
        "capacity": 40, "unit": HeatSource.Unit.T_H, "flue_gas_treatment": True,
        "status": HeatSource.Status.RUNNING,
    }  # fmt: skip
    return HeatSource(**{**values, **changes})


def test_a_heat_source_is_the_bureaus(municipal: User, official: User) -> None:
    with pytest.raises(PermissionDenied):
        heat_source_save(source=source(), counties=[county("忻府区")], user=official)
    with pytest.raises(
        ValidationError, match=r"35蒸吨/小时（24\.5兆瓦）及以下的燃煤锅炉不得作为热源"
    ):
        heat_source_save(source=source(capacity=20), counties=[county("忻府区")], user=municipal)
    with pytest.raises(ValidationError, match="请至少选择一个县"):
        heat_source_save(source=source(), counties=[], user=municipal)
    saved = heat_source_save(source=source(), counties=[county("忻府区")], user=municipal)
    saved.capacity = Decimal(60)
    heat_source_save(source=saved, user=municipal)  # the counties as they were
    assert list(saved.counties.values_list("short_name", flat=True)) == ["忻府区"]
    assert saved.history.first().capacity == 60


def test_a_key_project_and_its_milestones_are_the_bureaus(municipal: User, official: User) -> None:
    project = KeyProject(
        name="某重点项目", county=county("原平市"), responsible="王某",
        status=KeyProject.Status.DONE, path=HeatingPath.DISTRICT,
    )  # fmt: skip
    with pytest.raises(ValidationError, match="已建成的项目须填写建成日期"):
        key_project_save(project=project, counties=[county("原平市")], user=municipal)
    project.status = KeyProject.Status.BUILDING
    with pytest.raises(PermissionDenied):
        key_project_save(project=project, counties=[county("原平市")], user=official)
    key_project_save(project=project, counties=[county("原平市")], user=municipal)
    milestone = Milestone(project=project, name="开工", due_on=dt.date(2023, 5, 1))
    with pytest.raises(PermissionDenied):
        milestone_save(milestone=milestone, user=official)
    milestone_save(milestone=milestone, user=municipal)
    assert [m.name for m in project.milestones.all()] == ["开工"]
    with pytest.raises(PermissionDenied):
        milestone_delete(milestone=milestone, user=official)
    milestone_delete(milestone=milestone, user=municipal)
    assert not project.milestones.exists()


def test_the_admin_saves_the_bureaus_records_through_their_services(
    client: Client, administrator: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    called: list[str] = []

    def spy(name: str) -> None:
        real = getattr(energy_supply.admin, name)

        def service(**kwargs: Any) -> Any:
            called.append(name)
            return real(**kwargs)

        monkeypatch.setattr(energy_supply.admin, name, service)

    spy("key_project_save")
    spy("milestone_save")
    login(client, administrator)  # Django's model permissions show the inline to them alone
    yuanping = county("原平市")
    response = client.post(
        reverse("admin:energy_supply_keyproject_add"),
        {
            "name": "某重点项目", "county": yuanping.pk, "responsible": "王某",
            "status": KeyProject.Status.BUILDING, "path": HeatingPath.DISTRICT,
            "counties": [yuanping.pk], "milestones-TOTAL_FORMS": "1",
            "milestones-INITIAL_FORMS": "0", "milestones-0-name": "开工",
            "milestones-0-due_on": "2023-05-01",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    project = KeyProject.objects.get(name="某重点项目")
    assert [m.name for m in project.milestones.all()] == ["开工"]
    assert list(project.counties.all()) == [yuanping]
    assert called == ["key_project_save", "milestone_save"]
