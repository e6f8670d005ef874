"""The writes of dispatch: opening a round, a county's draft, each step of the sign-off chain, and
a season's past rounds loaded at once (the demo's), their steps checked as live ones.
Who may take each step is the access policy's (REPORT, SIGN, DISPATCH); which step may follow
which is TRANSITIONS; an accepted report is never written again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
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
    notify: bool = True,
) -> DispatchRound:
    """Open a round with a draft report for every county (`user=None`: beat's schedule), and
    tell each county's users. `now`: when it opened, for a round of the past (the demo's season,
    with `notify=False`: a round long closed alerts nobody)."""
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
    if not notify:
        return dispatch_round
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


def _require_step(user: User, step: ReportStep.Action, county_id: int) -> None:
    """Who may take the step: any of its actions, in the report's county (403 otherwise)."""
    transition = TRANSITIONS[step]
    if not any(access.may(user, a, county_id) for a in transition.actions):
        access.require(user, transition.actions[0], county_id)


def _take(
    stored: CountyReport,
    *,
    user: User,
    step: ReportStep.Action,
    reason: str,
    at: dt.datetime,
    figures: Callable[[], dict[str, Any]],
) -> ReportStep:
    """Take the step on the locked report, in memory: from which status it may be taken, a
    return's reason, a submission's texts (and its figures). The trail's row, unsaved."""
    transition = TRANSITIONS[step]
    if stored.status not in transition.sources:
        raise _refuse(f"报告当前{stored.get_status_display()}，不能{transition.step.label}。")
    if step == ReportStep.Action.RETURN:
        if not _may_return(stored, user):
            raise _refuse("该报告不在您的审核环节，不能退回。")
        if not reason.strip():
            raise ValidationError({"reason": ["退回时请写明原因。"]})
    if step == ReportStep.Action.SUBMIT:
        if not (stored.problems.strip() or stored.next_steps.strip()):
            raise _refuse("请先填写存在问题和下步工作安排，再报送。")
        stored.figures = figures()
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
    return ReportStep(report=stored, action=step, user=user, at=at, reason=reason.strip())


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
    _require_step(user, step, report.county_id)
    stored = _locked(report, expected_version)
    at = now or timezone.now()
    trail = _take(
        stored, user=user, step=step, reason=reason, at=at,
        figures=lambda: county_figures(
            stored.county, stored.round.plan_year, timezone.localdate(at)
        ),
    )  # fmt: skip
    stored.save()
    trail.save()
    _alert_step(stored, trail)
    return stored


# (step, who took it, when, the reason of a return)
PastStep = tuple[ReportStep.Action, User, dt.datetime, str]
TEXTS = ("problems", "help_needed", "next_steps")


@dataclass(frozen=True)
class ReportHistory:
    """A county report's past, for `report_histories_load`: its texts, the steps taken on it in
    order, and the figures it was submitted with (as they were then, not today's)."""

    report: CountyReport
    texts: dict[str, str]
    steps: Sequence[PastStep] = ()
    figures: dict[str, Any] | None = None


@transaction.atomic
def report_histories_load(*, histories: Sequence[ReportHistory]) -> list[CountyReport]:
    """County reports' pasts, written at once (the demo's season of weekly rounds): each report's
    texts, then each of its steps taken as `report_step` takes it (who may take it, from which
    status, a return's reason, a submission's texts), in order and at its own time. Each report
    is written once and the steps together; a past step alerts nobody. Only a fresh draft takes
    a past: one never written since its round opened (version 0). Any refusal refuses all,
    naming the report."""
    ids = [h.report.pk for h in histories]
    if len(set(ids)) < len(ids):
        raise _refuse("同一报告只能载入一次。")
    stored = CountyReport.objects.select_for_update(no_key=True, of=("self",)).select_related(
        "round", "county"
    )
    reports = {r.pk: r for r in stored.filter(pk__in=ids)}
    if len(reports) < len(ids):
        raise _refuse("报告不存在。")
    trail: list[ReportStep] = []
    for history in histories:
        report = reports[history.report.pk]
        try:
            trail += _load_past(report, history)
        except ValidationError as exc:
            raise _refuse("；".join(f"{report}：{m}" for m in exc.messages)) from exc
        except PermissionDenied as exc:
            raise PermissionDenied(f"{report}：{exc}") from exc
    # Saved as report_step saves, each once with its history (the chain's constraints are the
    # database's, models.py). Not by bulk_update: its CASE per field and row costs more than it
    # saves for a few hundred reports.
    for report in reports.values():
        report.save()
    ReportStep.objects.bulk_create(trail, batch_size=500)
    return [reports[pk] for pk in ids]


def _load_past(report: CountyReport, history: ReportHistory) -> list[ReportStep]:
    if report.version != 0:
        raise _refuse("该报告已填写或已有流转记录，不能再载入。")
    unknown = set(history.texts) - set(TEXTS)
    if unknown:
        raise _refuse(f"未知的报告内容：{'、'.join(sorted(unknown))}")
    for name, text in history.texts.items():
        setattr(report, name, text)
    report.version += 1  # as report_save
    trail = []
    last = report.round.opened_at
    as_submitted = history.figures if history.figures is not None else report.figures
    for step, user, at, reason in history.steps:
        _require_step(user, step, report.county_id)
        if at < last:
            raise _refuse(f"{TRANSITIONS[step].step.label}的时间早于上一步或调度发起的时间。")
        last = at
        trail.append(
            _take(report, user=user, step=step, reason=reason, at=at, figures=lambda: as_submitted)
        )
    return trail


def _alert_step(report: CountyReport, step: ReportStep) -> None:
    """Who must act next hears of it: the approvers of a submitted report, the bureau of a signed
    one (it waits for its confirmation), the county's users of a returned one."""
    link = reverse("dispatch-report", args=[report.pk])
    name = f"{report.round}：{report.county.short_name}的调度报告"
    if step.action == ReportStep.Action.SUBMIT:
        approvers = access.holders(Action.SIGN, county=report.county_id)
        alert_send(
            approvers, kind=Alert.Kind.SUBMITTED, county=report.county, link=link,
            text=f"{name}已由{step.user}报送，请审核", key=f"step:{step.pk}",
        )  # fmt: skip
    elif step.action == ReportStep.Action.SIGN:
        alert_send(
            access.holders(Action.DISPATCH, county=report.county_id), kind=Alert.Kind.SIGNED,
            county=report.county, link=link, key=f"step:{step.pk}",
            text=f"{name}已经{step.user}审核通过，请市级确认",
        )  # fmt: skip
    elif step.action == ReportStep.Action.RETURN:
        alert_send(
            answering_for_report(report.county), kind=Alert.Kind.RETURNED, county=report.county,
            link=link, text=f"{name}被{step.user}退回：{step.reason}", key=f"step:{step.pk}",
        )  # fmt: skip
