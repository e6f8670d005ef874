"""Status per target cell (path × 城区/县城 · 农村): a county is 已完成 only when every cell with a
target is; it stands where its weakest cell stands; households beyond a cell's target are counted
(超改抢跑) and never make up for another cell."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from heating.models import County, PlanYear, User
from oversight.dashboards.progress import CountyProgress, Figures
from oversight.dashboards.standing import Trend, county_standing
from retrofits.choices import Stage
from retrofits.models import DailyProgress, RollupRun, TenderItem, TrendPoint
from retrofits.services.rollups import rollup_run
from tests.conftest import login

pytestmark = pytest.mark.django_db


def counted(county: County, cells: dict[tuple[str, str], int], *, on: dt.date) -> None:
    """A count that found these completed households in the county's cells, completed on `on`."""
    now = timezone.now()
    run = RollupRun.objects.create(started_at=now, finished_at=now)
    for (path, area), n in cells.items():
        DailyProgress.objects.create(
            day=timezone.localdate(now), plan_year_id=2023, county=county, path=path, area=area,
            stage=Stage.COMPLETED, households=n,
        )  # fmt: skip
        TrendPoint.objects.create(
            run=run,
            plan_year_id=2023,
            county=county,
            path=path,
            area=area,
            day=on,
            completed=n,
            accepted=0,
        )


def test_baode_with_all_its_households_on_coal_to_electric_is_not_done(
    client: Client, municipal: User
) -> None:
    """保德县's target is 5,085: 1,763 煤改电 and 3,322 煤改气. 5,085 completed 煤改电 households
    and no 煤改气 is not 已完成: the 煤改电 cells are 3,322 over, the 煤改气 cells behind."""
    baode = County.objects.get(short_name="保德县")
    counted(baode, {("electric", "rural"): 1409 + 1661, ("electric", "urban"): 354 + 1661},
            on=dt.date(2023, 9, 1))  # fmt: skip
    data = login(client, municipal).get(reverse("api-progress"), {"year": 2023}).json()
    (shown,) = [c for c in data["counties"] if c["county"] == "保德县"]
    assert (shown["target"], shown["completed"]) == (5085, 5085)  # the totals would say done
    assert shown["status"] == "逾期" and shown["status"] != "已完成"
    cells = {(c["path"], c["area"]): c for c in shown["cells"]}
    assert (
        cells[("electric", "rural")]["over_target"] + cells[("electric", "urban")]["over_target"]
        == 3322
    )
    assert {cells[("gas", a)]["status"] for a in ("rural", "urban")} == {"逾期"}
    assert {cells[("electric", a)]["status"] for a in ("rural", "urban")} == {"已完成"}
    assert (shown["over_target"], shown["works_due"], shown["acceptance_due"]) == (
        3322, "2023-10-15", "2023-10-31",
    )  # fmt: skip
    page = client.get(reverse("county", args=[baode.pk])).content.decode()
    assert "煤改电·农村超出任务 1,661 户" in page and "煤改电·城区/县城超出任务 1,661 户" in page
    assert "煤改气" in page.split('data-testid="county-status"', 1)[1].split("</p>", 1)[0]
    city = client.get(reverse("dashboard")).content.decode()
    baode_status = city.split(f'data-testid="status-{baode.pk}"', 1)[1].split("</td>", 1)[0]
    assert "逾期" in baode_status and "煤改气" in baode_status and "超任务 3,322 户" in baode_status


def test_a_zero_target_cell_with_households_is_over_target_not_done(municipal: User) -> None:
    """五台山 has no 生物质 target: households there are all beyond it."""
    wutaishan = County.objects.get(short_name="五台山")
    progress = CountyProgress(
        wutaishan, Figures(), {("biomass", "rural"): Figures(target=0, by_stage={
            "confirmed": 0, "selected": 0, "building": 5, "completed": 0, "accepted": 0})},
    )  # fmt: skip
    standing = county_standing(
        progress, plan_year=PlanYear.objects.get(year=2023), today=dt.date(2023, 6, 1),
        trend=Trend([], PlanYear.objects.get(year=2023)),
    )  # fmt: skip
    (cell,) = standing.cells
    assert (cell.over_target, cell.status) == (5, None)
    assert standing.over_target == 5


def test_a_county_stands_where_its_weakest_cell_stands_before_the_deadline() -> None:
    """In August one cell on course and one too slow: the county is at risk, naming the slow one,
    and its projected finish is the slow cell's."""
    county = County.objects.get(short_name="定襄县")
    fast = Figures(target=100, by_stage={"confirmed": 0, "selected": 0, "building": 0,
                                         "completed": 90, "accepted": 0})  # fmt: skip
    slow = Figures(target=100, by_stage={"confirmed": 0, "selected": 0, "building": 0,
                                         "completed": 10, "accepted": 0})  # fmt: skip
    counted(county, {("electric", "rural"): 28, ("district", "urban"): 14}, on=dt.date(2023, 8, 25))
    progress = CountyProgress(
        county, Figures(), {("electric", "rural"): fast, ("district", "urban"): slow}
    )
    standing = county_standing(
        progress, plan_year=PlanYear.objects.get(year=2023), today=dt.date(2023, 9, 1),
        trend=Trend([county.pk], PlanYear.objects.get(year=2023)),
    )  # fmt: skip
    statuses = {c.label: c.status.label for c in standing.cells if c.status}
    assert statuses == {"煤改电·农村": "正常", "集中供热·城区/县城": "有风险"}
    assert standing.status.label == "有风险" and "集中供热·城区/县城" in standing.status.detail
    slow_cell = next(c for c in standing.cells if c.path == "district")
    assert slow_cell.projection is not None
    assert standing.projection["expected_finish"] == slow_cell.projection["expected_finish"]
    assert standing.projection["on_time"] is False


def test_coal_to_electric_on_other_equipment_is_counted_with_its_reason(
    client: Client, municipal: User, tmp_path: Path, tender: list[TenderItem]
) -> None:
    """四.2: outside the heat network 煤改电 takes air-source heat pumps "原则上": other equipment
    is allowed (not refused), counted per county, the households listed with their reason."""
    from tests.ledger_files import IDS, row, xlsx

    rows = [
        row(),  # KRS-8P, an air-source heat pump
        row(户编号="XF-0002", 身份证号=IDS[1], 设备型号="XR-3000", 备注="房屋结构不适合安装室外机"),
        row(户编号="XF-0003", 身份证号=IDS[2], 设备型号="XR-3000"),
    ]
    call_command("import_ledger", str(xlsx(tmp_path, rows)), stdout=io.StringIO())
    rollup_run()
    xinfu = County.objects.get(short_name="忻府区")
    login(client, municipal)
    page = client.get(reverse("county", args=[xinfu.pk])).content.decode()
    line = page.split('data-testid="electric-other"', 1)[1].split("</p>", 1)[0]
    assert "2 户" in line and "其中 1 户未在备注中注明原因" in line
    listed = client.get(
        reverse("household-list"),
        {"county": str(xinfu.pk), "path": "electric", "not_heat_pump": "true"},
    )
    assert [h.code for h, _, _ in listed.context["rows"]] == ["XF-0002", "XF-0003"]
