"""The dashboards: figures from the rollups, scoped to the user's counties, the progress export."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from heating.models import County, Township, User
from oversight.dashboards.standing import Trend
from retrofits.choices import Stage
from retrofits.models import DailyProgress, Household, RollupRun, TenderItem, TrendPoint
from retrofits.services.rollups import rollup_run
from tests.conftest import PASSWORD, login

pytestmark = pytest.mark.django_db


@pytest.fixture
def rolled_up(tender: list[TenderItem]) -> None:
    call_command("generate_households", "--scale", "0.01", stdout=io.StringIO())
    rollup_run()


def pk(short_name: str) -> int:
    return County.objects.get(short_name=short_name).pk


def test_city_dashboard_shows_the_rollup(client: Client, municipal: User, rolled_up: None) -> None:
    response = login(client, municipal).get(reverse("dashboard"))
    page = response.content.decode()
    completed = Household.objects.filter(stage__in=[Stage.COMPLETED, Stage.ACCEPTED]).count()
    assert response.status_code == 200
    assert 'data-testid="target">209,683<' in page
    assert f'data-testid="completed">{completed:,}<' in page
    assert len(response.context["rows"]) == 16
    assert response.context["charts"]["funnel"][0]["value"] == Household.objects.count()


def test_the_report_kept_for_a_count_follows_a_change_of_target(rolled_up: None) -> None:
    from heating.models import PlanYear, Target
    from oversight.dashboards.progress import progress_report

    plan_year = PlanYear.objects.get(year=2023)

    def target() -> int:
        return progress_report(plan_year=plan_year, counties=County.objects.all()).total.target

    assert target() == target() == 209683
    cell = Target.objects.filter(plan_year=plan_year).first()
    assert cell is not None
    cell.households += 1
    cell.save()
    assert target() == 209684


def test_every_county_is_overdue_or_done_after_its_deadline(
    client: Client, municipal: User, rolled_up: None
) -> None:
    rows = login(client, municipal).get(reverse("dashboard")).context["rows"]
    assert {standing.status.label for _, _, standing, _, _ in rows} == {"逾期"}  # works ended
    # and every county's 已完工 households are now overdue for acceptance
    overdue = {c.county.short_name: n for c, _, _, n, _ in rows}
    assert sum(overdue.values()) == Household.objects.filter(stage=Stage.COMPLETED).count()


def test_a_county_official_lands_on_their_county(client: Client, official: User) -> None:
    login(client, official)
    for page in ("dashboard", "home"):
        assert client.get(reverse(page))["Location"] == reverse("county", args=[pk("忻府区")])


def test_an_inspector_of_two_counties_sees_both_with_links_onward(
    client: Client, inspector: User, rolled_up: None
) -> None:
    response = login(client, inspector).get(reverse("dashboard"))
    assert response.status_code == 200
    assert [c.county.short_name for c in response.context["report"].counties] == [
        "忻府区",
        "定襄县",
    ]
    page = response.content.decode()
    assert reverse("county", args=[pk("定襄县")]) in page and "合计" in page


@pytest.mark.parametrize(
    ("actor", "lands"),
    [("municipal", "dashboard"), ("official", "dashboard"), ("inspector", "worklist")],
)
def test_everyone_lands_on_their_page_after_login(
    client: Client, request: pytest.FixtureRequest, actor: str, lands: str
) -> None:
    user = request.getfixturevalue(actor)
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response["Location"] == reverse(lands)


@pytest.mark.parametrize(
    ("actor", "county", "status"),
    [
        ("official", "忻府区", 200),
        ("official", "原平市", 404),
        ("inspector", "定襄县", 200),
        ("municipal", "原平市", 200),
    ],
)
def test_county_dashboard_is_404_outside_the_users_counties(
    client: Client,
    request: pytest.FixtureRequest,
    rolled_up: None,
    actor: str,
    county: str,
    status: int,
) -> None:
    user = request.getfixturevalue(actor)
    assert login(client, user).get(reverse("county", args=[pk(county)])).status_code == status


def test_drill_down_to_townships_and_villages(
    client: Client, official: User, rolled_up: None
) -> None:
    login(client, official)
    county_page = client.get(reverse("county", args=[pk("忻府区")]))
    townships = county_page.context["townships"]
    assert (
        sum(t.figures.households for t in townships)
        == Household.objects.filter(county__short_name="忻府区").count()
    )
    first = next(t for t in townships if t.figures.households)
    village_page = client.get(reverse("dashboard-township", args=[first.pk]))
    assert (
        sum(v.figures.households for v in village_page.context["places"])
        == first.figures.households
    )
    other = Township.objects.filter(county__short_name="原平市").first()
    assert other is not None
    assert client.get(reverse("dashboard-township", args=[other.pk])).status_code == 404


def test_progress_export_is_the_printed_layout(
    client: Client, municipal: User, rolled_up: None
) -> None:
    response = login(client, municipal).get(reverse("progress-export"))
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet["A3"].value == "县（市、区）" and sheet["B3"].value == "总任务数"
    assert [sheet["B4"].value, sheet["C4"].value, sheet["D4"].value] == ["任务数", "完工", "完成率"]
    assert sheet["A21"].value == "总计" and sheet["B21"].value == 209683
    completed = Household.objects.filter(stage__in=[Stage.COMPLETED, Stage.ACCEPTED]).count()
    assert sheet["C21"].value == completed
    # The rate is a number a spreadsheet computes with, shown as a percentage.
    assert sheet["D21"].value == pytest.approx(completed / 209683)
    assert sheet["D21"].number_format == "0.0%"


def test_dashboards_need_login(client: Client) -> None:
    for name in ("dashboard", "progress-export"):
        assert client.get(reverse(name)).status_code == 302


def test_times_are_shown_in_shanghai_time(client: Client, municipal: User, rolled_up: None) -> None:
    """A rollup finished at 21:38 UTC was counted at 05:38 the next day in Xinzhou."""
    # Every count (the demo's and the fixture's) finished then: the latest is the fixture's.
    RollupRun.objects.update(finished_at=dt.datetime(2023, 10, 14, 21, 38, tzinfo=dt.UTC))
    DailyProgress.objects.update(day=dt.date(2023, 10, 15))
    response = login(client, municipal).get(reverse("progress-export"))
    title = load_workbook(io.BytesIO(response.content)).active["A1"].value
    assert "截至2023年10月15日 05:38" in title
    out = io.StringIO()
    call_command("progress", "--year", "2023", stdout=out)
    assert "汇总于 2023-10-15 05:38" in out.getvalue()
    api = client.get(reverse("api-progress"), {"year": 2023}).json()
    assert api["as_of"] == "2023-10-15T05:38:00+08:00"
    assert "2023年10月15日 05:38" in client.get(reverse("dashboard")).content.decode()
    out = io.StringIO()
    call_command("rollup", stdout=out)
    assert timezone.localtime().strftime("%Y-%m-%d %H:%M") in out.getvalue()


def test_a_countys_status_writes_large_numbers_with_separators() -> None:
    from heating.models import PlanYear
    from oversight.dashboards.progress import CountyProgress, Figures
    from oversight.dashboards.standing import county_status

    figures = Figures(target=154898)
    figures.by_stage["completed"] = 850
    progress = CountyProgress(County.objects.get(short_name="原平市"), figures, {})
    status = county_status(
        progress,
        plan_year=PlanYear.objects.get(year=2023),
        today=dt.date(2023, 11, 1),
        pace_per_day=0,
    )
    assert status.detail == "施工截止 2023年10月15日 已过，尚余 154,048 户"


def test_a_cell_of_the_city_table_is_completed_over_target_and_the_rate() -> None:
    from oversight.dashboards.progress import Figures
    from oversight.templatetags.dashboards import group_cell

    cell = Figures(target=154898)
    cell.by_stage.update(completed=150000, accepted=385)
    html = group_cell(cell)
    assert 'title="完工 150,385 / 任务 154,898"' in html
    assert '<span class="done">150,385</span><span class="of"> / 154,898</span>' in html
    assert '<small class="pct">97.1%</small>' in html
    untargeted = Figures()
    untargeted.by_stage["completed"] = 1200
    assert '1,200</span><span class="of"> / 0</span><br><small class="pct">无任务' in (
        group_cell(untargeted)
    )
    assert '<span class="muted">—</span>' in group_cell(Figures())


def test_the_projection_is_the_last_14_days_pace_beside_the_countys_deadline() -> None:
    from oversight.dashboards.standing import projection

    today = dt.date(2023, 9, 1)
    on_time = projection(
        target=1000, completed=400, pace_per_day=20, today=today, deadline=dt.date(2023, 10, 15)
    )
    assert (on_time["expected_finish"], on_time["on_time"]) == ("2023-10-01", True)
    # 五台山's works end on 10/1: the same pace one day short is late there.
    late = projection(
        target=1000, completed=380, pace_per_day=20, today=today, deadline=dt.date(2023, 10, 1)
    )
    assert (late["expected_finish"], late["on_time"]) == ("2023-10-02", False)
    stalled = projection(
        target=10, completed=0, pace_per_day=0, today=today, deadline=dt.date(2023, 10, 15)
    )
    assert stalled["expected_finish"] is None and "无完工" in stalled["said"]


def test_the_dashboards_show_each_countys_projected_finish(
    client: Client, municipal: User, rolled_up: None
) -> None:
    login(client, municipal)
    page = client.get(reverse("dashboard")).content.decode()
    assert page.count('data-testid="projection"') == 16
    wutaishan = client.get(reverse("county", args=[pk("五台山")])).content.decode()
    assert "施工截止 2023-10-01" in wutaishan


@pytest.mark.parametrize(
    ("actor", "page"),
    [("municipal", "dashboard"), ("inspector", "dashboard"), ("official", "county")],
)
def test_every_chart_counts_the_counties_the_cards_count(
    client: Client, request: pytest.FixtureRequest, actor: str, page: str, rolled_up: None
) -> None:
    """Each chart's figures are those of the cards' counties: an inspector of 忻府区 and 定襄县
    sees a trend of those two, not of the city."""
    user = request.getfixturevalue(actor)
    login(client, user)
    url = reverse("county", args=[pk("忻府区")]) if page == "county" else reverse(page)
    context = client.get(url).context
    report, charts = context["report"], context["charts"]
    shown = [c.county.short_name for c in report.counties]
    counties = County.objects.filter(short_name__in=shown)
    households = Household.objects.filter(county__in=counties)
    done = households.filter(stage__in=[Stage.COMPLETED, Stage.ACCEPTED]).count()
    assert report.total.completed == done
    assert charts["trend"][-1][1] == done
    assert charts["trend"][-1][2] == households.filter(stage=Stage.ACCEPTED).count()
    assert sum(sum(series["data"]) for series in charts["by_path"]) == done
    assert charts["funnel"][0]["value"] == households.count()
    assert charts["counties"] == shown == [m["short"] for m in charts["map"]]
    assert sum(charts["targets"]) == report.total.target


def test_a_finished_county_shows_the_day_it_finished(client: Client, municipal: User) -> None:
    """Not today's date, nor a projection: the day its last cell's completions reached its
    target."""
    wutaishan = County.objects.get(short_name="五台山")
    cells = wutaishan.targets.filter(plan_year=2023, households__gt=0)
    now = timezone.now()
    run = RollupRun.objects.create(started_at=now, finished_at=now)
    for target in cells:
        DailyProgress.objects.create(
            day=timezone.localdate(now), plan_year_id=2023, county=wutaishan, path=target.path, area=target.area,
            stage=Stage.COMPLETED, households=target.households,
        )  # fmt: skip
        half = target.households // 2
        for day, completed in (
            (dt.date(2023, 9, 1), half),
            (dt.date(2023, 9, 24), target.households - half),
        ):
            TrendPoint.objects.create(
                run=run, plan_year_id=2023, county=wutaishan, path=target.path, area=target.area, day=day,
                completed=completed, accepted=0,
            )  # fmt: skip
    login(client, municipal)
    county_page = client.get(reverse("county", args=[wutaishan.pk]))
    assert county_page.context["projection"]["expected_finish"] == "2023-09-24"
    assert "已于 2023年09月24日 全部完工" in county_page.content.decode()
    assert county_page.context["status"].label == "已完成"
    rows = client.get(reverse("dashboard")).context["rows"]
    finished = next(p for c, _, _, _, p in rows if c.county == wutaishan)
    assert (finished["expected_finish"], finished["on_time"]) == ("2023-09-24", True)
    # The day is kept for the run (Trend._reached), but not past a change of the targets.
    raised = cells.order_by("pk").first()
    assert raised is not None
    cell, year = (raised.path, raised.area), raised.plan_year
    assert Trend([wutaishan.pk], year).reached(wutaishan.pk, cell, year) == dt.date(2023, 9, 24)
    raised.households += 1
    raised.save()
    assert Trend([wutaishan.pk], year).reached(wutaishan.pk, cell, year) is None


def test_the_projection_of_a_finished_county_is_its_finish_day() -> None:
    from oversight.dashboards.standing import projection

    done = projection(
        target=10, completed=12, pace_per_day=0, today=dt.date(2026, 12, 4),
        deadline=dt.date(2023, 10, 15), finished_on=dt.date(2023, 10, 20),
    )  # fmt: skip
    assert (done["expected_finish"], done["on_time"], done["left"]) == ("2023-10-20", False, 0)
