"""Alerts reach the right people: a county's go to that county's users only, the bureau's to the
bureau; the inbox with its unread count; e-mail at once (after the write commits) or in a daily
digest; a failed send is retried; beat's checks say each thing once."""

from __future__ import annotations

import datetime as dt
import smtplib
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from energy_supply.models import FuelReserve
from heating.models import County, PlanYear, Role, User
from heating.services import user_create
from oversight.dispatch import tasks
from oversight.dispatch.checks import open_scheduled_round, report_deadlines, season_warnings
from oversight.dispatch.models import Alert, DispatchRound, ReportStep
from oversight.dispatch.services import report_save, report_step, round_open
from oversight.dispatch.services.alerts import alerts_mark_read
from tests.conftest import PASSWORD, login

pytestmark = pytest.mark.django_db


@pytest.fixture
def approver(db: None) -> User:
    return user_create(
        username="xf-sh", password=PASSWORD, role=Role.APPROVER,
        county=County.objects.get(short_name="忻府区"),
    )  # fmt: skip


def open_round(municipal: User, hours: int = 48) -> DispatchRound:
    return round_open(
        plan_year=PlanYear.objects.get(year=2023), user=municipal,
        due_at=timezone.now() + dt.timedelta(hours=hours),
    )  # fmt: skip


def texts(user: User) -> list[str]:
    return list(Alert.objects.filter(user=user).values_list("text", flat=True))


def test_a_countys_alerts_reach_only_that_countys_users(
    client: Client, municipal: User, official: User, other_official: User, approver: User,
    inspector: User,
) -> None:  # fmt: skip
    dispatch_round = open_round(municipal)
    assert [t for t in texts(official) if "忻府区" in t] == texts(official) != []
    assert all("原平市" in t for t in texts(other_official)) and texts(other_official)
    assert len(texts(approver)) == 1 and "忻府区" in texts(approver)[0]
    assert texts(municipal) == [] and texts(inspector) == []

    xinfu = dispatch_round.reports.get(county__short_name="忻府区")
    report_save(report=xinfu, user=official, problems="无", help_needed="", next_steps="按计划")
    report_step(report=xinfu, user=official, step=ReportStep.Action.SUBMIT)
    assert any("请审核" in t for t in texts(approver))
    assert not any("请审核" in t for t in texts(official) + texts(other_official))
    report_step(report=xinfu, user=approver, step=ReportStep.Action.RETURN, reason="数据待核")
    assert any("退回：数据待核" in t for t in texts(official))
    assert not any("退回" in t for t in texts(other_official))

    page = login(client, official).get(reverse("inbox")).content.decode()
    unread = Alert.objects.filter(user=official, read_at=None).count()
    assert f'<span class="badge">{unread}</span>' in page and "数据待核" in page


def test_opening_an_alert_marks_it_read_and_goes_only_within_the_site(
    client: Client, official: User
) -> None:
    inside = Alert.objects.create(user=official, kind="late", text="a", link="/dispatch/", key="a")
    outside = Alert.objects.create(
        user=official, kind="late", text="b", link="https://evil.example/", key="b"
    )
    login(client, official)
    assert client.get(reverse("alert-open", args=[inside.pk]))["Location"] == "/dispatch/"
    assert client.get(reverse("alert-open", args=[outside.pk]))["Location"] == reverse("inbox")
    inside.refresh_from_db()
    assert inside.read_at is not None
    other = user_create(username="o", password=PASSWORD, role=Role.MUNICIPAL)
    assert login(Client(), other).get(reverse("alert-open", args=[inside.pk])).status_code == 404


def test_an_immediate_alert_is_mailed_after_the_write_commits(
    municipal: User, official: User, django_capture_on_commit_callbacks: Any
) -> None:
    official.email = "xinfu@example.cn"
    official.save()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        open_round(municipal)
        assert mail.outbox == []  # nothing is sent inside the write
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1 and "忻府区" in mail.outbox[0].body
    assert mail.outbox[0].to == ["xinfu@example.cn"]
    assert Alert.objects.get(user=official).emailed_at is not None


def test_a_failed_send_is_retried_not_lost(official: User) -> None:
    official.email = "xinfu@example.cn"
    official.save()
    alert = Alert.objects.create(user=official, kind="late", text="逾期", key="k")
    real = mail.send_mail
    calls: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise smtplib.SMTPServerDisconnected("connection lost")
        return real(*args, **kwargs)

    with mock.patch.object(tasks, "send_mail", flaky):
        # As a worker runs it: a failure is a retry, not an error raised to the caller.
        tasks.alert_email.apply(args=(alert.pk,), throw=False)
    assert len(calls) == 2 and len(mail.outbox) == 1
    alert.refresh_from_db()
    assert alert.emailed_at is not None
    assert tasks.alert_email.autoretry_for == tasks.RETRY_ON  # type: ignore[attr-defined]


def test_those_who_chose_the_digest_get_one_mail_a_day(
    municipal: User, official: User, django_capture_on_commit_callbacks: Any
) -> None:
    official.email, official.alert_delivery = "xinfu@example.cn", User.Delivery.DIGEST
    official.save()
    with django_capture_on_commit_callbacks(execute=True):
        open_round(municipal)
        open_round(municipal)
    assert mail.outbox == []
    tasks.send_digests()
    assert len(mail.outbox) == 1 and "今日提醒 2 条" in mail.outbox[0].subject
    tasks.send_digests()
    assert len(mail.outbox) == 1


def test_reports_due_soon_and_late_are_alerted_once(
    municipal: User, official: User, other_official: User
) -> None:
    dispatch_round = open_round(municipal, hours=20)
    assert report_deadlines() > 0
    assert any("将于" in t and "截止" in t for t in texts(official))
    made_again = report_deadlines()
    assert made_again == 0
    later = dispatch_round.due_at + dt.timedelta(hours=1)
    report_deadlines(now=later)
    assert any("忻府区的调度报告已逾期" in t for t in texts(official))
    assert not any("忻府区" in t for t in texts(other_official))
    assert any("忻府区的调度报告已逾期" in t for t in texts(municipal))


def test_the_weekly_round_opens_once_a_week_during_the_works(municipal: User) -> None:
    monday = timezone.make_aware(dt.datetime(2023, 6, 5, 9))
    opened = open_scheduled_round(now=monday)
    assert opened is not None and opened.kind == DispatchRound.Kind.WEEKLY
    assert timezone.localtime(opened.due_at) == timezone.make_aware(dt.datetime(2023, 6, 7, 17))
    assert open_scheduled_round(now=monday + dt.timedelta(hours=5)) is None
    assert open_scheduled_round(now=monday + dt.timedelta(days=7)) is not None
    assert open_scheduled_round(now=timezone.make_aware(dt.datetime(2023, 12, 4, 9))) is None


def test_a_supply_warning_reaches_its_county_and_the_bureau(
    municipal: User, official: User, other_official: User
) -> None:
    FuelReserve.objects.create(
        county=County.objects.get(short_name="忻府区"), season=2023, fuel="clean_coal",
        households=1000, contracted_t=Decimal(2600), stored_t=Decimal(2000),
    )  # fmt: skip
    season_warnings(today=dt.date(2023, 10, 1))
    assert any("忻府区洁净煤储备不足" in t for t in texts(official))
    assert any("忻府区洁净煤储备不足" in t for t in texts(municipal))
    assert not any("忻府区" in t for t in texts(other_official))
    assert season_warnings(today=dt.date(2023, 10, 1)) == 0  # once a day


def test_a_user_marks_only_their_own_alerts_read(
    client: Client, official: User, other_official: User
) -> None:
    mine = Alert.objects.create(user=official, kind="late", text="a", key="a")
    theirs = Alert.objects.create(user=other_official, kind="late", text="b", key="b")
    with pytest.raises(PermissionDenied):
        alerts_mark_read(user=official, alerts=[mine, theirs])
    assert not Alert.objects.exclude(read_at=None).exists()
    login(client, official).post(reverse("inbox-read-all"))
    assert set(Alert.objects.filter(read_at=None).values_list("key", flat=True)) == {"b"}


def test_the_delivery_choice_is_the_users_own(client: Client, official: User) -> None:
    login(client, official)
    response = client.post(
        reverse("inbox-delivery"), {"alert_delivery": "digest", "email": "xf@example.cn"}
    )
    assert response["Location"] == reverse("inbox")
    official.refresh_from_db()
    assert (official.alert_delivery, official.email) == (User.Delivery.DIGEST, "xf@example.cn")
    client.post(reverse("inbox-delivery"), {"alert_delivery": "never", "email": "x"})
    official.refresh_from_db()
    assert (official.alert_delivery, official.email) == (User.Delivery.DIGEST, "xf@example.cn")
