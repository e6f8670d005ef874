"""The writes of dispatch: opening a round, a county's draft, and each step of the sign-off chain.
Who may take each step is the access policy's (REPORT, SIGN, DISPATCH); which step may follow
which is TRANSITIONS; an accepted report is never written again."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from heating import access
from heating.access import Action
from heating.models import County, PlanYear, User
from heating.versions import STALE, check_version
from oversight.dispatch.figures import county_figures
from oversight.dispatch.models import (
    OPEN_STATUSES,
    Alert,
    CountyReport,
    DispatchRound,
    ReportStatus,
    ReportStep,
)
from oversight.dispatch.services.alerts import alert_send, answering_for_report


@dataclass(frozen=True)
class Transition:
    step: ReportStep.Action
    sources: tuple[ReportStatus, ...]
    target: ReportStatus
    actions: tuple[Action, ...]  # any of them allows the step


TRANSITIONS = {
    ReportStep.Action.SUBMIT: Transition(
        ReportStep.Action.SUBMIT, OPEN_STATUSES, ReportStatus.SUBMITTED, (Action.REPORT,)
    ),
    ReportStep.Action.SIGN: Transition(
        ReportStep.Action.SIGN, (ReportStatus.SUBMITTED,), ReportStatus.SIGNED, (Action.SIGN,)
    ),
    ReportStep.Action.ACCEPT: Transition(
        ReportStep.Action.ACCEPT, (ReportStatus.SIGNED,), ReportStatus.ACCEPTED, (Action.DISPATCH,)
    ),
    # The county's approver sends a submitted report back to its drafter; the bureau sends back
    # one that was signed off.
    ReportStep.Action.RETURN: Transition(
        ReportStep.Action.RETURN,
        (ReportStatus.SUBMITTED, ReportStatus.SIGNED),
        ReportStatus.RETURNED,
        (Action.SIGN, Action.DISPATCH),
    ),
}


def _refuse(message: str) -> ValidationError:
    return ValidationError({NON_FIELD_ERRORS: [message]})


def allowed_steps(report: CountyReport, user: User) -> list[ReportStep.Action]:
    """The steps the user may take on the report now (for the page's buttons)."""
    return [
        t.step
        for t in TRANSITIONS.values()
        if report.status in t.sources
        and any(access.may(user, a, report.county_id) for a in t.actions)
        and not (t.step == ReportStep.Action.RETURN and not _may_return(report, user))
    ]


def _may_return(report: CountyReport, user: User) -> bool:
    """The approver returns what waits for their sign-off; the bureau what waits for its own."""
    if report.status == ReportStatus.SUBMITTED:
        return access.may(user, Action.SIGN, report.county_id)
    return access.may(user, Action.DISPATCH, report.county_id)


@transaction.atomic
def round_open(
    *,
    plan_year: PlanYear,
    due_at: dt.datetime,
    kind: DispatchRound.Kind = DispatchRound.Kind.AD_HOC,
    title: str = "",
    notes: str = "",
    user: User | None = None,
    now: dt.datetime | None = None,
) -> DispatchRound:
    """Open a round with a draft report for every county (`user=None`: beat's schedule)."""
    if user is not None:
        access.require(user, Action.DISPATCH)
    opened_at = now or timezone.now()
    if due_at <= opened_at:
        raise ValidationError({"due_at": ["报送截止时间应晚于现在。"]})
    number = DispatchRound.objects.filter(plan_year=plan_year).count() + 1
    local = timezone.localtime(opened_at)
    title = title or f"{plan_year.year}年第{number}期调度（{local:%m月%d日}）"
    dispatch_round = DispatchRound.objects.create(
        plan_year=plan_year, kind=kind, title=title, notes=notes, opened_at=opened_at,
        due_at=due_at, opened_by=user,
    )  # fmt: skip
    CountyReport.objects.bulk_create(
        CountyReport(round=dispatch_round, county=county) for county in County.objects.all()
    )
    due = timezone.localtime(due_at)
    for report in CountyReport.objects.filter(round=dispatch_round).select_related("county"):
        alert_send(
            answering_for_report(report.county), kind=Alert.Kind.ROUND_OPENED, county=report.county,
            text=f"{title}已发起，请于 {due:%m月%d日 %H:%M} 前报送{report.county.short_name}的调度报告",
            link=reverse("dispatch-report", args=[report.pk]), key=f"round:{report.pk}",
        )  # fmt: skip
    return dispatch_round


def _locked(report: CountyReport, expected_version: int | None) -> CountyReport:
    stored = CountyReport.objects.select_for_update(no_key=True).get(pk=report.pk)
    check_version(stored.version, expected_version, STALE)
    return stored


@transaction.atomic
def report_save(
    *,
    report: CountyReport,
    user: User,
    problems: str,
    help_needed: str,
    next_steps: str,
    expected_version: int | None = None,
) -> CountyReport:
    """The county's texts, while the report is a draft or returned."""
    access.require(user, Action.REPORT, report.county_id)
    stored = _locked(report, expected_version)
    if not stored.open:
        raise _refuse(
            f"报告{stored.get_status_display()}，不能再修改；如需更正请联系市能源局退回。"
        )
    stored.problems, stored.help_needed, stored.next_steps = problems, help_needed, next_steps
    stored.version += 1
    stored.save()
    return stored


@transaction.atomic
def report_step(
    *,
    report: CountyReport,
    user: User,
    step: ReportStep.Action,
    reason: str = "",
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> CountyReport:
    """Take one step of the chain. Submitting freezes the county's figures as they are now."""
    transition = TRANSITIONS[step]
    if not any(access.may(user, a, report.county_id) for a in transition.actions):
        access.require(user, transition.actions[0], report.county_id)
    stored = _locked(report, expected_version)
    if stored.status not in transition.sources:
        raise _refuse(f"报告当前{stored.get_status_display()}，不能{transition.step.label}。")
    if step == ReportStep.Action.RETURN:
        if not _may_return(stored, user):
            raise _refuse("该报告不在您的审核环节，不能退回。")
        if not reason.strip():
            raise ValidationError({"reason": ["退回时请写明原因。"]})
    at = now or timezone.now()
    if step == ReportStep.Action.SUBMIT:
        if not (stored.problems.strip() or stored.next_steps.strip()):
            raise _refuse("请先填写存在问题和下步工作安排，再报送。")
        plan_year = stored.round.plan_year
        stored.figures = county_figures(stored.county, plan_year, timezone.localdate(at))
        stored.figures_as_of = at
        stored.submitted_at, stored.submitted_by = at, user
        stored.signed_at = stored.signed_by = None
        stored.return_reason = ""
    elif step == ReportStep.Action.SIGN:
        stored.signed_at, stored.signed_by = at, user
    elif step == ReportStep.Action.ACCEPT:
        stored.accepted_at, stored.accepted_by = at, user
    else:
        stored.return_reason = reason.strip()
    stored.status = transition.target
    stored.version += 1
    stored.save()
    trail = ReportStep.objects.create(
        report=stored, action=step, user=user, at=at, reason=reason.strip()
    )
    _alert_step(stored, trail)
    return stored


def _alert_step(report: CountyReport, step: ReportStep) -> None:
    """Who must act next hears of it: the approvers of a submitted report, the county's users of
    a returned one."""
    link = reverse("dispatch-report", args=[report.pk])
    name = f"{report.round}：{report.county.short_name}的调度报告"
    if step.action == ReportStep.Action.SUBMIT:
        approvers = access.holders(Action.SIGN, county=report.county_id)
        alert_send(
            approvers, kind=Alert.Kind.SUBMITTED, county=report.county, link=link,
            text=f"{name}已由{step.user}报送，请审核", key=f"step:{step.pk}",
        )  # fmt: skip
    elif step.action == ReportStep.Action.RETURN:
        alert_send(
            answering_for_report(report.county), kind=Alert.Kind.RETURNED, county=report.county,
            link=link, text=f"{name}被{step.user}退回：{step.reason}", key=f"step:{step.pk}",
        )  # fmt: skip
