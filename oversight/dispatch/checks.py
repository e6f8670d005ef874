"""Beat's checks, each turning what needs attention into alerts for the right people: a scheduled
round to open, reports due within a day and late ones, supply warnings, households awaiting
acceptance past the county's deadline and defects past their rectification date. Each alert has a
key, so that a check run every hour says a thing once."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from acceptance.models import Defect
from energy_supply.selectors import warnings as supply_warnings
from heating import access
from heating.access import Action
from heating.models import County, PlanYear
from oversight.dashboards.progress import progress_report
from oversight.dashboards.selectors import awaiting_past_deadline
from oversight.dispatch.models import OPEN_STATUSES, Alert, CountyReport, DispatchRound
from oversight.dispatch.services import round_open
from oversight.dispatch.services.alerts import alert_send, answering_for_report


def _plan_year(today: dt.date) -> PlanYear | None:
    """The plan year whose season (works to performance evaluation) holds the day."""
    return (
        PlanYear.objects.filter(works_start__lte=today, evaluation_due__gte=today)
        .order_by("-year")
        .first()
    )


def open_scheduled_round(now: dt.datetime | None = None) -> DispatchRound | None:
    """The weekly round, during the works (from their start to the works deadline): opened once
    a week, due DISPATCH_DUE_DAYS later at 17:00."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    plan_year = _plan_year(today)
    if plan_year is None or not (plan_year.works_start <= today <= plan_year.works_due):
        return None
    week_ago = now - dt.timedelta(days=6)
    weekly = DispatchRound.objects.filter(kind=DispatchRound.Kind.WEEKLY, opened_at__gt=week_ago)
    if weekly.exists():
        return None
    due_day = today + dt.timedelta(days=settings.DISPATCH_DUE_DAYS)
    due_at = timezone.make_aware(dt.datetime.combine(due_day, dt.time(17)))
    return round_open(plan_year=plan_year, due_at=due_at, kind=DispatchRound.Kind.WEEKLY, now=now)


def report_deadlines(now: dt.datetime | None = None) -> int:
    """Reports not yet submitted: due within a day (their county), or late (their county and
    the bureau). The number of alerts made."""
    now = now or timezone.now()
    made = 0
    pending = CountyReport.objects.filter(status__in=OPEN_STATUSES).select_related(
        "round", "county"
    )
    for report in pending.filter(
        round__due_at__gt=now, round__due_at__lte=now + dt.timedelta(days=1)
    ):
        due = timezone.localtime(report.round.due_at)
        made += len(alert_send(
            answering_for_report(report.county), kind=Alert.Kind.DUE_SOON, county=report.county,
            text=f"{report.round}：{report.county.short_name}的调度报告将于 {due:%m月%d日 %H:%M} 截止，尚未报送",
            link=reverse("dispatch-report", args=[report.pk]), key=f"due:{report.pk}",
        ))  # fmt: skip
    for report in pending.filter(round__due_at__lte=now):
        due = timezone.localtime(report.round.due_at)
        text = f"{report.round}：{report.county.short_name}的调度报告已逾期（截止 {due:%m月%d日 %H:%M}）"
        link = reverse("dispatch-report", args=[report.pk])
        made += len(alert_send(
            answering_for_report(report.county), kind=Alert.Kind.LATE, county=report.county,
            text=text, link=link, key=f"late:{report.pk}",
        ))  # fmt: skip
        made += len(alert_send(
            access.holders(Action.DISPATCH), kind=Alert.Kind.LATE, county=report.county, text=text,
            link=reverse("dispatch-round", args=[report.round_id]), key=f"late:{report.pk}",
        ))  # fmt: skip
    return made


def season_warnings(today: dt.date | None = None) -> int:
    """The energy-supply warnings, overdue acceptance and overdue rectification, once a day."""
    today = today or timezone.localdate()
    plan_year = _plan_year(today)
    if plan_year is None:
        return 0
    made = 0
    counties = County.objects.all()
    for warning in supply_warnings(counties=counties, plan_year=plan_year, today=today):
        key = f"supply:{warning.kind}:{warning.county.pk if warning.county else 0}:{today}"
        users = access.holders(Action.SUPPLY, county=warning.county.pk if warning.county else None)
        made += len(alert_send(
            users, kind=Alert.Kind.SUPPLY, county=warning.county, text=warning.message,
            link=warning.url, key=key,
        ))  # fmt: skip
    report = progress_report(plan_year=plan_year, counties=counties)
    for progress in report.counties:
        waiting = awaiting_past_deadline(progress, plan_year=plan_year, today=today)
        if waiting:
            county = progress.county
            due = plan_year.acceptance_due_for(county)
            made += len(alert_send(
                access.holders(Action.EDIT, Action.INSPECT, county=county.pk), kind=Alert.Kind.ACCEPTANCE_OVERDUE,
                county=county, key=f"acceptance:{county.pk}:{today}",
                text=f"{county.short_name}有 {waiting:,} 户已完工，验收截止 {due:%m月%d日} 已过仍未验收",
                link=reverse("worklist"),
            ))  # fmt: skip
    overdue = (
        Defect.objects.open()
        .filter(rectify_by__lt=today, household__isnull=False)
        .values("household__county")
        .annotate(n=Count("pk"))
    )
    by_pk = {c.pk: c for c in counties}
    for row in overdue:
        county = by_pk[row["household__county"]]
        made += len(alert_send(
            access.holders(Action.EDIT, Action.INSPECT, county=county.pk), kind=Alert.Kind.RECTIFICATION_OVERDUE,
            county=county, key=f"rectify:{county.pk}:{today}",
            text=f"{county.short_name}有 {row['n']:,} 处验收问题已过整改期限仍未复验",
            link=reverse("household-list") + f"?county={county.pk}",
        ))  # fmt: skip
    return made
