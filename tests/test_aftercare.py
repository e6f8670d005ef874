"""Tickets (工单) at the service level: every state, the time limits in working days, escalation
(督办) once, the 未立先破 cross-check, and 先立后破's stable season."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from acceptance.models import HeatingRemoval
from acceptance.services import heating_removal_record
from acceptance.services.bulk import RemovalInput, heating_removals_record_bulk
from aftercare import limits
from aftercare.models import Category, Channel, RemovalCheck, Satisfaction, State, Ticket
from aftercare.selectors import kpis, season_stability
from aftercare.services import (
    TicketInput,
    ticket_accept,
    ticket_callback,
    ticket_close,
    ticket_create,
    ticket_extend,
    ticket_reassign,
    ticket_return,
    tickets_escalate_breached,
)
from heating.models import County, User, Village
from oversight.dispatch.models import Alert
from retrofits.models import Household, TenderItem
from tests.conftest import county
from tests.ledger_files import IDS, row, xlsx
from tests.test_acceptance import bulk_visit

pytestmark = pytest.mark.django_db


def at(moment: str) -> dt.datetime:
    """A moment in Asia/Shanghai: "2023-09-28 10:00"."""
    return timezone.make_aware(dt.datetime.fromisoformat(moment))


def a_village(short_name: str = "忻府区") -> Village:
    found = Village.objects.filter(township__county__short_name=short_name).order_by("pk").first()
    assert found is not None
    return found


def a_ticket(
    user: User,
    *,
    category: str = Category.FAULT,
    received: str = "2023-09-28 10:00",
    household: Household | None = None,
    where: str = "忻府区",
    number: str = "",
) -> Ticket:
    return ticket_create(
        data=TicketInput(
            channel=Channel.HOTLINE if number else Channel.PHONE,
            hotline_number=number,
            category=category,
            county=household.county if household else county(where),
            household=household,
            village=None if household else a_village(where),
            content="热泵不启动",
            received_at=at(received),
            caller_phone="13912345678",
        ),
        user=user,
    )


# ---------------------------------------------------------------- time limits


def test_time_limits_across_national_day_2023_and_its_make_up_days(municipal: User) -> None:
    """2023-09-28 is a Thursday; 9/29–10/6 are off (中秋、国庆), Saturday 10/7 and Sunday 10/8 are
    make-up working days. A deadline ends at 24:00 of its last working day."""
    fault = a_ticket(municipal, received="2023-09-28 10:00")
    # 签收, 1 working day: Saturday 10/7.
    assert fault.accept_due == at("2023-10-08 00:00")
    # 设备故障, 3 working days: 10/7, 10/8, Monday 10/9.
    assert fault.close_due == at("2023-10-10 00:00")
    # 退回, 2 working days: 10/7, 10/8.
    assert limits.due(fault.assigned_at, limits.RETURN_LIMIT) == at("2023-10-09 00:00")
    # 燃气安全 in hours, holidays or not.
    gas = a_ticket(municipal, category=Category.GAS_SAFETY, received="2023-09-28 10:00")
    assert gas.close_due == at("2023-09-29 10:00")
    # 补贴未到位, 15 working days from 9/28: 10/7, 10/8, then 13 from Monday 10/9 to Wednesday 10/25.
    subsidy = a_ticket(municipal, category=Category.SUBSIDY, received="2023-09-28 10:00")
    assert subsidy.close_due == at("2023-10-26 00:00")


def test_one_extension_runs_the_limit_once_more(official: User, municipal: User) -> None:
    ticket = a_ticket(municipal, received="2023-09-28 10:00")
    ticket = ticket_accept(ticket=ticket, user=official, now=at("2023-10-07 09:00"))
    ticket = ticket_extend(
        ticket=ticket, user=official, reason="等待厂家配件", now=at("2023-10-09 16:00")
    )
    # Three working days after Monday 10/9: 10/10, 10/11, 10/12.
    assert ticket.close_due == at("2023-10-13 00:00")
    with pytest.raises(ValidationError, match="已延期一次"):
        ticket_extend(ticket=ticket, user=official, reason="再等等", now=at("2023-10-10 09:00"))
    # The database holds it too: an extension has its reason.
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(extension_reason="")


def test_standing_on_track_at_risk_breached(municipal: User) -> None:
    ticket = a_ticket(municipal, received="2023-11-06 09:00")  # a Monday
    # 签收 due at 2023-11-08 00:00: 39 hours; a quarter is 9.75 hours.
    assert limits.clock(ticket, at("2023-11-06 12:00")).standing == limits.Standing.ON_TRACK
    assert limits.clock(ticket, at("2023-11-07 15:00")).standing == limits.Standing.AT_RISK
    assert limits.clock(ticket, at("2023-11-08 00:01")).standing == limits.Standing.BREACHED


# ---------------------------------------------------------------- every state


def test_a_ticket_through_every_state(
    official: User, other_official: User, municipal: User, django_capture_on_commit_callbacks: Any
) -> None:
    # Registered for 原平市, which returns it: not theirs.
    ticket = a_ticket(
        municipal, where="原平市", received="2023-11-06 09:00", number="2023110600001"
    )
    assert ticket.state == State.PENDING
    with pytest.raises(PermissionDenied):
        ticket_accept(ticket=ticket, user=official)
    ticket = ticket_return(
        ticket=ticket, user=other_official, reason="地址在忻府区", now=at("2023-11-07 10:00")
    )
    assert (ticket.state, ticket.returns) == (State.RETURNED, 1)
    with pytest.raises(PermissionDenied):
        ticket_reassign(ticket=ticket, user=other_official, county=county("忻府区"))
    ticket = ticket_reassign(
        ticket=ticket, user=municipal, county=county("忻府区"), village=a_village(),
        now=at("2023-11-07 11:00"),
    )  # fmt: skip
    assert (ticket.state, ticket.county.short_name) == (State.PENDING, "忻府区")
    assert ticket.accept_due == at("2023-11-09 00:00")  # the clock starts again
    ticket = ticket_accept(ticket=ticket, user=official, now=at("2023-11-07 15:00"))
    assert ticket.state == State.HANDLING
    ticket = ticket_extend(ticket=ticket, user=official, reason="配件", now=at("2023-11-08 10:00"))
    with pytest.raises(ValidationError, match="请填写办理结果"):
        ticket_close(ticket=ticket, user=official, resolution=" ", now=at("2023-11-09 10:00"))
    ticket = ticket_close(
        ticket=ticket, user=official, resolution="更换电路板", now=at("2023-11-09 10:00")
    )
    assert ticket.state == State.CLOSED
    with pytest.raises(PermissionDenied):
        ticket_callback(ticket=ticket, user=official, satisfaction=Satisfaction.SATISFIED)
    ticket = ticket_callback(
        ticket=ticket, user=municipal, satisfaction=Satisfaction.UNSATISFIED,
        now=at("2023-11-10 10:00"),
    )  # fmt: skip
    assert (ticket.state, ticket.reopened, ticket.closed_at) == (State.HANDLING, 1, None)
    assert ticket.close_due == at("2023-11-16 00:00")  # Friday + 3 working days: Mon–Wed
    ticket = ticket_close(
        ticket=ticket, user=official, resolution="复查正常", now=at("2023-11-13 10:00")
    )
    ticket = ticket_callback(
        ticket=ticket, user=municipal, satisfaction=Satisfaction.BASIC, now=at("2023-11-14 10:00")
    )
    assert ticket.state == State.VISITED
    assert list(ticket.steps.order_by("pk").values_list("action", flat=True)) == [
        "create", "return", "reassign", "accept", "extend", "close", "callback", "reopen",
        "close", "callback",
    ]  # fmt: skip
    assert ticket.escalated_at is None
    with pytest.raises(ValidationError, match="已回访"):
        ticket_close(ticket=ticket, user=official, resolution="再办")


def test_the_monthly_figures_kept_between_writes_follow_every_step(
    official: User, municipal: User
) -> None:
    def figures() -> dict[str, Any]:
        totals = kpis(counties=County.objects.order_by("pk"), year=2023).totals.values()
        return {f.county.short_name: f.as_dict() for f in totals}

    assert figures() == {}
    ticket = a_ticket(municipal, received="2023-11-06 09:00")
    seen = [figures()]
    ticket = ticket_accept(ticket=ticket, user=official, now=at("2023-11-06 15:00"))
    seen.append(figures())
    ticket = ticket_close(
        ticket=ticket, user=official, resolution="更换", now=at("2023-11-07 10:00")
    )
    seen.append(figures())
    ticket_callback(
        ticket=ticket, user=municipal, satisfaction=Satisfaction.UNSATISFIED,
        now=at("2023-11-08 10:00"),
    )  # fmt: skip
    seen.append(figures())
    assert all(before != after for before, after in itertools.pairwise(seen))
    last = seen[-1]["忻府区"]
    assert (last["received"], last["accepted"], last["closed"], last["repeated"]) == (1, 1, 0, 1)


def test_returning_is_refused_after_two_working_days(official: User, municipal: User) -> None:
    ticket = a_ticket(municipal, received="2023-09-28 10:00")
    with pytest.raises(ValidationError, match="2个工作日内方可退回"):
        ticket_return(ticket=ticket, user=official, reason="非本县", now=at("2023-10-09 00:30"))
    ticket_return(ticket=ticket, user=official, reason="非本县", now=at("2023-10-08 23:00"))


def test_the_database_refuses_a_hotline_ticket_without_its_number(municipal: User) -> None:
    with pytest.raises(ValidationError, match="工单编号"):
        ticket_create(
            data=TicketInput(
                channel=Channel.HOTLINE, category=Category.OTHER, county=county("忻府区"),
                village=a_village(), content="咨询", received_at=at("2023-11-06 09:00"),
            ),
            user=municipal,
        )  # fmt: skip
    ticket = a_ticket(municipal, number="2023110600002")
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(hotline_number="")


# ---------------------------------------------------------------- escalation


def test_a_breach_escalates_once_not_twice(
    official: User, municipal: User, django_capture_on_commit_callbacks: Any
) -> None:
    ticket = a_ticket(municipal, received="2023-11-06 09:00")
    assert tickets_escalate_breached(now=at("2023-11-07 12:00")) == 0
    assert tickets_escalate_breached(now=at("2023-11-08 09:00")) == 1  # not signed for
    assert tickets_escalate_breached(now=at("2023-11-08 10:00")) == 0
    ticket.refresh_from_db()
    assert ticket.escalated_at == at("2023-11-08 09:00")
    assert "签收时限" in ticket.escalation_reason
    alerts = Alert.objects.filter(kind=Alert.Kind.TICKET)
    assert [(a.user, a.county) for a in alerts] == [(municipal, county("忻府区"))]
    assert "督办" in alerts[0].text and ticket.number in alerts[0].text
    # Signed for late, closed late, reopened three times: still the one escalation.
    ticket = ticket_accept(ticket=ticket, user=official, now=at("2023-11-08 11:00"))
    for day in ("2023-11-20", "2023-11-21", "2023-11-22"):
        ticket = ticket_close(
            ticket=ticket, user=official, resolution="已修", now=at(f"{day} 09:00")
        )
        ticket = ticket_callback(
            ticket=ticket, user=municipal, satisfaction=Satisfaction.UNSATISFIED,
            now=at(f"{day} 10:00"),
        )  # fmt: skip
    assert ticket.reopened == 3
    assert ticket.steps.filter(action="escalate").count() == 1
    assert Alert.objects.filter(kind=Alert.Kind.TICKET).count() == 1


def test_the_third_reopening_escalates(official: User, municipal: User) -> None:
    ticket = a_ticket(municipal, received="2023-11-06 09:00")
    ticket = ticket_accept(ticket=ticket, user=official, now=at("2023-11-06 10:00"))
    for n, day in enumerate(("2023-11-07", "2023-11-08", "2023-11-09"), start=1):
        ticket = ticket_close(
            ticket=ticket, user=official, resolution="已修", now=at(f"{day} 09:00")
        )
        ticket = ticket_callback(
            ticket=ticket, user=municipal, satisfaction=Satisfaction.UNSATISFIED,
            now=at(f"{day} 10:00"),
        )  # fmt: skip
        assert (ticket.escalated_at is not None) == (n == 3)
    assert ticket.escalation_reason == "回访不满意，第3次重办"
    assert Alert.objects.get(kind=Alert.Kind.TICKET, user=municipal).link.endswith(
        f"/tickets/{ticket.pk}/"
    )


# ---------------------------------------------------------------- 先立后破


@pytest.fixture
def accepted(tmp_path: Path, tender: list[TenderItem], inspector: User) -> list[Household]:
    """Two 煤改电 households of 忻府区 accepted on 2023-10-29: removal allowed from 2024-04-01."""
    rows = [
        row(户编号="XF-0001", 实施进度="已完工", 完工日期=dt.date(2023, 10, 10)),
        row(户编号="XF-0002", 身份证号=IDS[1], 实施进度="已完工", 完工日期=dt.date(2023, 10, 12)),
    ]
    call_command("import_ledger", str(xlsx(tmp_path, rows)), stdout=io.StringIO())
    households = list(Household.objects.order_by("code"))
    from acceptance.services.bulk import inspections_record_bulk

    inspections_record_bulk(
        visits=[bulk_visit(h, inspector, "2023-10-29") for h in households], source="测试"
    )
    for h in households:
        h.refresh_from_db()
    return households


def test_an_early_removal_ticket_alerts_the_bureau(
    accepted: list[Household], official: User, municipal: User
) -> None:
    early, unrecorded = accepted
    HeatingRemoval.objects.create(
        household=early, removed_on=dt.date(2024, 1, 10), recorded_by=official
    )
    ticket = a_ticket(
        municipal, category=Category.EARLY_REMOVAL, household=early, received="2024-01-15 09:00"
    )
    assert ticket.removal_check == RemovalCheck.EARLY
    alert = Alert.objects.get(user=municipal, key=f"ticket-removal:{ticket.pk}")
    assert "2024年01月10日登记拆除" in alert.text and "2024年04月01日起方可拆除" in alert.text

    other = a_ticket(
        municipal,
        category=Category.EARLY_REMOVAL,
        household=unrecorded,
        received="2024-01-15 09:00",
    )
    assert other.removal_check == RemovalCheck.UNRECORDED
    assert "无拆除登记" in Alert.objects.get(key=f"ticket-removal:{other.pk}").text


def test_a_removal_in_time_is_no_alert(
    accepted: list[Household], official: User, municipal: User
) -> None:
    household = accepted[0]
    heating_removal_record(household=household, removed_on=dt.date(2024, 4, 2), user=official)
    ticket = a_ticket(
        municipal, category=Category.EARLY_REMOVAL, household=household, received="2024-04-10 09:00"
    )
    assert ticket.removal_check == RemovalCheck.ALLOWED
    assert not Alert.objects.filter(kind=Alert.Kind.TICKET).exists()


def test_a_removal_is_refused_for_a_fault_left_open_naming_the_ticket(
    accepted: list[Household], official: User, municipal: User
) -> None:
    household, fine = accepted
    # A fault in December 2023, in the season that counts (2023-11-01 to 2024-03-31), never closed.
    fault = a_ticket(municipal, household=household, received="2023-12-05 09:00")
    ticket_accept(ticket=fault, user=official, now=at("2023-12-05 10:00"))
    assert season_stability(household.pk, 2023) == [fault]
    with pytest.raises(ValidationError) as refused:
        heating_removal_record(household=household, removed_on=dt.date(2024, 4, 2), user=official)
    message = refused.value.message_dict["removed_on"][0]
    assert (
        f"工单{fault.number}" in message and "设备故障" in message and "2023年12月05日" in message
    )
    with pytest.raises(ValidationError, match=f"工单{fault.number}.*XF-0001"):
        heating_removals_record_bulk(
            removals=[
                RemovalInput(household.pk, dt.date(2024, 4, 2), official),
                RemovalInput(fine.pk, dt.date(2024, 4, 2), official),
            ]
        )
    assert not HeatingRemoval.objects.exists()
    # The other household's season was stable: its stove may go.
    heating_removal_record(household=fine, removed_on=dt.date(2024, 4, 2), user=official)


def test_a_fault_closed_in_time_keeps_the_season_stable(
    accepted: list[Household], official: User, municipal: User
) -> None:
    household = accepted[0]
    fault = a_ticket(municipal, household=household, received="2023-12-05 09:00")
    fault = ticket_accept(ticket=fault, user=official, now=at("2023-12-05 10:00"))
    ticket_close(ticket=fault, user=official, resolution="已修复", now=at("2023-12-07 10:00"))
    assert season_stability(household.pk, 2023) == []
    heating_removal_record(household=household, removed_on=dt.date(2024, 4, 2), user=official)


def test_a_later_stable_season_lets_the_removal_go(
    accepted: list[Household], official: User, municipal: User
) -> None:
    household = accepted[0]
    fault = a_ticket(
        municipal, household=household, category=Category.COLD, received="2023-12-05 09:00"
    )
    fault = ticket_accept(ticket=fault, user=official, now=at("2023-12-05 10:00"))
    ticket_close(ticket=fault, user=official, resolution="已修复", now=at("2024-01-20 10:00"))
    with pytest.raises(ValidationError, match="供暖不热"):
        heating_removal_record(household=household, removed_on=dt.date(2024, 4, 2), user=official)
    # The 2024-2025 season ran without a fault left open: removal from 2025-04-01.
    heating_removal_record(household=household, removed_on=dt.date(2025, 4, 2), user=official)


# ---------------------------------------------------------------- scope


def test_a_county_handles_only_its_tickets(
    official: User, other_official: User, municipal: User
) -> None:
    theirs = a_ticket(municipal, where="原平市")
    with pytest.raises(PermissionDenied):
        ticket_accept(ticket=theirs, user=official)
    with pytest.raises(PermissionDenied):
        a_ticket(official, where="原平市")
    ours = a_ticket(official)
    assert set(Ticket.objects.visible_to(official)) == {ours}
    assert set(Ticket.objects.visible_to(other_official)) == {theirs}
    assert set(Ticket.objects.visible_to(municipal)) == {ours, theirs}
    assert County.objects.filter(tickets__isnull=False).count() == 2


def test_the_dossier_names_the_ticket_that_broke_the_season(
    accepted: list[Household], official: User, municipal: User, client: Any
) -> None:
    household = accepted[0]
    fault = a_ticket(municipal, household=household, received="2023-12-05 09:00")
    client.force_login(official)
    page = client.get(reverse("household-detail", args=[household.pk])).content.decode()
    assert "2023-2024采暖季（先立后破所计）" in page and "未稳定运行" in page
    assert f"工单{fault.number}" in page
