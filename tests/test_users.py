"""Roles, the county binding and the demo users."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings

from heating.models import County, Role, Target, User
from heating.services import user_create
from tests.conftest import county

pytestmark = pytest.mark.django_db


def test_a_county_official_needs_a_county() -> None:
    with pytest.raises(ValidationError, match="县级用户和县级审核人必须选择所属县"):
        user_create(username="nobody", password="x-Long-pass-1", role=Role.COUNTY)


def test_other_roles_are_not_bound_to_one_county(municipal: User) -> None:
    municipal.county = county("忻府区")
    with pytest.raises(ValidationError, match="其他角色不设所属县"):
        municipal.full_clean()


def test_staff_flag_follows_the_role(municipal: User, official: User, administrator: User) -> None:
    assert municipal.is_staff and not municipal.is_superuser
    assert administrator.is_staff and administrator.is_superuser
    assert not official.is_staff


def test_querysets_scope_every_role(
    municipal: User, official: User, inspector: User, administrator: User
) -> None:
    assert County.objects.visible_to(municipal).count() == 16
    assert County.objects.visible_to(administrator).count() == 16
    assert list(County.objects.visible_to(official)) == [county("忻府区")]
    assert set(County.objects.visible_to(inspector)) == {county("忻府区"), county("定襄县")}
    assert Target.objects.visible_to(official).for_year(2023).total() == 4449


def test_inactive_users_see_nothing(official: User) -> None:
    official.is_active = False
    assert not County.objects.visible_to(official).exists()


def test_createsuperuser_makes_an_administrator() -> None:
    user = User.objects.create_superuser("boss", "boss@example.com", "pw")
    assert user.role == Role.ADMIN
    assert County.objects.visible_to(user).count() == 16


def test_demo_users_are_one_per_role(settings: Settings) -> None:
    settings.DEBUG = True
    call_command("create_demo_users", stdout=io.StringIO())
    call_command("create_demo_users", stdout=io.StringIO())  # again: nothing new
    roles = dict(User.objects.values_list("username", "role"))
    assert roles == {
        "shi": Role.MUNICIPAL,
        "xinfu": Role.COUNTY,
        "yuanping": Role.COUNTY,
        "xinfu-shenhe": Role.APPROVER,
        "yanshou": Role.INSPECTOR,
        "admin": Role.ADMIN,
    }
    assert User.objects.get(username="yanshou").counties.count() == 2
    assert (
        User.objects.get(username="xinfu-shenhe").county
        == User.objects.get(username="xinfu").county
    )


def test_demo_users_are_never_made_in_production(settings: Settings) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match="生产环境"):
        call_command("create_demo_users", stdout=io.StringIO())
    assert not User.objects.exists()


def test_an_account_nobody_logs_in_with_acts_all_the_same() -> None:
    """The demo's accounts: no usable password, active, so that the access policy lets them
    act; made again, the one there is returned as it is."""
    user = user_create(
        username="demo-xian-01", password=None, role=Role.COUNTY, county=county("忻府区"),
        exist_ok=True,
    )  # fmt: skip
    assert user.is_active and not user.has_usable_password()
    assert County.objects.visible_to(user).get() == county("忻府区")
    again = user_create(username="demo-xian-01", password=None, role=Role.MUNICIPAL, exist_ok=True)
    assert (again.pk, again.role) == (user.pk, Role.COUNTY)
    with pytest.raises(ValidationError, match="已存在"):
        user_create(username="demo-xian-01", password="x-Long-pass-1", role=Role.MUNICIPAL)
