"""Dispatch rounds end to end: the bureau opens a round; two counties' officials draft and submit,
their approvers sign off, the bureau accepts one and returns the other, which is corrected,
submitted, signed and accepted again; the accepted figures stay as they were after the ledger
changes; who may take each step is the access policy's, for every role."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from heating.access import Action, may
from heating.models import County, PlanYear, Role, User
from heating.services import user_create
from oversight.dispatch.models import Alert, CountyReport, DispatchRound, ReportStatus, ReportStep
from oversight.dispatch.services import (
    PastStep,
    ReportHistory,
    report_histories_load,
    report_save,
    report_step,
    round_open,
)
from oversight.dispatch.upward import upward_xlsx
from retrofits.models import TenderItem
from retrofits.services.rollups import rollup_run
from tests.conftest import PASSWORD, login
from tests.ledger_files import row, xlsx, yuanping_row

pytestmark = pytest.mark.django_db

Step = ReportStep.Action


def county(name: str) -> County:
    return County.objects.get(short_name=name)


@pytest.fixture
def approver(db: None) -> User:
    return user_create(
        username="xf-sh", password=PASSWORD, role=Role.APPROVER, county=county("忻府区")
    )


@pytest.fixture
def other_approver(db: None) -> User:
    return user_create(
        username="yp-sh", password=PASSWORD, role=Role.APPROVER, county=county("原平市")
    )


@pytest.fixture
def ledger(tmp_path: Path, tender: list[TenderItem]) -> None:
    done = dt.date(2023, 9, 1)
    rows = [row(实施进度="已完工", 完工日期=done), yuanping_row(取暖路径="集中供热", 设备型号=None)]
    call_command("import_ledger", str(xlsx(tmp_path, rows)), stdout=io.StringIO())
    rollup_run()


def open_round(municipal: User) -> DispatchRound:
    return round_open(
        plan_year=PlanYear.objects.get(year=2023), user=municipal,
        due_at=timezone.now() + dt.timedelta(days=2),
    )  # fmt: skip


def report_of(dispatch_round: DispatchRound, name: str) -> CountyReport:
    return dispatch_round.reports.get(county__short_name=name)


def post_step(client: Client, report: CountyReport, step: str, **data: str) -> None:
    report.refresh_from_db()
    client.post(
        reverse("dispatch-step", args=[report.pk, step]), {"seen_version": report.version, **data}
    )


def test_a_round_end_to_end_for_two_counties_with_a_return(
    ledger: None, municipal: User, official: User, other_official: User,
    approver: User, other_approver: User, tmp_path: Path,
) -> None:  # fmt: skip
    dispatch_round = open_round(municipal)
    assert dispatch_round.reports.count() == 16
    xinfu, yuanping = report_of(dispatch_round, "忻府区"), report_of(dispatch_round, "原平市")

    for user, report in ((official, xinfu), (other_official, yuanping)):
        client = login(Client(), user)
        form = client.get(reverse("dispatch-report", args=[report.pk])).context["form"]
        data = {"problems": f"{report.county}：部分村电网改造滞后", "help_needed": "协调供电公司",
                "next_steps": "10月10日前完成剩余安装", "seen_version": form["seen_version"].value()}  # fmt: skip
        assert client.post(reverse("dispatch-report", args=[report.pk]), data).status_code == 302
        post_step(client, report, Step.SUBMIT)
        report.refresh_from_db()
        assert report.status == ReportStatus.SUBMITTED and report.submitted_by == user
    assert xinfu.figures["progress"]["completed"] == 1

    # An official cannot sign their own report; the approver of the other county cannot either.
    post_step(login(Client(), official), xinfu, Step.SIGN)
    post_step(login(Client(), other_approver), xinfu, Step.SIGN)
    xinfu.refresh_from_db()
    assert xinfu.status == ReportStatus.SUBMITTED
    post_step(login(Client(), approver), xinfu, Step.SIGN)
    post_step(login(Client(), other_approver), yuanping, Step.SIGN)

    bureau = login(Client(), municipal)
    post_step(bureau, xinfu, Step.ACCEPT)
    post_step(bureau, yuanping, Step.RETURN, reason="未说明同华管线进度")
    xinfu.refresh_from_db()
    yuanping.refresh_from_db()
    assert (xinfu.status, xinfu.accepted_by, xinfu.signed_by) == (
        ReportStatus.ACCEPTED,
        municipal,
        approver,
    )
    assert (yuanping.status, yuanping.return_reason) == (
        ReportStatus.RETURNED,
        "未说明同华管线进度",
    )

    # The returned report reopens: corrected, submitted, signed and accepted.
    county_client = login(Client(), other_official)
    text = county_client.get(reverse("dispatch-report", args=[yuanping.pk])).content.decode()
    assert "未说明同华管线进度" in text
    report_save(report=yuanping, user=other_official, problems="同华二期管线10月底通热",
                help_needed="", next_steps="每周报进度")  # fmt: skip
    post_step(county_client, yuanping, Step.SUBMIT)
    post_step(login(Client(), other_approver), yuanping, Step.SIGN)
    post_step(bureau, yuanping, Step.ACCEPT)
    yuanping.refresh_from_db()
    assert yuanping.status == ReportStatus.ACCEPTED
    assert [s.action for s in yuanping.steps.all()] == [
        Step.SUBMIT,
        Step.SIGN,
        Step.RETURN,
        Step.SUBMIT,
        Step.SIGN,
        Step.ACCEPT,
    ]

    # The city's view shows every county's state, the figures and the texts.
    city = bureau.get(reverse("dispatch-round", args=[dispatch_round.pk])).content.decode()
    assert city.count("市级已确认") >= 2 and "未报送" in city and "同华二期管线10月底通热" in city

    # The ledger changes after acceptance: the accepted figures stay, the city sees the difference.
    frozen = dict(xinfu.figures)
    more = [row(户编号="XF-0002", 身份证号="140902197001013458", 实施进度="已完工",
                完工日期=dt.date(2023, 9, 20))]  # fmt: skip
    call_command("import_ledger", str(xlsx(tmp_path, more, name="more.xlsx")), stdout=io.StringIO())
    rollup_run()
    xinfu.refresh_from_db()
    assert xinfu.figures == frozen and xinfu.figures["progress"]["completed"] == 1
    city = bureau.get(reverse("dispatch-round", args=[dispatch_round.pk])).content.decode()
    assert '1<small class="live">≠ 2</small>' in city
    with pytest.raises(ValidationError, match="不能再修改"):
        report_save(report=xinfu, user=official, problems="改", help_needed="", next_steps="")
    with pytest.raises(ValidationError):
        report_step(report=xinfu, user=municipal, step=Step.RETURN, reason="再看看")


def test_a_county_user_sees_only_their_countys_report(
    municipal: User, official: User, other_official: User, approver: User
) -> None:
    dispatch_round = open_round(municipal)
    yuanping = report_of(dispatch_round, "原平市")
    for user in (official, approver):
        client = login(Client(), user)
        assert client.get(reverse("dispatch-report", args=[yuanping.pk])).status_code == 404
        response = client.get(reverse("dispatch-round", args=[dispatch_round.pk]))
        assert response["Location"] == reverse(
            "dispatch-report", args=[report_of(dispatch_round, "忻府区").pk]
        )


def test_submitting_needs_the_texts_and_a_return_needs_a_reason(
    municipal: User, official: User, approver: User
) -> None:
    xinfu = report_of(open_round(municipal), "忻府区")
    with pytest.raises(ValidationError, match="请先填写存在问题"):
        report_step(report=xinfu, user=official, step=Step.SUBMIT)
    report_save(report=xinfu, user=official, problems="无", help_needed="", next_steps="按计划")
    report_step(report=xinfu, user=official, step=Step.SUBMIT)
    with pytest.raises(ValidationError, match="退回时请写明原因"):
        report_step(report=xinfu, user=approver, step=Step.RETURN, reason=" ")
    report_step(report=xinfu, user=approver, step=Step.RETURN, reason="数据有误")
    assert CountyReport.objects.get(pk=xinfu.pk).status == ReportStatus.RETURNED


def test_a_stale_draft_is_refused(municipal: User, official: User) -> None:
    xinfu = report_of(open_round(municipal), "忻府区")
    report_save(report=xinfu, user=official, problems="甲", help_needed="", next_steps="")
    with pytest.raises(ValidationError, match="已被他人修改"):
        report_save(report=xinfu, user=official, problems="乙", help_needed="", next_steps="",
                    expected_version=0)  # fmt: skip


def test_a_report_not_submitted_by_its_due_time_is_late(municipal: User) -> None:
    dispatch_round = open_round(municipal)
    xinfu = report_of(dispatch_round, "忻府区")
    assert not xinfu.late()
    assert xinfu.late(dispatch_round.due_at + dt.timedelta(minutes=1))


ROLES = ["municipal", "official", "approver", "inspector", "administrator"]
# Which steps each role may take on 忻府区's report (the official and approver are 忻府区's).
EXPECTED = {
    "municipal": {Action.DISPATCH},
    "official": {Action.REPORT},
    "approver": {Action.SIGN},
    "inspector": set(),
    "administrator": {Action.REPORT, Action.SIGN, Action.DISPATCH},
}


@pytest.mark.parametrize("role", ROLES)
def test_the_access_policy_decides_each_step_for_every_role(
    role: str, request: pytest.FixtureRequest
) -> None:
    user = request.getfixturevalue(role)
    xinfu, yuanping = county("忻府区").pk, county("原平市").pk
    granted = {a for a in (Action.REPORT, Action.SIGN, Action.DISPATCH) if may(user, a, xinfu)}
    assert granted == EXPECTED[role]
    if role in ("official", "approver"):  # their own county only
        assert not any(may(user, a, yuanping) for a in EXPECTED[role])


def test_only_the_bureau_opens_a_round(official: User, approver: User) -> None:
    for user in (official, approver):
        with pytest.raises(PermissionDenied):
            open_round(user)
    response = login(Client(), official).post(
        reverse("dispatch"), {"kind": "ad_hoc", "due_at": "2030-01-01T17:00"}
    )
    assert response.status_code == 403 and not DispatchRound.objects.exists()


def accepted_round(
    municipal: User, official: User, approver: User, other_official: User
) -> DispatchRound:
    """A round where 忻府区's report is accepted and 原平市's only submitted."""
    dispatch_round = open_round(municipal)
    xinfu, yuanping = report_of(dispatch_round, "忻府区"), report_of(dispatch_round, "原平市")
    report_save(report=xinfu, user=official, problems="个别村入户线路待改造",
                help_needed="协调国网忻州供电公司", next_steps="10月10日前全部完工")  # fmt: skip
    for user, step in ((official, Step.SUBMIT), (approver, Step.SIGN), (municipal, Step.ACCEPT)):
        report_step(report=xinfu, user=user, step=step)
    report_save(
        report=yuanping, user=other_official, problems="无", help_needed="", next_steps="无"
    )
    report_step(report=yuanping, user=other_official, step=Step.SUBMIT)
    return dispatch_round


def test_the_upward_xlsx_holds_exactly_the_accepted_reports_figures(
    ledger: None, municipal: User, official: User, approver: User, other_official: User,
    tmp_path: Path,
) -> None:  # fmt: skip
    from openpyxl import load_workbook

    dispatch_round = accepted_round(municipal, official, approver, other_official)
    xinfu = report_of(dispatch_round, "忻府区")
    more = [row(户编号="XF-0002", 身份证号="140902197001013458", 实施进度="已完工",
                完工日期=dt.date(2023, 9, 20))]  # fmt: skip
    call_command("import_ledger", str(xlsx(tmp_path, more, name="more.xlsx")), stdout=io.StringIO())
    rollup_run()  # the live ledger moves on; the upward report does not

    bureau = login(Client(), municipal)
    response = bureau.get(reverse("dispatch-upward-xlsx", args=[dispatch_round.pk]))
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    rows = [r for r in sheet.iter_rows(min_row=5, values_only=True)]
    assert [r[0] for r in rows] == ["忻府区", "合计"]  # 原平市 is not accepted
    target = sum(c["target"] for c in xinfu.figures["progress"]["cells"])
    assert rows[0][1:3] == (target, 1) and rows[1][1:3] == (target, 1)
    electric = [c for c in xinfu.figures["progress"]["cells"] if c["path"] == "electric"]
    assert rows[0][7:9] == (sum(c["target"] for c in electric), 1)  # the 煤改电 group
    assert "市级已确认 1 个县" in str(sheet["A1"].value)
    # Made again later from the frozen data, it says the same.
    again = load_workbook(io.BytesIO(upward_xlsx(dispatch_round))).active
    assert again is not None
    assert list(again.iter_rows(values_only=True)) == list(sheet.iter_rows(values_only=True))


def test_the_upward_docx_opens_and_names_the_signers(
    ledger: None, municipal: User, official: User, approver: User, other_official: User
) -> None:
    from docx import Document

    official.first_name, approver.first_name, municipal.first_name = "王填报", "李审核", "赵确认"
    for u in (official, approver, municipal):
        u.save()
    dispatch_round = accepted_round(municipal, official, approver, other_official)
    response = login(Client(), municipal).get(
        reverse("dispatch-upward-docx", args=[dispatch_round.pk])
    )
    assert response.status_code == 200
    document = Document(io.BytesIO(response.content))
    text = "\n".join(p.text for p in document.paragraphs)
    cells = [c.text for t in document.tables for r in t.rows for c in r.cells]
    assert "1 个县的报告经县级审核、市级确认" in text
    assert "个别村入户线路待改造" in text and "协调国网忻州供电公司" in text
    assert any(c.startswith("王填报") for c in cells)
    assert any(c.startswith("李审核") for c in cells) and any(c.startswith("赵确认") for c in cells)
    assert "原平市" not in cells  # submitted, not accepted


def test_only_the_bureau_downloads_the_upward_report(
    municipal: User, official: User, approver: User
) -> None:
    dispatch_round = open_round(municipal)
    for user in (official, approver):
        client = login(Client(), user)
        for name in ("dispatch-upward-xlsx", "dispatch-upward-docx"):
            assert client.get(reverse(name, args=[dispatch_round.pk])).status_code == 403


def test_figures_are_printed_as_counts_and_dates() -> None:
    from oversight.dispatch.figures import shown

    assert [shown(154898), shown(0), shown(None), shown("2023-10-01"), shown(12.5)] == [
        "154,898", "0", "—", "2023-10-01", "12.5",
    ]  # fmt: skip


# ---------------------------------------------------------------- a season's past rounds


def past_round() -> DispatchRound:
    """A weekly round opened a month ago, as the demo opens its season's: it alerts nobody."""
    opened = timezone.now() - dt.timedelta(days=30)
    return round_open(
        plan_year=PlanYear.objects.get(year=2023), kind=DispatchRound.Kind.WEEKLY, now=opened,
        due_at=opened + dt.timedelta(days=2), title="第1期调度", notify=False,
    )  # fmt: skip


TEXTS = {"problems": "无", "help_needed": "", "next_steps": "按计划推进"}


def load(
    *, report: CountyReport, texts: dict[str, str], steps: list[PastStep] | None = None,
    figures: dict[str, Any] | None = None,
) -> CountyReport:  # fmt: skip
    """One report's past, through the service that loads a season's."""
    history = ReportHistory(report, texts, steps or [], figures)
    return report_histories_load(histories=[history])[0]


def test_a_past_round_takes_its_history_and_alerts_nobody(
    municipal: User, official: User, approver: User
) -> None:
    dispatch_round = past_round()
    report = report_of(dispatch_round, "忻府区")
    at = [dispatch_round.opened_at + dt.timedelta(hours=h) for h in range(1, 7)]
    figures = {"progress": {"completed": 12}}
    loaded = load(
        report=report, texts=TEXTS, figures=figures,
        steps=[
            (Step.SUBMIT, official, at[0], ""), (Step.SIGN, approver, at[1], ""),
            (Step.RETURN, municipal, at[2], "数据待核"), (Step.SUBMIT, official, at[3], ""),
            (Step.SIGN, approver, at[4], ""), (Step.ACCEPT, municipal, at[5], ""),
        ],
    )  # fmt: skip
    report.refresh_from_db()
    assert report.status == ReportStatus.ACCEPTED == loaded.status
    assert (report.submitted_at, report.signed_at, report.accepted_at) == (at[3], at[4], at[5])
    assert (report.figures, report.figures_as_of, report.problems) == (figures, at[3], "无")
    assert [(s.action, s.at) for s in report.steps.all()] == [
        (Step.SUBMIT, at[0]), (Step.SIGN, at[1]), (Step.RETURN, at[2]),
        (Step.SUBMIT, at[3]), (Step.SIGN, at[4]), (Step.ACCEPT, at[5]),
    ]  # fmt: skip
    assert report.history.count() == 1  # written once
    assert not Alert.objects.exists()


def test_a_past_draft_takes_its_texts_alone(official: User) -> None:
    report = report_of(past_round(), "忻府区")
    load(report=report, texts=TEXTS, steps=[])
    report.refresh_from_db()
    assert (report.status, report.next_steps, report.steps.count()) == (
        ReportStatus.DRAFT, "按计划推进", 0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("steps", "texts", "refusal"),
    [
        ([("sign", "approver", 1, "")], TEXTS, "报告当前未报送，不能县级审核通过。"),
        ([("submit", "official", 1, "")], {"problems": " ", "next_steps": ""}, "请先填写存在问题"),
        (
            [("submit", "official", 1, ""), ("return", "approver", 2, " ")],
            TEXTS,
            "退回时请写明原因",
        ),
        (
            [
                ("submit", "official", 1, ""),
                ("sign", "approver", 2, ""),
                ("return", "approver", 3, "x"),
            ],
            TEXTS,
            "该报告不在您的审核环节，不能退回。",
        ),
        ([("submit", "official", 2, ""), ("sign", "approver", 1, "")], TEXTS, "早于上一步"),
        ([("submit", "official", -1, "")], TEXTS, "早于上一步或调度发起的时间"),
        ([], {"summary": "x"}, "未知的报告内容：summary"),
    ],
)
def test_a_past_step_is_checked_as_a_step_taken_now(
    official: User, approver: User, municipal: User,
    steps: list[tuple[str, str, int, str]], texts: dict[str, str], refusal: str,
) -> None:  # fmt: skip
    users = {"official": official, "approver": approver, "municipal": municipal}
    report = report_of(past_round(), "忻府区")
    opened = report.round.opened_at
    with pytest.raises(ValidationError, match=refusal):
        load(
            report=report, texts=texts,
            steps=[
                (Step(s), users[u], opened + dt.timedelta(hours=h), reason)
                for s, u, h, reason in steps
            ],
        )  # fmt: skip
    report.refresh_from_db()
    assert (report.status, report.version, report.steps.count()) == (ReportStatus.DRAFT, 0, 0)


def test_past_steps_are_taken_by_whom_the_policy_lets(
    official: User, other_official: User, approver: User, municipal: User
) -> None:
    report = report_of(past_round(), "忻府区")
    at = report.round.opened_at + dt.timedelta(hours=1)
    for step, user in ((Step.SUBMIT, other_official), (Step.SUBMIT, approver)):
        with pytest.raises(PermissionDenied):
            load(report=report, texts=TEXTS, steps=[(step, user, at, "")])
    with pytest.raises(PermissionDenied):
        load(
            report=report, texts=TEXTS,
            steps=[(Step.SUBMIT, official, at, ""), (Step.SIGN, municipal, at, "")],
        )  # fmt: skip
    assert not report.steps.exists()


def test_only_a_fresh_draft_takes_a_past(official: User) -> None:
    report = report_of(past_round(), "忻府区")
    report_save(report=report, user=official, problems="无", help_needed="", next_steps="按计划")
    with pytest.raises(ValidationError, match="不能再载入"):
        load(report=report, texts=TEXTS, steps=[])


def test_a_seasons_pasts_are_loaded_whole_or_not_at_all(official: User) -> None:
    dispatch_round = past_round()
    xinfu, dingxiang = report_of(dispatch_round, "忻府区"), report_of(dispatch_round, "定襄县")
    at = dispatch_round.opened_at + dt.timedelta(hours=1)
    good = ReportHistory(xinfu, TEXTS, [(Step.SUBMIT, official, at, "")])
    with pytest.raises(PermissionDenied, match="定襄县"):  # 忻府区's official, not 定襄县's
        report_histories_load(
            histories=[good, ReportHistory(dingxiang, TEXTS, [(Step.SUBMIT, official, at, "")])]
        )
    with pytest.raises(ValidationError, match="同一报告只能载入一次"):
        report_histories_load(histories=[good, good])
    assert not ReportStep.objects.exists()
    xinfu.refresh_from_db()
    assert (xinfu.status, xinfu.version) == (ReportStatus.DRAFT, 0)


def test_typing_then_reporting_saves_and_submits_in_one_step(
    ledger: None, municipal: User, official: User
) -> None:
    """报送 is a button of the texts' form: nothing typed is lost on the way."""
    report = report_of(open_round(municipal), "忻府区")
    client = login(Client(), official)
    data = {"problems": "线路老化", "help_needed": "", "next_steps": "按期完工",
            "seen_version": report.version, "then": "submit"}  # fmt: skip
    assert client.post(reverse("dispatch-report", args=[report.pk]), data).status_code == 302
    report.refresh_from_db()
    assert (report.status, report.problems, report.next_steps) == (
        ReportStatus.SUBMITTED, "线路老化", "按期完工",
    )  # fmt: skip
    # Without the texts the step is refused and nothing is kept half-way.
    other = report_of(open_round(municipal), "忻府区")
    empty = {"problems": "", "help_needed": "协调", "next_steps": "", "seen_version": 0,
             "then": "submit"}  # fmt: skip
    page = client.post(reverse("dispatch-report", args=[other.pk]), empty)
    assert page.status_code == 200 and "请先填写存在问题和下步工作安排" in page.content.decode()
    other.refresh_from_db()
    assert (other.status, other.help_needed) == (ReportStatus.DRAFT, "")


def test_the_bureau_is_told_when_a_report_waits_for_its_confirmation(
    ledger: None, municipal: User, official: User, approver: User
) -> None:
    from oversight.dispatch.models import Alert

    report = report_of(open_round(municipal), "忻府区")
    report_save(report=report, user=official, problems="无", help_needed="", next_steps="无")
    report_step(report=report, user=official, step=Step.SUBMIT)
    assert not Alert.objects.filter(user=municipal, kind=Alert.Kind.SIGNED).exists()
    report_step(report=report, user=approver, step=Step.SIGN)
    (signed,) = Alert.objects.filter(user=municipal, kind=Alert.Kind.SIGNED)
    assert "忻府区" in signed.text and "请市级确认" in signed.text


def test_open_rounds_come_first_and_the_big_steps_ask_first(
    ledger: None, municipal: User, official: User, approver: User
) -> None:
    year = PlanYear.objects.get(year=2023)
    closed = round_open(
        plan_year=year, user=municipal, due_at=timezone.now() + dt.timedelta(hours=1)
    )
    DispatchRound.objects.filter(pk=closed.pk).update(
        opened_at=timezone.now() - dt.timedelta(days=3),
        due_at=timezone.now() - dt.timedelta(days=1),
    )
    still_open = round_open(
        plan_year=year, user=municipal, due_at=timezone.now() + dt.timedelta(days=2)
    )
    DispatchRound.objects.filter(pk=still_open.pk).update(
        opened_at=timezone.now() - dt.timedelta(days=9)  # opened before the closed one
    )
    page = login(Client(), municipal).get(reverse("dispatch"))
    assert [r.pk for r, _, _ in page.context["rounds"]][:2] == [still_open.pk, closed.pk]
    assert "发起后将通知全部 16 个县（市、区）报送" in page.content.decode()
    report = report_of(still_open, "忻府区")
    report_save(report=report, user=official, problems="无", help_needed="", next_steps="无")
    report_step(report=report, user=official, step=Step.SUBMIT)
    signing = login(Client(), approver).get(reverse("dispatch-report", args=[report.pk]))
    assert 'data-confirm="确定审核通过并报市级？"' in signing.content.decode()
    report_step(report=report, user=approver, step=Step.SIGN)
    accepting = login(Client(), municipal).get(reverse("dispatch-report", args=[report.pk]))
    assert 'data-confirm="确定市级确认？确认后报告不再更改。"' in accepting.content.decode()
