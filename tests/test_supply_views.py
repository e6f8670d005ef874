"""The supply pages per role: lists, forms that keep what was typed, uploads, exports, contract
cancellation, 通气 records, key projects, reserves; the county page's figures, the home page's
warnings and /api/energy."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from energy_supply.models import (
    FuelReserve,
    GasConnection,
    GasContract,
    GasNetwork,
    GridUpgrade,
    HeatSource,
    KeyProject,
    Milestone,
    ReserveNorm,
)
from energy_supply.selectors import county_energy
from heating.models import County, HeatingPath, PlanYear, Township, User
from retrofits.models import Household, TenderItem
from retrofits.services.rollups import rollup_run
from tests.conftest import login
from tests.ledger_files import row, xlsx
from tests.test_supply_import import CONTRACT, a_contract, sheet

pytestmark = pytest.mark.django_db


def county(name: str) -> County:
    return County.objects.get(short_name=name)


@pytest.mark.parametrize("name", ["supply", "heat-sources", "key-projects", "supply-reserves"])
def test_supply_pages_need_login(client: Client, name: str) -> None:
    assert client.get(reverse(name))["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("kind", ["contracts", "upgrades", "networks"])
def test_a_county_official_lists_only_their_countys_records(
    client: Client, official: User, kind: str
) -> None:
    response = login(client, official).get(reverse("supply-list", args=[kind]))
    assert response.status_code == 200
    shown = {r.county.short_name for r, _ in response.context["rows"]}
    assert shown == {"忻府区"}
    model: Any = {"contracts": GasContract, "upgrades": GridUpgrade, "networks": GasNetwork}[kind]
    record = model._default_manager.filter(county__short_name="原平市").first()
    assert record is not None
    assert client.get(reverse("supply-detail", args=[kind, record.pk])).status_code == 404


def test_an_unknown_kind_or_county_is_a_chinese_answer(client: Client, municipal: User) -> None:
    login(client, municipal)
    assert client.get(reverse("supply-list", args=["pipes"])).status_code == 404
    response = client.get(reverse("supply-list", args=["contracts"]), {"county": "abc"})
    assert response.status_code == 400 and "县（市、区）「abc」无效" in response.content.decode()
    assert (
        client.get(reverse("supply-export", args=["upgrades"]), {"county": "x"}).status_code == 400
    )
    assert client.get(reverse("supply-reserves"), {"county": "?"}).status_code == 400


def test_inspectors_see_but_do_not_keep_supply(client: Client, inspector: User) -> None:
    login(client, inspector)
    assert client.get(reverse("supply-list", args=["contracts"])).status_code == 200
    response = client.get(reverse("supply-create", args=["contracts"]))
    assert response.status_code == 403
    assert (
        "只有本县的县级用户、市级用户和系统管理员可以维护能源保障台账" in response.content.decode()
    )
    assert client.get(reverse("supply-import", args=["upgrades"])).status_code == 403


def test_a_contract_form_keeps_what_was_typed_and_saves_with_history(
    client: Client, official: User
) -> None:
    login(client, official)
    data = {
        "code": "XF-2023-09", "county": county("忻府区").pk, "supplier": "忻州燃气",
        "signed_on": "2023-03-01", "season": "2023", "volume_10k_m3": "-5", "households": "800",
    }  # fmt: skip
    response = client.post(reverse("supply-create", args=["contracts"]), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "合同气量应为正数" in page and 'value="忻州燃气"' in page
    data["volume_10k_m3"] = "60"
    response = client.post(reverse("supply-create", args=["contracts"]), data)
    contract = GasContract.objects.get(code="XF-2023-09")
    assert response["Location"] == reverse("supply-detail", args=["contracts", contract.pk])
    assert "2023-2024" in client.get(response["Location"]).content.decode()


def test_a_county_official_cannot_file_a_contract_for_another_county(
    client: Client, official: User
) -> None:
    data = {
        "code": "YP-X", "county": county("原平市").pk, "supplier": "某公司",
        "signed_on": "2023-03-01", "season": "2023", "volume_10k_m3": "5", "households": "8",
    }  # fmt: skip
    response = login(client, official).post(reverse("supply-create", args=["contracts"]), data)
    assert response.status_code == 200
    assert not GasContract.objects.filter(code="YP-X").exists()


def test_an_upgrade_takes_its_county_from_its_township(client: Client, official: User) -> None:
    township = Township.objects.get(name="奇村镇")
    data = {
        "code": "DW-NEW", "township": township.pk, "village": "", "capacity_kva": "400",
        "status": "energized", "energized_on": "",
    }  # fmt: skip
    login(client, official)
    response = client.post(reverse("supply-create", args=["upgrades"]), data)
    assert "已投运的工程须填写投运日期" in response.content.decode()
    data["energized_on"] = "2023-05-01"
    client.post(reverse("supply-create", args=["upgrades"]), data)
    assert GridUpgrade.objects.get(code="DW-NEW").county.short_name == "忻府区"


def test_cancelling_a_contract_others_count_on_is_refused(
    client: Client, official: User, tmp_path: Path, tender: list[TenderItem]
) -> None:
    GasContract.objects.filter(county__short_name="忻府区").update(households=1)
    gas = row(取暖路径="煤改气", 设备型号="BG-20", 实施进度="已选型")
    call_command("import_ledger", str(xlsx(tmp_path, [gas])), stdout=io.StringIO())
    contract = GasContract.objects.get(county__short_name="忻府区")
    login(client, official)
    response = client.post(
        reverse("contract-cancel", args=[contract.pk]), {"cancelled_on": "2023-09-01"}, follow=True
    )
    assert "忻府区以气定改" in response.content.decode()
    contract.refresh_from_db()
    assert contract.cancelled_on is None


def test_a_web_upload_lists_every_error_and_writes_nothing(
    client: Client, official: User, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    path = sheet(tmp_path, CONTRACT, [a_contract(签订日期="昨天")])
    login(client, official)
    # The upload is queued; its job (run here, in-process, as under make run) shows the outcome.
    with path.open("rb") as f, django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("supply-import", args=["contracts"]), {"file": f})
    page = client.get(response["Location"]).content.decode()
    assert "共 1 处错误，未写入任何数据" in page and "「昨天」应为日期" in page
    upload = SimpleUploadedFile("x.pdf", b"%PDF")
    response = client.post(reverse("supply-import", args=["contracts"]), {"file": upload})
    assert "请上传 .xlsx 或 .csv 文件" in response.content.decode()


def test_the_export_and_the_template_are_the_templates_layout(
    client: Client, municipal: User
) -> None:
    login(client, municipal)
    export = client.get(
        reverse("supply-export", args=["upgrades"]), {"county": county("忻府区").pk}
    )
    table = load_workbook(io.BytesIO(export.content))["电网改造工程"]
    assert [c.value for c in table[1]][:3] == ["工程编号", "县（市、区）", "乡（镇、街道）"]
    assert {r[1].value for r in table.iter_rows(min_row=2)} == {"忻府区"}
    template = client.get(reverse("supply-template", args=["networks"]))
    assert load_workbook(io.BytesIO(template.content))["燃气管网工程"].max_row == 1


def test_gas_reaching_a_household_is_recorded_on_its_dossier(
    client: Client, official: User, inspector: User, tmp_path: Path, tender: list[TenderItem]
) -> None:
    gas = row(取暖路径="煤改气", 设备型号="BG-20", 实施进度="已完工", 完工日期=dt.date(2023, 9, 1))
    call_command("import_ledger", str(xlsx(tmp_path, [gas])), stdout=io.StringIO())
    h = Household.objects.get()
    url = reverse("gas-connection", args=[h.pk])
    assert login(client, inspector).post(url, {"connected_on": "2023-09-20"}).status_code == 403
    login(client, official)
    response = client.post(url, {"connected_on": "2099-01-01"}, follow=True)
    assert "通气日期不能晚于今天" in response.content.decode()
    client.post(url, {"connected_on": "2023-09-20"})
    assert GasConnection.objects.get(household=h).connected_on == dt.date(2023, 9, 20)
    assert (
        "已于 2023年9月20日 通气"
        in client.get(reverse("household-detail", args=[h.pk])).content.decode()
    )


def test_the_pages_gas_figures_are_the_counts_and_follow_each_new_connection(
    client: Client, official: User, tmp_path: Path, tender: list[TenderItem]
) -> None:
    """The pages take the 煤改气 households from the rollup and keep the 通气 figures for its run,
    but not past a new 通气 record."""
    gas = row(取暖路径="煤改气", 设备型号="BG-20", 实施进度="已完工", 完工日期=dt.date(2023, 9, 1))
    call_command("import_ledger", str(xlsx(tmp_path, [gas])), stdout=io.StringIO())
    h = Household.objects.get()
    rollup_run()
    login(client, official)
    page = reverse("county", args=[h.county_id])
    energy = client.get(page).context["energy"]
    assert (energy.gas.used, energy.network.completed_served) == (1, 0)
    client.post(reverse("gas-connection", args=[h.pk]), {"connected_on": "2023-09-20"})
    assert client.get(page).context["energy"].network.completed_served == 1


def _contract(xinfu: County) -> None:
    contract = GasContract.objects.filter(county=xinfu).first()
    assert contract is not None
    contract.households += 1
    contract.save()


def _works(model: type[GridUpgrade] | type[GasNetwork]) -> Any:
    def change(xinfu: County) -> None:
        works = model.objects.filter(county=xinfu, status=model.READY).first()
        assert works is not None
        works.status = model.Status.BUILDING
        works.energized_on = works.supplied_on = None
        works.save()

    return change


def _heat_source(xinfu: County) -> None:
    source = HeatSource.objects.create(
        name="忻府区生物质热电厂", kind=HeatSource.Kind.CHP, fuel=HeatSource.Fuel.BIOMASS,
        capacity=Decimal(30), unit=HeatSource.Unit.MW, status=HeatSource.Status.RUNNING,
    )  # fmt: skip
    source.counties.set([xinfu])


def _norm(xinfu: County) -> None:
    norm = ReserveNorm.objects.get(fuel="clean_coal")
    norm.tonnes_per_household += 1
    norm.save()


def _reserve(xinfu: County) -> None:
    reserve = FuelReserve.objects.get(county=xinfu)
    reserve.stored_t += 1
    reserve.save()


@pytest.mark.parametrize(
    "change",
    [_contract, _works(GridUpgrade), _works(GasNetwork), _heat_source, _norm, _reserve],
    ids=["contract", "grid", "gas-network", "heat-source", "reserve-norm", "reserve"],
)
def test_the_supply_figures_kept_for_a_count_follow_every_change_of_supply(
    tmp_path: Path, tender: list[TenderItem], change: Any
) -> None:
    """The figures are kept for the latest count and the supply tables as they stand: any write
    to a table they read shows on the next page view, with no new count."""
    electric = row(实施进度="已完工", 完工日期=dt.date(2023, 9, 1))
    gas = row(户编号="GAS-1", 身份证号="140902198001010016", 取暖路径="煤改气", 设备型号="BG-20", 实施进度="已完工", 完工日期=dt.date(2023, 9, 1))  # fmt: skip
    call_command("import_ledger", str(xlsx(tmp_path, [electric, gas])), stdout=io.StringIO())
    rollup_run()
    xinfu = county("忻府区")
    FuelReserve.objects.create(
        county=xinfu, season=2023, fuel="clean_coal", households=1000,
        contracted_t=Decimal(2600), stored_t=Decimal(2000),
    )  # fmt: skip
    plan_year = PlanYear.objects.get(year=2023)

    def figures() -> dict[str, Any]:
        (energy,) = county_energy(counties=County.objects.filter(pk=xinfu.pk), plan_year=plan_year)
        return energy.as_dict()

    before = figures()
    assert figures() == before
    change(xinfu)
    assert figures() != before


@pytest.fixture
def tonghua(db: None) -> KeyProject:
    project = KeyProject.objects.create(
        name="原平市同华二期长输管线热电联产", county=county("原平市"), responsible="王某",
        status=KeyProject.Status.BUILDING, path=HeatingPath.DISTRICT,
    )  # fmt: skip
    project.counties.set([county("原平市")])
    Milestone.objects.create(project=project, name="主管线贯通", due_on=dt.date(2023, 8, 31))
    Milestone.objects.create(
        project=project, name="开工", due_on=dt.date(2023, 5, 1), done_on=dt.date(2023, 5, 3)
    )
    return project


def test_a_late_key_project_is_flagged_and_warned_of(
    client: Client, municipal: User, official: User, tonghua: KeyProject
) -> None:
    login(client, municipal)
    page = client.get(reverse("key-project", args=[tonghua.pk])).content.decode()
    assert "滞后" in page and "施工截止 2023年10月15日 已过" in page
    warnings = client.get(reverse("home")).context["warnings"]
    assert any(w.kind == "project" and "主管线贯通" in w.message for w in warnings)
    assert login(client, official).get(reverse("key-project", args=[tonghua.pk])).status_code == 404


def test_reserves_under_need_are_shown_with_the_figure_used(client: Client, official: User) -> None:
    reserve = FuelReserve.objects.create(
        county=county("忻府区"), season=2023, fuel="clean_coal", households=1000,
        contracted_t=Decimal(2600), stored_t=Decimal(2000),
    )  # fmt: skip
    login(client, official)
    page = client.get(reverse("supply-reserves")).content.decode()
    assert "2500" in page and "2.5" in page  # 1000 户 × 每户 2.5 吨
    warnings = client.get(reverse("home"), follow=True).context["warnings"]  # their county's page
    assert [w.message for w in warnings if w.kind == "reserve"] == [
        "忻府区洁净煤储备不足：需 2,500 吨（1,000 户 × 每户 2.5 吨），已储备 2,000 吨"
    ]
    reserve.stored_t = Decimal(2500)
    reserve.save()
    warnings = client.get(reverse("home"), follow=True).context["warnings"]
    assert not [w for w in warnings if w.kind == "reserve"]


def test_households_waiting_on_their_grid_are_warned_of_and_counted(
    client: Client, municipal: User, tmp_path: Path, tender: list[TenderItem]
) -> None:
    call_command(
        "import_ledger", str(xlsx(tmp_path, [row(实施进度="已选型")])), stdout=io.StringIO()
    )
    GridUpgrade.objects.filter(township__name="奇村镇").delete()
    rollup_run()
    login(client, municipal)
    warnings = client.get(reverse("home")).context["warnings"]
    (grid,) = [w for w in warnings if w.kind == "grid"]
    assert grid.message == "忻府区有 1 户已选型、等待电网改造（奇村镇辛庄村委会）"
    assert grid.url == (
        reverse("supply-list", args=["upgrades"]) + f"?county={county('忻府区').pk}&unfinished=1"
    )
    # The link lists the works not yet serving their area, not every upgrade of the county.
    listed = client.get(grid.url).context["page"].object_list
    assert all(u.status != GridUpgrade.READY for u in listed)
    everything = client.get(
        reverse("supply-list", args=["upgrades"]), {"county": county("忻府区").pk}
    )
    assert everything.context["page"].paginator.count > len(listed)
    energy = client.get(reverse("county", args=[county("忻府区").pk])).context["energy"]
    assert (energy.grid.villages, energy.grid.ready, energy.grid.waiting) == (1, 0, 1)


def test_the_bureau_compares_the_counties_supply_in_one_table(
    client: Client, municipal: User, official: User
) -> None:
    page = login(client, municipal).get(reverse("supply")).content.decode()
    table = page.split('data-testid="energy-comparison"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 17  # a header and sixteen counties
    assert 'data-testid="energy-' not in page.replace('data-testid="energy-comparison"', "")
    own = login(Client(), official).get(reverse("supply")).content.decode()
    assert "energy-comparison" not in own and f'data-testid="energy-{county("忻府区").pk}"' in own


def test_the_energy_api_is_scoped_like_the_progress_api(
    client: Client, official: User, municipal: User
) -> None:
    payload = login(client, official).get(reverse("api-energy"), {"year": 2023}).json()
    assert [c["county"] for c in payload["counties"]] == ["忻府区"]
    assert payload["counties"][0]["gas"]["covered"] == 1000
    everything = login(client, municipal).get(reverse("api-energy"), {"year": 2023}).json()
    assert len(everything["counties"]) == 16
    assert client.get(reverse("api-energy"), {"year": "x"}).status_code == 404
    client.logout()
    assert client.get(reverse("api-energy"), {"year": 2023}).status_code == 401


def test_supply_pages_refuse_wrong_methods(client: Client, official: User) -> None:
    login(client, official)
    assert client.post(reverse("supply-list", args=["contracts"])).status_code == 405
    assert client.post(reverse("supply")).status_code == 405
    assert client.get(reverse("contract-cancel", args=[1])).status_code == 405
    assert client.get(reverse("gas-connection", args=[1])).status_code == 405
    assert client.delete(reverse("supply-create", args=["upgrades"])).status_code == 405
