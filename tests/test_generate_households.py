"""The demo city: households that follow the targets and pass every rule of the import, the season
told from their own dates (works, visits, defects, removals), the same city on any day, and a
second run that writes nothing."""

from __future__ import annotations

import datetime as dt
import io
import statistics

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Max, Min, QuerySet

from acceptance.models import Defect, HeatingRemoval, Inspection
from acceptance.rules import removal_allowed_from
from energy_supply.models import GridUpgrade
from heating.models import County, PlanYear, Target
from oversight.dashboards.selectors import Trend
from oversight.dispatch.models import CountyReport, DispatchRound, ReportStatus, ReportStep
from retrofits.choices import Stage
from retrofits.demo import household_rows
from retrofits.ledger.acceptances import store_acceptances
from retrofits.ledger.file import COLUMNS
from retrofits.models import Household, LedgerImport, TenderItem
from retrofits.rules import PLAN_RULES
from retrofits.services.rollups import rollup_run
from retrofits.validators import id_number_problem
from tests import plan_rules

pytestmark = pytest.mark.django_db


def generate(*args: str) -> str:
    out = io.StringIO()
    call_command("generate_households", "--scale", "0.01", *args, stdout=out)
    return out.getvalue()


def everything() -> dict[str, object]:
    """What a run could write, in enough detail to see any change."""
    return {
        "households": sorted(
            Household.objects.values_list(
                "code", "stage", "completed_on", "accepted_on", "updated_at"
            )
        ),
        "history": Household.history.count(),
        "visits": Inspection.objects.count(),
        "defects": sorted(Defect.objects.values_list("pk", "closed_by")),
        "removals": HeatingRemoval.objects.count(),
        "imports": LedgerImport.objects.count(),
        "reports": sorted(CountyReport.objects.values_list("pk", "status", "version")),
    }


def median_day(households: QuerySet[Household]) -> float:
    days = households.values_list("completed_on", flat=True)
    return statistics.median(d.toordinal() for d in days if d is not None)


def test_households_follow_the_targets(tender: list[TenderItem]) -> None:
    generate()
    expected = {
        (t.county_id, t.path, t.area): round(t.households * 0.01)
        for t in Target.objects.for_year(2023)
        if round(t.households * 0.01)
    }
    found = {
        (r["county"], r["path"], r["area"]): r["n"]
        for r in Household.objects.values("county", "path", "area").annotate(n=Count("*"))
    }
    assert found == expected
    assert all(
        id_number_problem(i) is None for i in Household.objects.values_list("id_number", flat=True)
    )
    assert all(
        h.village.township.county_id == h.county_id
        for h in Household.objects.select_related("village__township")[:200]
    )


def test_running_again_writes_nothing(tender: list[TenderItem]) -> None:
    generate()
    before = everything()
    out = generate()
    assert "其中 0 户与台账不同" in out and "新增 0 次验收" in out
    assert everything() == before


def test_the_season_as_it_could_have_gone(tender: list[TenderItem]) -> None:
    generate()
    plan = PlanYear.objects.get(year=2023)
    stages = dict(Household.objects.values_list("stage").annotate(n=Count("*")))
    total = sum(stages.values())
    assert stages[Stage.ACCEPTED] > 0.9 * total  # the season is over on the default day
    # A few never ended (late counties, the village waiting on its grid); the completed that
    # are not accepted wait for a rectification that drags on.
    assert set(stages) - {Stage.ACCEPTED} <= {Stage.BUILDING, Stage.SELECTED, Stage.COMPLETED}
    waiting = Household.objects.filter(stage=Stage.COMPLETED)
    assert waiting.exists()
    assert set(waiting.values_list("pk", flat=True)) == set(
        Defect.objects.open().values_list("household", flat=True)
    )

    # Works from April, completions mostly before the deadline; 原平市's district heating late.
    span = Household.objects.aggregate(first=Min("completed_on"), last=Max("completed_on"))
    assert plan.works_start <= span["first"] < dt.date(2023, 5, 15)
    done = Household.objects.exclude(completed_on=None)
    on_time = done.filter(completed_on__lte=plan.works_due).count()
    assert 0.5 < on_time / done.count() < 0.95
    yuanping = done.filter(county__short_name="原平市", path="district")
    others = done.exclude(county__short_name="原平市")
    assert median_day(yuanping) > median_day(others) + 30

    # Each accepted household on its passing visit's day, inside the window mostly, not always.
    visits = Inspection.objects.filter(household__isnull=False)
    passed = visits.filter(result=Inspection.Result.PASSED)
    accepted = dict(Household.objects.filter(stage=Stage.ACCEPTED).values_list("pk", "accepted_on"))
    assert {v.household_id: v.visited_at.date() for v in passed} == accepted
    assert all(
        on is not None and c is not None and on >= c
        for on, c in Household.objects.filter(stage=Stage.ACCEPTED).values_list(
            "accepted_on", "completed_on"
        )
    )
    counties = {c.pk: c for c in County.objects.all()}
    late = sum(
        visited_at.date() > plan.acceptance_due_for(counties[county_id])
        for visited_at, county_id in visits.values_list("visited_at", "household__county")
    )
    assert 0.05 * visits.count() < late < 0.6 * visits.count()

    # Failed visits with their defects, most closed by a revisit that passed.
    failed = visits.filter(result=Inspection.Result.FAILED)
    assert failed.count() > 0
    assert set(Defect.objects.values_list("inspection", flat=True)) == set(
        failed.values_list("pk", flat=True)
    )
    closed = Defect.objects.exclude(closed_by=None).values_list(
        "closed_by__result", "closed_by__visited_at", "inspection__visited_at"
    )
    assert closed.count() > 0.8 * failed.count()
    assert all(
        result == Inspection.Result.PASSED and revisited > visited
        for result, revisited, visited in closed
    )

    # 先立后破: no old stove removed before one whole heating season.
    removals = HeatingRemoval.objects.values_list("removed_on", "household__accepted_on")
    assert removals.count() > 0
    assert all(on and removed >= removal_allowed_from(on) for removed, on in removals)


def test_an_earlier_day_is_the_same_city_earlier(tender: list[TenderItem]) -> None:
    day = dt.date(2023, 8, 1)
    generate("--as-of", day.isoformat())
    assert not Household.objects.filter(stage=Stage.ACCEPTED).exists()
    assert not Inspection.objects.exists() and not HeatingRemoval.objects.exists()
    completed = Household.objects.filter(stage=Stage.COMPLETED)
    assert 0 < completed.count() < Household.objects.count() / 2
    assert not completed.filter(completed_on__gt=day).exists()
    assert Household.objects.filter(stage=Stage.BUILDING).exists()
    summer = {code: stage for code, stage in Household.objects.values_list("code", "stage")}

    # The season goes on from there to the city a fresh run at that day would make, but for the
    # village still waiting on its grid (电网改造前置): its 煤改电 households wait with it.
    waiting_grid = GridUpgrade.objects.filter(
        village__isnull=False, status=GridUpgrade.Status.BUILDING
    ).values("village")
    waiting = set(
        Household.objects.filter(path="electric", village__in=waiting_grid).values_list(
            "code", flat=True
        )
    )
    assert waiting
    later = dt.date(2023, 10, 20)
    generate("--as-of", later.isoformat())
    code, stage = (
        next(i for i, c in enumerate(COLUMNS) if c.field == f) for f in ("code", "stage")
    )
    labels = {label: value for value, label in Stage.choices}
    told = {
        str(row[code]): labels[str(row[stage])] for row in household_rows(scale=0.01, as_of=later)
    }
    now = dict(Household.objects.values_list("code", "stage"))
    assert {c: now[c] for c in waiting} == {c: summer[c] for c in waiting}
    assert {c: s for c, s in now.items() if s != Stage.ACCEPTED and c not in waiting} == {
        c: s for c, s in told.items() if now[c] != Stage.ACCEPTED and c not in waiting
    }
    assert all(told[c] == Stage.COMPLETED for c, s in now.items() if s == Stage.ACCEPTED)
    assert Household.objects.filter(stage=Stage.ACCEPTED).exists()
    assert not Inspection.objects.filter(visited_at__date__gt=later).exists()
    assert sum(s == Stage.COMPLETED for s in summer.values()) < sum(
        s in (Stage.COMPLETED, Stage.ACCEPTED) for s in now.values()
    )


def test_the_trend_comes_from_the_households_own_dates(tender: list[TenderItem]) -> None:
    generate()
    rollup_run()  # after commit in the product; a test's transaction never commits
    line = Trend(
        County.objects.values_list("pk", flat=True), PlanYear.objects.get(year=2023)
    ).line()
    days = [dt.date.fromisoformat(day) for day, _, _ in line]
    assert days == sorted(days) and len(days) > 100  # one point a day over the season
    assert days[0] < dt.date(2023, 5, 15)
    assert line[-1][1] == Household.objects.exclude(completed_on=None).count()
    assert line[-1][2] == Household.objects.filter(stage=Stage.ACCEPTED).count()
    xinfu = County.objects.get(short_name="忻府区")
    assert (
        Trend([xinfu.pk], PlanYear.objects.get(year=2023)).line()[-1][1]
        == Household.objects.filter(county=xinfu).exclude(completed_on=None).count()
    )


def test_many_acceptances_at_once_follow_the_change_and_plan_rules(
    tender: list[TenderItem], monkeypatch: pytest.MonkeyPatch
) -> None:
    generate("--as-of", "2023-09-20")
    xinfu = Household.objects.filter(county__short_name="忻府区")
    completed = list(xinfu.filter(stage=Stage.COMPLETED).values_list("pk", "code")[:3])
    building = xinfu.filter(stage=Stage.BUILDING).values_list("pk", "code").first()
    assert len(completed) == 3 and building is not None
    day = dt.date(2023, 10, 20)

    problems = store_acceptances(
        [(pk, code, day) for pk, code in [*completed, building]], user=None, source="测试"
    )
    assert problems == [(building[0], "该户实施进度为“施工中”，只有“已完工”的户可以验收")]
    assert not Household.objects.filter(stage=Stage.ACCEPTED).exists()

    monkeypatch.setitem(PLAN_RULES, "test-at-most", plan_rules.at_most(Stage.ACCEPTED, 1))
    problems = store_acceptances(
        [(pk, code, day) for pk, code in completed], user=None, source="测试"
    )
    assert [message for _, message in problems] == [
        "忻府区已验收及以后的户最多 1 户，写入后为 3 户"
    ]
    assert not Household.objects.filter(stage=Stage.ACCEPTED).exists()

    monkeypatch.delitem(PLAN_RULES, "test-at-most")
    assert (
        store_acceptances([(pk, code, day) for pk, code in completed], user=None, source="测试")
        == []
    )
    written = Household.objects.filter(pk__in=[pk for pk, _ in completed])
    assert set(written.values_list("stage", "accepted_on")) == {(Stage.ACCEPTED, day)}
    history = Household.history.filter(
        id__in=[pk for pk, _ in completed], history_change_reason="测试"
    )
    assert history.count() == 3


def test_a_day_before_the_ledger_cannot_undo_it(tender: list[TenderItem]) -> None:
    generate("--as-of", "2023-09-20")
    with pytest.raises(CommandError, match="处错误"):
        generate("--as-of", "2023-06-01", "--verbosity", "0")


def test_the_seasons_dispatch_rounds(tender: list[TenderItem]) -> None:
    """Weekly rounds over the season: most reports on time and accepted, 静乐县 often late, one
    of 原平市's returned and submitted again; each report's figures as of its week; the inboxes
    hold the latest round's opening and the return."""
    from heating.models import County, Role, User
    from heating.services import user_create
    from oversight.dispatch.models import Alert

    yuanping = user_create(
        username="yuanping", password="x-Long-pass-1", role=Role.COUNTY,
        county=County.objects.get(short_name="原平市"),
    )  # fmt: skip
    generate()
    kinds = set(Alert.objects.filter(user=yuanping).values_list("kind", flat=True))
    assert kinds >= {Alert.Kind.ROUND_OPENED, Alert.Kind.RETURNED}
    # The demo's steps are taken by accounts the access policy lets act (active), which nobody
    # logs in with (no usable password).
    demo = list(User.objects.filter(username__startswith="demo-"))
    assert len(demo) == 1 + 2 * 16 + 2 * 16  # the bureau, drafters, approvers, inspectors, offices
    assert all(u.is_active and not u.has_usable_password() for u in demo)
    rounds = list(DispatchRound.objects.order_by("opened_at"))
    assert len(rounds) >= 25 and all(r.opened_by is None for r in rounds)
    reports = CountyReport.objects.select_related("round", "county")
    assert reports.count() == 16 * len(rounds)
    assert reports.filter(status=ReportStatus.ACCEPTED).count() == reports.count()
    late = {
        c: sum(r.late() for r in reports if r.county.short_name == c) for c in ("静乐县", "忻府区")
    }
    assert late["静乐县"] > len(rounds) / 3 and late["忻府区"] == 0
    returned = ReportStep.objects.filter(action=ReportStep.Action.RETURN).select_related(
        "report__county"
    )
    assert [s.report.county.short_name for s in returned] == ["原平市"]
    actions = list(returned[0].report.steps.values_list("action", flat=True))
    assert actions == ["submit", "sign", "return", "submit", "sign", "accept"]
    xinfu = [r.figures["progress"]["completed"] for r in reports.filter(county__short_name="忻府区")
             .order_by("round__opened_at")]  # fmt: skip
    assert xinfu == sorted(xinfu) and xinfu[0] < xinfu[-1]
    latest = reports.filter(county__short_name="忻府区").order_by("round__opened_at").last()
    assert latest is not None
    cells = latest.figures["progress"]["cells"]
    assert sum(c["completed"] for c in cells) == xinfu[-1]
