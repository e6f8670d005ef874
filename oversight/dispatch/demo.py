"""The demo city's dispatch history: a weekly round every Monday of the 2023 season (opened at 9:00,
due Wednesday 17:00), each county's report submitted, signed off and accepted as the weeks could
have gone: most on time, 静乐县 often late, and one of 原平市's returned by the bureau and submitted
again. Each report's figures are the county's as of its round, from the daily completions and
acceptances the count keeps (TrendPoint); supply figures are today's. Drawn from the seed alone;
run again, it writes nothing."""

from __future__ import annotations

import copy
import datetime as dt
import random
from bisect import bisect_right
from collections import defaultdict
from itertools import accumulate
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from heating.models import County, PlanYear, Role, User
from heating.services import user_create
from oversight.dashboards.standing import PACE_DAYS, projection
from oversight.dispatch.checks import report_deadlines, season_warnings
from oversight.dispatch.figures import all_figures
from oversight.dispatch.models import Alert, CountyReport, DispatchRound, ReportStep
from oversight.dispatch.services import (
    PastStep,
    ReportHistory,
    report_histories_load,
    round_open,
)
from oversight.dispatch.services.alerts import alert_send, answering_for_report
from retrofits.demo import DemoCity
from retrofits.models import Household, RollupRun, TrendPoint
from retrofits.services.rollups import rollup_run

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFTEN_LATE = "静乐县"
LATE_SHARE = 0.6  # of its reports, those after the due time
RETURNED = (
    "原平市",
    dt.date(2023, 9, 11),
    "未说明同华二期长输管线进度及对集中供热户的影响，请补充后重报",
)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=SHANGHAI)


def _person(username: str, name: str, role: Role, county: County | None) -> User:
    """An account the demo's reports are signed under, which nobody logs in with (no usable
    password); active, as the access policy wants of whoever takes a step."""
    return user_create(
        username=username, password=None, role=role, full_name=name, county=county,
        exist_ok=True,
    )  # fmt: skip


def _fresh_count() -> RollupRun:
    """The latest count if it began after the ledger's last write (the demo's import counts at
    once in the tests, 30 s later under make run), else a new one."""
    run = RollupRun.objects.latest_complete()
    written = Household.objects.aggregate(last=Max("updated_at"))["last"]
    if run is None or (written is not None and run.started_at < written):
        run = rollup_run()
    return run


class _Counts:
    """A county's completions and acceptances up to any day, from the latest count."""

    def __init__(self, run: RollupRun, plan_year: PlanYear) -> None:
        days: dict[int, list[tuple[dt.date, int, int]]] = defaultdict(list)
        for county, day, completed, accepted in (
            TrendPoint.objects.filter(run=run, plan_year=plan_year)
            .order_by("county", "day")
            .values_list("county", "day", "completed", "accepted")
        ):
            days[county].append((day, completed, accepted))
        self.days = {c: [d for d, _, _ in rows] for c, rows in days.items()}
        self.completed = {c: list(accumulate(r[1] for r in rows)) for c, rows in days.items()}
        self.accepted = {c: list(accumulate(r[2] for r in rows)) for c, rows in days.items()}

    def by(self, county: int, day: dt.date) -> tuple[int, int]:
        i = bisect_right(self.days.get(county, []), day)
        if i == 0:
            return 0, 0
        return self.completed[county][i - 1], self.accepted[county][i - 1]


def _as_of(
    now: dict[str, Any], county: County, plan_year: PlanYear, day: dt.date, counts: _Counts
) -> dict[str, Any]:
    """Today's figures turned back to `day`: completed and accepted as they were then (each
    path × area cell in proportion), the projection at that week's pace."""
    figures = copy.deepcopy(now)
    progress = figures["progress"]
    completed, accepted = counts.by(county.pk, day)
    completed_now = int(progress.get("completed", 0)) or 1
    cells = progress.get("cells", [])
    for cell in cells:
        cell["completed"] = round(int(cell["completed"]) * completed / completed_now)
        cell["accepted"] = round(int(cell["accepted"]) * accepted / (progress.get("accepted") or 1))
        cell.pop("by_stage", None)
        cell["completed_pct"] = (
            round(100 * cell["completed"] / cell["target"], 1) if cell["target"] else None
        )
    if cells:  # rounding: the biggest cell takes what the others left
        biggest = max(cells, key=lambda c: c["completed"])
        biggest["completed"] += completed - sum(c["completed"] for c in cells)
    target = int(progress.get("target", 0))
    progress.update(
        completed=completed, accepted=accepted, by_stage={},
        completed_pct=round(100 * completed / target, 1) if target else None,
        accepted_pct=round(100 * accepted / target, 1) if target else None,
    )  # fmt: skip
    before, _ = counts.by(county.pk, day - dt.timedelta(days=PACE_DAYS))
    figures["projection"] = projection(
        target=target, completed=completed, pace_per_day=(completed - before) / PACE_DAYS,
        today=day, deadline=plan_year.works_due_for(county),
    )  # fmt: skip
    figures["as_of"] = _at(day, 8).isoformat()
    return figures


def _alerts_of_the_last_steps(latest: DispatchRound) -> None:
    """What the inboxes would hold: the latest round's opening (every county's users) and the
    return of 原平市's report (its users)."""
    for report in latest.reports.select_related("county"):
        alert_send(
            answering_for_report(report.county), kind=Alert.Kind.ROUND_OPENED, county=report.county,
            text=f"{latest}已发起，请报送{report.county.short_name}的调度报告",
            link=reverse("dispatch-report", args=[report.pk]), key=f"round:{report.pk}",
        )  # fmt: skip
    for step in ReportStep.objects.filter(action=ReportStep.Action.RETURN).select_related(
        "report__county", "report__round", "user"
    ):
        report = step.report
        alert_send(
            answering_for_report(report.county), kind=Alert.Kind.RETURNED, county=report.county,
            text=f"{report.round}：{report.county.short_name}的调度报告被{step.user}退回：{step.reason}",
            link=reverse("dispatch-report", args=[report.pk]), key=f"step:{step.pk}",
        )  # fmt: skip


TEXTS = {
    "problems": ("部分村入户线路老化，需同步改造", "个别农户对设备运行费用有顾虑，需加强宣传",
                 "施工队伍不足，进度偏慢", "无"),
    "help_needed": ("协调供电公司加快配变增容", "协调燃气企业落实气源", "", ""),
    "next_steps": ("加快剩余户安装调试，确保按期完工", "组织入户回访，做好运行指导",
                   "配合验收组开展验收"),
}  # fmt: skip


@transaction.atomic
def dispatch_after_households(city: DemoCity) -> None:
    plan_year = city.plan_year
    if DispatchRound.objects.filter(plan_year=plan_year).exists():
        city.say("演示调度已有，跳过。")
        return
    counts = _Counts(_fresh_count(), plan_year)
    rng = random.Random(city.seed)
    bureau = _person("demo-shi", "市能源局调度（演示）", Role.MUNICIPAL, None)
    counties = list(County.objects.order_by("order"))
    people = {
        c.pk: (
            _person(f"demo-tianbao-{c.order:02d}", f"{c.short_name}填报人（演示）", Role.COUNTY, c),
            _person(
                f"demo-shenhe-{c.order:02d}", f"{c.short_name}审核人（演示）", Role.APPROVER, c
            ),
        )
        for c in counties
    }
    today_figures = all_figures(plan_year, city.as_of)

    start = plan_year.works_start + dt.timedelta(days=-plan_year.works_start.weekday() % 7)
    last = min(plan_year.acceptance_due, city.as_of)
    mondays = [start + dt.timedelta(weeks=i) for i in range((last - start).days // 7 + 1)]
    histories: list[ReportHistory] = []
    for number, monday in enumerate(mondays, start=1):
        opened, due = _at(monday, 9), _at(monday + dt.timedelta(days=2), 17)
        # Opened as beat opens a round, on its Monday; long closed, it alerts nobody now.
        dispatch_round = round_open(
            plan_year=plan_year, kind=DispatchRound.Kind.WEEKLY, now=opened, due_at=due,
            title=f"{plan_year.year}年第{number}期调度（{monday:%m月%d日}）", notify=False,
        )  # fmt: skip
        reports = {r.county_id: r for r in dispatch_round.reports.all()}
        for county in counties:
            figures = _as_of(today_figures[county.pk], county, plan_year, monday, counts)
            histories.append(
                _report(reports[county.pk], county, people[county.pk], bureau, rng, city, figures)
            )
    # The season's reports at once, each step checked as one taken on the page.
    made = len(report_histories_load(histories=histories))
    _alerts_of_the_last_steps(dispatch_round)
    report_deadlines(now=timezone.now())
    alerts = season_warnings(today=city.as_of)
    city.say(f"演示提醒：{alerts} 条（能源保障预警、逾期验收和整改）。")
    city.say(f"演示调度：{len(mondays)} 期每周调度，{made} 份县级报告。")


def _report(
    report: CountyReport, county: County, people: tuple[User, User], bureau: User,
    rng: random.Random, city: DemoCity, figures: dict[str, Any],
) -> ReportHistory:  # fmt: skip
    """The county's report of the round as the week went."""
    drafter, approver = people
    monday = timezone.localtime(report.round.opened_at).date()
    late = county.short_name == OFTEN_LATE and rng.random() < LATE_SHARE
    submitted = (
        _at(monday + dt.timedelta(days=3), 9 + rng.randrange(6))
        if late
        else _at(monday + dt.timedelta(days=1), 9 + rng.randrange(7), rng.randrange(60))
    )
    now = _at(city.as_of, 12)
    texts = {k: rng.choice(v) for k, v in TEXTS.items()}
    if submitted > now:  # the round still open on the day told: a draft
        return ReportHistory(report, texts)
    signed = submitted + dt.timedelta(hours=1 + rng.randrange(4))
    accepted = _at(timezone.localtime(signed).date() + dt.timedelta(days=1), 10)
    steps: list[PastStep] = [(ReportStep.Action.SUBMIT, drafter, submitted, "")]
    name, day, reason = RETURNED
    if county.short_name == name and monday == day:
        returned = signed + dt.timedelta(hours=20)
        steps += [
            (ReportStep.Action.SIGN, approver, signed, ""),
            (ReportStep.Action.RETURN, bureau, returned, reason),
        ]
        submitted = returned + dt.timedelta(hours=3)
        signed = submitted + dt.timedelta(hours=2)
        accepted = signed + dt.timedelta(hours=18)
        steps.append((ReportStep.Action.SUBMIT, drafter, submitted, ""))
        texts["problems"] = (
            "同华二期长输管线9月底试压，10月中旬通热；影响集中供热户约3.6万户"
            + "；"
            + texts["problems"]
        )
    if signed <= now:
        steps.append((ReportStep.Action.SIGN, approver, signed, ""))
        if accepted <= now:
            steps.append((ReportStep.Action.ACCEPT, bureau, accepted, ""))
    return ReportHistory(report, texts, steps, figures)
