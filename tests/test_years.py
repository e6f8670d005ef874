"""Plan years side by side: each household counts toward one year's targets (任务年度), a new
year's table leaves the running year's figures as they were, the pages show the running year
until one chooses another, and 以气定改 weighs a season's gas against the years it heats."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from energy_supply.rules import gas_headroom
from heating.models import County, HeatingPath, PlanYear, Target, User
from heating.selectors import current_plan_year, upload_plan_year
from retrofits.choices import Stage
from retrofits.models import Household, TenderItem
from retrofits.models.households import household_writer
from retrofits.services.rollups import rollup_run
from tests.conftest import TABLE_2023, login
from tests.ledger_files import HEADERS, IDS, row
from tests.ledger_files import xlsx as plain_xlsx

pytestmark = pytest.mark.django_db

WITH_YEAR = [*HEADERS, "任务年度"]


def xlsx(tmp_path: Path, rows: list[dict[str, Any]], name: str = "ledger.xlsx") -> Path:
    return plain_xlsx(tmp_path, rows, headers=WITH_YEAR, name=name)


def import_ledger(path: Path) -> str:
    out = io.StringIO()
    call_command("import_ledger", str(path), stdout=out, stderr=io.StringIO())
    return out.getvalue()


def refused(path: Path) -> str:
    err = io.StringIO()
    with pytest.raises(CommandError, match="未写入任何数据") as raised:
        call_command("import_ledger", str(path), stdout=io.StringIO(), stderr=err)
    return err.getvalue() + str(raised.value)


@pytest.fixture
def year_2024(tmp_path: Path) -> PlanYear:
    """The 2024 task table, imported as the bureau would (a table titled 2024)."""
    book = load_workbook(TABLE_2023)
    book.active["A1"] = "忻州市2024年冬季清洁取暖改造任务分解表"
    path = tmp_path / "table-2024.xlsx"
    book.save(path)
    call_command("import_targets", str(path), "--year", "2024", stdout=io.StringIO())
    return PlanYear.objects.get(year=2024)


def progress(client: Client, year: int) -> dict[str, Any]:
    response = client.get(reverse("api-progress"), {"year": year})
    assert response.status_code == 200
    return dict(response.json())


def test_a_new_years_table_leaves_the_running_years_figures_alone(
    client: Client, municipal: User, tender: list[TenderItem], tmp_path: Path
) -> None:
    import_ledger(
        xlsx(tmp_path, [row(), row(户编号="XF-0002", 身份证号=IDS[1], 实施进度="已确户")])
    )
    rollup_run()
    login(client, municipal)
    before = progress(client, 2023)
    assert before["city"]["households"] == 2

    book = load_workbook(TABLE_2023)
    book.active["A1"] = "忻州市2024年冬季清洁取暖改造任务分解表"
    book.save(tmp_path / "table-2024.xlsx")
    call_command(
        "import_targets", str(tmp_path / "table-2024.xlsx"), "--year", "2024", stdout=io.StringIO()
    )
    rollup_run()

    after = progress(client, 2023)
    assert (after["city"], after["counties"]) == (before["city"], before["counties"])
    next_year = progress(client, 2024)
    assert next_year["city"]["target"] == 209683
    assert next_year["city"]["households"] == 0


def test_each_household_counts_toward_the_year_its_row_names(
    client: Client, municipal: User, tender: list[TenderItem], year_2024: PlanYear, tmp_path: Path
) -> None:
    import_ledger(
        xlsx(
            tmp_path,
            [
                row(任务年度=2023),
                row(户编号="XF-0002", 身份证号=IDS[1], 任务年度="2024"),
                row(户编号="XF-0003", 身份证号=IDS[2], 任务年度="2024年"),
            ],
        )
    )
    years = dict(Household.objects.values_list("code", "plan_year"))
    assert years == {"XF-0001": 2023, "XF-0002": 2024, "XF-0003": 2024}
    rollup_run()
    login(client, municipal)
    assert progress(client, 2023)["city"]["households"] == 1
    assert progress(client, 2024)["city"]["households"] == 2


def test_a_blank_year_keeps_a_households_year_and_gives_a_new_one_the_uploads(
    tender: list[TenderItem], year_2024: PlanYear, tmp_path: Path
) -> None:
    import_ledger(xlsx(tmp_path, [row(任务年度=2024)]))
    changed = row(实施进度="已完工", 完工日期=dt.date(2024, 9, 30), 任务年度=None)
    new = row(户编号="XF-0002", 身份证号=IDS[1], 任务年度=None)
    assert "新增 1，更新 1" in import_ledger(xlsx(tmp_path, [changed, new], name="v2.xlsx"))
    assert Household.objects.get(code="XF-0001").plan_year_id == 2024
    assert Household.objects.get(code="XF-0002").plan_year == upload_plan_year()


def test_a_file_without_the_year_column_still_imports(
    tender: list[TenderItem], tmp_path: Path
) -> None:
    assert "新增 1" in import_ledger(plain_xlsx(tmp_path, [row()], headers=HEADERS))
    assert Household.objects.get(code="XF-0001").plan_year_id == 2023


def test_a_year_that_is_no_year_or_has_no_table_is_refused_by_row_and_column(
    tender: list[TenderItem], tmp_path: Path
) -> None:
    errors = refused(
        xlsx(
            tmp_path,
            [row(任务年度="明年"), row(户编号="XF-0002", 身份证号=IDS[1], 任务年度=2030)],
        )
    )
    assert "第2行" in errors and "任务年度「明年」应为年份，如 2023" in errors
    assert "第3行" in errors and "任务年度「2030」没有任务分解表（已有年度：2023）" in errors
    assert not Household.objects.exists()


def test_the_running_year_does_not_flip_when_next_years_table_arrives(
    year_2024: PlanYear,
) -> None:
    # 2023's season runs to its evaluation (2024-04-30); 2024's works start on 2024-04-21.
    assert current_plan_year(dt.date(2023, 12, 1)).year == 2023  # type: ignore[union-attr]
    assert current_plan_year(dt.date(2024, 3, 1)).year == 2023  # type: ignore[union-attr]
    assert current_plan_year(dt.date(2024, 6, 1)).year == 2024  # type: ignore[union-attr]
    # A new household's year: the works window that holds the day, else the latest started.
    assert upload_plan_year(dt.date(2023, 12, 1)).year == 2023  # type: ignore[union-attr]
    assert upload_plan_year(dt.date(2024, 5, 1)).year == 2024  # type: ignore[union-attr]
    assert upload_plan_year(dt.date(2023, 1, 1)).year == 2023  # type: ignore[union-attr]


def test_the_pages_switch_years_and_keep_the_running_one_by_default(
    client: Client, municipal: User, year_2024: PlanYear
) -> None:
    login(client, municipal)
    page = client.get(reverse("dashboard"))
    assert page.status_code == 200
    assert page.context["plan_year"] == current_plan_year()
    assert 'class="year-switch"' in page.content.decode()
    chosen = client.get(reverse("dashboard"), {"year": 2024})
    assert chosen.context["plan_year"].year == 2024
    assert client.get(reverse("dashboard"), {"year": 2030}).status_code == 404


def test_the_template_offers_the_years_and_the_export_carries_them(
    client: Client, official: User, tender: list[TenderItem], tmp_path: Path
) -> None:
    login(client, official)
    template = load_workbook(io.BytesIO(client.get(reverse("ledger-template")).content))
    sheet = template.worksheets[0]
    headers = [c.value for c in sheet[1]]
    assert headers[-1] == "任务年度"
    import_ledger(xlsx(tmp_path, [row()]))
    export = load_workbook(io.BytesIO(client.get(reverse("ledger-export")).content))
    exported = export.worksheets[0]
    assert [c.value for c in exported[2]][headers.index("任务年度")] == 2023


def test_the_household_list_filters_by_year(
    client: Client, municipal: User, tender: list[TenderItem], year_2024: PlanYear, tmp_path: Path
) -> None:
    import_ledger(
        xlsx(tmp_path, [row(任务年度=2023), row(户编号="XF-0002", 身份证号=IDS[1], 任务年度=2024)])
    )
    login(client, municipal)
    page = client.get(reverse("household-list"), {"plan_year": 2024}).content.decode()
    assert "XF-0002" in page and "XF-0001" not in page


def test_a_seasons_gas_weighs_the_years_it_heats_not_later_ones(
    tender: list[TenderItem], year_2024: PlanYear
) -> None:
    county = County.objects.get(short_name="忻府区")
    village = county.townships.first().villages.first()  # type: ignore[union-attr]
    before = gas_headroom([county.pk], 2023)[county.pk].used
    common = {
        "county": county,
        "township": village.township,  # type: ignore[union-attr]
        "village": village,
        "area": "rural",
        "path": HeatingPath.GAS,
        "stage": Stage.SELECTED,
        "equipment": next(t for t in tender if t.path == HeatingPath.GAS),
    }
    with household_writer():
        Household.objects.create(
            code="G-23", plan_year_id=2023, head_name="甲", id_number=IDS[0], **common
        )
        Household.objects.create(
            code="G-24", plan_year_id=2024, head_name="乙", id_number=IDS[1], **common
        )
    assert gas_headroom([county.pk], 2023)[county.pk].used == before + 1
    assert gas_headroom([county.pk], 2024)[county.pk].used == before + 2
    assert Target.objects.for_year(2024).total() == 209683
