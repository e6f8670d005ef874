"""Access is decided once, in heating/access.py: who may act (`scope`, `may`), and its inverse, who
must be told or must sign (`holders`). Alert recipients, approvers, the staff flag, the user admin
and the importer all ask it, so a change to the policy alone changes each of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db.models import ProtectedError
from django.test import Client

from heating import access
from heating.access import POLICY, Action, Reach
from heating.models import Role, User
from heating.services import user_create
from retrofits.ledger.jobs import ledger_import_file
from retrofits.models import Household, TenderItem
from tests.conftest import PASSWORD, county, login
from tests.ledger_files import IDS, row, xlsx, yuanping_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def approver(db: None) -> User:
    return user_create(
        username="xf-sh", password=PASSWORD, role=Role.APPROVER, county=county("忻府区")
    )


def names(users: object) -> set[str]:
    return {u.username for u in users}  # type: ignore[attr-defined]


def test_holders_of_a_county_are_its_own_people_and_the_city_wide_ones(
    municipal: User,
    official: User,
    other_official: User,
    approver: User,
    inspector: User,
    administrator: User,
) -> None:
    xinfu = county("忻府区").pk
    assert names(access.holders(Action.SIGN, county=xinfu)) == {"xf-sh"}
    assert names(access.holders(Action.REPORT, Action.SIGN, county=xinfu)) == {"xinfu", "xf-sh"}
    assert names(access.holders(Action.INSPECT, county=xinfu)) == {"yanshou"}
    assert names(access.holders(Action.INSPECT, county=county("原平市").pk)) == set()
    # The bureau holds supply everywhere; administrators hold no duty.
    assert names(access.holders(Action.SUPPLY, county=xinfu)) == {"xinfu", "shi"}
    assert names(access.holders(Action.DISPATCH)) == {"shi"}
    assert names(access.holders(Action.SUPPLY)) == {"shi"}


def test_holders_leave_out_deactivated_users(official: User) -> None:
    official.is_active = False
    official.save()
    assert names(access.holders(Action.REPORT, county=county("忻府区").pk)) == set()


def test_holders_follow_the_policy(
    monkeypatch: pytest.MonkeyPatch, approver: User, inspector: User
) -> None:
    """Were inspectors to sign reports of their counties, they would be the approvers asked."""
    monkeypatch.setitem(POLICY[Role.INSPECTOR], Action.SIGN, Reach.ASSIGNED)
    assert names(access.holders(Action.SIGN, county=county("定襄县").pk)) == {"yanshou"}
    assert names(access.holders(Action.SIGN, county=county("忻府区").pk)) == {"yanshou", "xf-sh"}


def test_the_staff_flag_follows_the_policy(
    monkeypatch: pytest.MonkeyPatch, municipal: User, official: User, inspector: User
) -> None:
    assert (municipal.is_staff, official.is_staff, inspector.is_staff) == (True, False, False)
    monkeypatch.setitem(POLICY[Role.INSPECTOR], Action.MANAGE_PLAN, Reach.ALL)
    inspector.save()
    assert User.objects.get(pk=inspector.pk).is_staff


def test_the_user_admin_follows_the_policy(
    monkeypatch: pytest.MonkeyPatch, client: Client, municipal: User, administrator: User
) -> None:
    login(client, municipal)
    assert client.get("/admin/heating/user/").status_code == 403
    monkeypatch.setitem(POLICY[Role.MUNICIPAL], Action.ACCOUNTS, Reach.ALL)
    assert client.get("/admin/heating/user/").status_code == 200


def test_users_are_deactivated_in_the_admin_not_deleted(
    client: Client, administrator: User, official: User
) -> None:
    login(client, administrator)
    page = client.get("/admin/heating/user/").content.decode()
    assert "停用所选用户" in page and "delete_selected" not in page
    assert client.get(f"/admin/heating/user/{official.pk}/delete/").status_code == 403
    client.post(
        "/admin/heating/user/",
        {"action": "deactivate", "_selected_action": [official.pk]},
    )
    official.refresh_from_db()
    assert not official.is_active


def test_a_user_who_wrote_households_cannot_be_deleted(
    tmp_path: Path, official: User, tender: list[TenderItem]
) -> None:
    """Deleting would rewrite the households' 创建人/更新人 behind the writers' back."""
    data = xlsx(tmp_path, [row()]).read_bytes()
    _, outcome = ledger_import_file(data=data, name="a.xlsx", user=official)
    assert outcome is not None and outcome.created == 1
    with pytest.raises(ProtectedError):
        official.delete()
    assert Household.objects.get(code="XF-0001").created_by == official


def test_an_import_right_over_two_counties_writes_only_those(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, inspector: User, tender: list[TenderItem]
) -> None:
    """The importer receives the user's whole import scope and refuses a row outside it: with a
    right over 忻府区 and 定襄县, a 原平市 row is an error, and nothing is written."""
    monkeypatch.setitem(POLICY[Role.INSPECTOR], Action.IMPORT, Reach.ASSIGNED)
    dingxiang = row(
        户编号="DX-1", 身份证号=IDS[1], county="定襄县", township="晋昌镇", village="南关村"
    )
    mixed = xlsx(tmp_path, [row(), dingxiang, yuanping_row()], name="mixed.xlsx")
    _, outcome = ledger_import_file(data=mixed.read_bytes(), name="mixed.xlsx", user=inspector)
    assert outcome is not None
    assert [(e.row, e.column) for e in outcome.errors] == [(4, "县（市、区）")]
    assert "忻府区、定襄县" in outcome.errors[0].message
    assert not Household.objects.exists()

    ours = xlsx(tmp_path, [row(), dingxiang], name="ours.xlsx")
    _, outcome = ledger_import_file(data=ours.read_bytes(), name="ours.xlsx", user=inspector)
    assert outcome is not None and outcome.created == 2


def test_an_administrator_adds_an_inspector_in_the_admin(
    client: Client, administrator: User
) -> None:
    """The add-user page asks for a password at once, then the role and counties."""
    from tests.conftest import county

    login(client, administrator)
    response = client.post(
        "/admin/heating/user/add/",
        {
            "username": "new-ys", "password1": "x-Long-pass-17", "password2": "x-Long-pass-17",
            "role": Role.INSPECTOR, "organisation": "监理公司", "county": "",
            "counties": [county("忻府区").pk],
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    added = User.objects.get(username="new-ys")
    assert added.has_usable_password() and added.check_password("x-Long-pass-17")
    assert added.assigned_county_ids == {county("忻府区").pk}
    assert not added.is_staff and not added.is_superuser
