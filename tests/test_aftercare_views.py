"""Ticket pages, the 12345 import and /api/tickets: works, access denied for the wrong user, wrong
method, bad input."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from aftercare.models import Category, State, Ticket
from aftercare.services import ticket_accept, ticket_close
from heating.models import User
from retrofits.models import Household, TenderItem
from tests.conftest import county, login
from tests.ledger_files import row, xlsx
from tests.test_aftercare import a_ticket, a_village, at

pytestmark = pytest.mark.django_db

HEADER = "工单编号,来电时间,来电人,联系电话,诉求内容,诉求类别,涉及区县,乡镇,村,户编号"


def csv_file(*lines: str, name: str = "12345.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, "\n".join([HEADER, *lines]).encode("utf-8"))


def a_line(number: str = "2023110600001", **changes: str) -> str:
    village = a_village()
    cells = {
        "工单编号": number, "来电时间": "2023-11-06 09:30", "来电人": "王女士",
        "联系电话": "13912345678", "诉求内容": "家里暖气不热", "诉求类别": "供暖不热",
        "涉及区县": "忻府区", "乡镇": village.township.name, "村": village.name, "户编号": "",
    } | changes  # fmt: skip
    return ",".join(cells.values())


def test_a_county_lists_only_its_tickets(client: Client, official: User, municipal: User) -> None:
    ours, theirs = a_ticket(municipal), a_ticket(municipal, where="原平市")
    page = login(client, official).get(reverse("ticket-list"))
    assert page.status_code == 200
    assert list(page.context["page"]) == [ours]
    assert client.get(reverse("ticket-detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("ticket-detail", args=[ours.pk])).status_code == 200
    assert (
        client.get(reverse("ticket-list"), {"county": theirs.county_id})
        .context["page"]
        .paginator.count
        == 0
    )  # another county is not a choice: nothing, with a message
    login(client, municipal)
    assert client.get(reverse("ticket-list")).context["page"].paginator.count == 2


def test_the_list_filters(client: Client, official: User, municipal: User) -> None:
    fault = a_ticket(municipal)
    cold = a_ticket(municipal, category=Category.COLD)
    login(client, official)
    assert list(client.get(reverse("ticket-list"), {"category": "cold"}).context["page"]) == [cold]
    breached = client.get(reverse("ticket-list"), {"standing": "breached"}).context["page"]
    assert set(breached) == {fault, cold}  # 2023's tickets never signed for
    bad = client.get(reverse("ticket-list"), {"state": "火星", "page": "²"})
    assert bad.status_code == 200 and "筛选条件有误" in bad.content.decode()


def test_the_phone_is_masked_for_the_bureau(
    client: Client, official: User, municipal: User
) -> None:
    ticket = a_ticket(municipal)
    assert (
        "13912345678"
        in login(client, official).get(reverse("ticket-detail", args=[ticket.pk])).content.decode()
    )
    shown = login(client, municipal).get(reverse("ticket-detail", args=[ticket.pk]))
    assert "13912345678" not in shown.content.decode() and "139****5678" in shown.content.decode()


def test_steps_from_the_page(client: Client, official: User, municipal: User) -> None:
    ticket = a_ticket(municipal)
    act = reverse("ticket-action", args=[ticket.pk])
    assert login(client, municipal).post(act, {"step": "accept"}).status_code == 403
    assert login(client, official).get(act).status_code == 405
    assert client.post(act, {"step": "fly"}).status_code == 400
    page = client.get(reverse("ticket-detail", args=[ticket.pk])).content.decode()
    assert 'value="accept"' in page and "data-confirm" in page
    assert client.post(act, {"step": "accept"}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == State.HANDLING
    client.post(act, {"step": "close", "resolution": ""})
    ticket.refresh_from_db()
    assert ticket.state == State.HANDLING
    client.post(act, {"step": "close", "resolution": "已修复"})
    ticket.refresh_from_db()
    assert ticket.state == State.CLOSED
    login(client, municipal).post(act, {"step": "callback", "satisfaction": "satisfied"})
    ticket.refresh_from_db()
    assert ticket.state == State.VISITED


def test_a_ticket_registered_by_the_form(client: Client, official: User, inspector: User) -> None:
    login(client, inspector)
    assert client.get(reverse("ticket-create")).status_code == 403
    village = a_village()
    form = {
        "channel": "phone", "category": "voltage", "county": county("忻府区").pk,
        "township_name": village.township.name, "village_name": "没有这个村",
        "content": "总跳闸", "received_at": "2023-11-06T09:00",
    }  # fmt: skip
    login(client, official)
    again = client.post(reverse("ticket-create"), form)
    assert again.status_code == 200 and "该乡（镇、街道）没有该村（社区）" in again.content.decode()
    answer = client.post(reverse("ticket-create"), form | {"village_name": village.name})
    ticket = Ticket.objects.get()
    assert answer["Location"] == reverse("ticket-detail", args=[ticket.pk])
    assert (ticket.village, ticket.category, ticket.created_by) == (village, "voltage", official)
    hotline = client.post(reverse("ticket-create"), form | {"channel": "12345"})
    assert "12345热线工单须填写工单编号" in hotline.content.decode()
    other = client.post(reverse("ticket-create"), form | {"county": county("原平市").pk})
    assert other.status_code == 200 and Ticket.objects.count() == 1


# ---------------------------------------------------------------- the 12345 import


def test_the_template_reads_back(client: Client, official: User) -> None:
    answer = login(client, official).get(reverse("ticket-template"))
    assert answer.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    assert [c.value for c in sheet[1]] == HEADER.split(",")


def test_an_import_is_all_or_nothing_with_errors_by_row_and_column(
    client: Client, official: User
) -> None:
    login(client, official)
    file = csv_file(
        a_line(),
        a_line("2023110600002", 诉求类别="天气太冷"),
        a_line("2023110600001"),
        a_line("2023110600003", 涉及区县="原平市"),
        a_line("2023110600004", 来电时间="昨天"),
    )
    answer = client.post(reverse("ticket-import"), {"file": file})
    errors = [(e.row, e.column) for e in answer.context["result"].errors]
    assert errors == [(3, "诉求类别"), (4, "工单编号"), (5, "涉及区县"), (6, "来电时间")]
    assert "只能导入本县（市、区）的工单" in answer.content.decode()
    assert not Ticket.objects.exists()


def test_an_import_upserts_by_work_order_number(
    client: Client, official: User, municipal: User, tmp_path: Path, tender: list[TenderItem]
) -> None:
    call_command("import_ledger", str(xlsx(tmp_path, [row()])), stdout=io.StringIO())
    household = Household.objects.get()
    login(client, municipal)
    first = client.post(
        reverse("ticket-import"),
        {
            "file": csv_file(
                a_line(), a_line("2023110600002", 户编号=household.code, 诉求类别="燃气泄漏")
            )
        },
    )
    assert (first.context["result"].created, first.context["result"].errors) == (2, [])
    ticket = Ticket.objects.get(hotline_number="2023110600002")
    assert (ticket.household, ticket.category, ticket.channel) == (household, "gas_safety", "12345")
    assert ticket.close_due == at("2023-11-07 09:30")
    again = client.post(reverse("ticket-import"), {"file": csv_file(a_line())})
    assert (again.context["result"].unchanged, again.context["result"].created) == (1, 0)
    # Signed for: the content may change, the category no longer.
    signed = ticket_accept(ticket=Ticket.objects.get(hotline_number="2023110600001"), user=official)
    changed = client.post(reverse("ticket-import"), {"file": csv_file(a_line(诉求内容="仍然不热"))})
    assert changed.context["result"].updated == 1
    signed.refresh_from_db()
    assert signed.content == "仍然不热"
    refused = client.post(reverse("ticket-import"), {"file": csv_file(a_line(诉求类别="设备故障"))})
    assert [e.column for e in refused.context["result"].errors] == ["诉求类别"]
    signed.refresh_from_db()
    assert signed.category == "cold"


def test_an_import_reads_xlsx_and_refuses_other_files(
    client: Client, official: User, tmp_path: Path
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER.split(","))
    village = a_village()
    sheet.append(["2023110600009", dt.datetime(2023, 11, 6, 9, 30), "", "", "跳闸", "跳闸",
                  "忻府区", village.township.name, village.name, ""])  # fmt: skip
    path = tmp_path / "12345.xlsx"
    book.save(path)
    login(client, official)
    with open(path, "rb") as f:
        done = client.post(reverse("ticket-import"), {"file": f})
    assert done.context["result"].created == 1
    assert Ticket.objects.get().category == "voltage"
    wrong = client.post(
        reverse("ticket-import"), {"file": SimpleUploadedFile("a.csv", "甲,乙\n1,2".encode())}
    )
    assert "找不到表头" in wrong.content.decode()
    assert (
        login(client, User.objects.create(username="x", role="inspector"))
        .post(reverse("ticket-import"))
        .status_code
        == 403
    )


# ---------------------------------------------------------------- KPIs, dossier, county page


def test_kpis_and_the_api_are_scoped(client: Client, official: User, municipal: User) -> None:
    ticket = a_ticket(municipal, received="2023-11-06 09:00")
    ticket = ticket_accept(ticket=ticket, user=official, now=at("2023-11-06 10:00"))
    ticket_close(ticket=ticket, user=official, resolution="已修", now=at("2023-11-20 10:00"))
    a_ticket(municipal, where="原平市", received="2023-12-01 09:00")
    assert client.get(reverse("api-tickets"), {"year": 2023}).status_code == 401
    login(client, official)
    data = client.get(reverse("api-tickets"), {"year": 2023}).json()
    assert [(m["county"], m["month"], m["received"]) for m in data["months"]] == [
        ("忻府区", "2023-11", 1)
    ]
    month = data["months"][0]
    assert (month["on_time_acceptance"], month["on_time_closure"], month["return"]) == (
        100.0,
        0.0,
        0.0,
    )
    assert client.get(reverse("api-tickets"), {"year": "1999"}).status_code == 404
    assert client.get(reverse("ticket-kpis"), {"year": 2023}).status_code == 200
    assert client.get(reverse("ticket-kpis"), {"year": "²"}).status_code == 404
    login(client, municipal)
    assert len(client.get(reverse("api-tickets"), {"year": 2023}).json()["counties"]) == 2


def test_three_tickets_in_six_months_flag_the_household(
    client: Client, official: User, municipal: User, tmp_path: Path, tender: list[TenderItem]
) -> None:
    call_command("import_ledger", str(xlsx(tmp_path, [row()])), stdout=io.StringIO())
    household = Household.objects.get()
    from django.utils import timezone

    today = timezone.localtime()
    for days in (10, 40):
        a_ticket(
            municipal,
            household=household,
            received=f"{today - dt.timedelta(days=days):%Y-%m-%d %H:%M}",
        )
    login(client, official)
    dossier = client.get(reverse("household-detail", args=[household.pk])).content.decode()
    assert 'data-testid="household-tickets"' in dossier and "repeat-flag" not in dossier
    a_ticket(
        municipal, household=household, received=f"{today - dt.timedelta(days=100):%Y-%m-%d %H:%M}"
    )
    dossier = client.get(reverse("household-detail", args=[household.pk])).content.decode()
    assert "近6个月工单3件" in dossier
    county_page = client.get(reverse("county", args=[household.county_id])).content.decode()
    assert household.code in county_page and 'data-testid="county-repeat-households"' in county_page


def test_the_city_dashboard_shows_the_years_tickets(client: Client, municipal: User) -> None:
    a_ticket(municipal, received="2023-11-06 09:00")
    a_ticket(municipal, where="原平市", received="2023-11-07 09:00")
    page = login(client, municipal).get(reverse("dashboard"), {"year": 2023}).content.decode()
    assert 'data-testid="city-tickets"' in page
    assert "工单（2023年度）" in page and "原平市" in page
