"""Login, logout, password change."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone

from heating.models import User
from retrofits.models import Household, TenderItem
from tests.conftest import PASSWORD, login
from tests.ledger_files import row, xlsx

pytestmark = pytest.mark.django_db


def test_login_leads_to_the_users_dashboard(client: Client, official: User) -> None:
    response = client.post(reverse("login"), {"username": "xinfu", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")


def test_wrong_password_keeps_the_username_and_says_why(client: Client, official: User) -> None:
    response = client.post(reverse("login"), {"username": "xinfu", "password": "wrong"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "用户名或密码不正确" in page
    assert 'value="xinfu"' in page


def test_logout_needs_post_and_ends_the_session(client: Client, official: User) -> None:
    client.force_login(official)
    assert client.get(reverse("logout")).status_code == 405
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302


def test_inactive_user_cannot_log_in(client: Client, official: User) -> None:
    official.is_active = False
    official.save()
    response = client.post(reverse("login"), {"username": "xinfu", "password": PASSWORD})
    assert response.status_code == 200


def test_password_change(client: Client, official: User) -> None:
    client.force_login(official)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "Qing-Jie-2023!",
            "new_password2": "Qing-Jie-2023!",
        },
    )
    assert response.status_code == 302
    official.refresh_from_db()
    assert official.check_password("Qing-Jie-2023!")


def test_password_change_rejects_a_wrong_old_password(client: Client, official: User) -> None:
    client.force_login(official)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "nope",
            "new_password1": "Qing-Jie-2023!",
            "new_password2": "Qing-Jie-2023!",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["old_password"]


def test_a_username_is_locked_after_five_wrong_passwords(
    client: Client, official: User, municipal: User
) -> None:
    """Then not even the right password logs in, until the lock ends or an administrator lifts it."""
    for _ in range(5):
        client.post(reverse("login"), {"username": "xinfu", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "xinfu", "password": PASSWORD})
    assert response.status_code == 429
    page = response.content.decode()
    assert "账号已暂时锁定" in page and "请 15 分钟后再试" in page
    assert "_auth_user_id" not in client.session
    # Another account from the same browser is not locked with it.
    other = client.post(reverse("login"), {"username": municipal.username, "password": PASSWORD})
    assert other.status_code == 302
    client.post(reverse("logout"))

    call_command("axes_reset_username", "xinfu", stdout=io.StringIO())  # an administrator unlocks
    response = client.post(reverse("login"), {"username": "xinfu", "password": PASSWORD})
    assert response.status_code == 302


def test_a_success_clears_the_failures_before_it(client: Client, official: User) -> None:
    for _ in range(4):
        client.post(reverse("login"), {"username": "xinfu", "password": "wrong"})
    assert (
        client.post(reverse("login"), {"username": "xinfu", "password": PASSWORD}).status_code
        == 302
    )
    client.post(reverse("logout"))
    for _ in range(4):
        client.post(reverse("login"), {"username": "xinfu", "password": "wrong"})
    assert (
        client.post(reverse("login"), {"username": "xinfu", "password": PASSWORD}).status_code
        == 302
    )


@override_settings(SEARCHES_PER_MINUTE=3)
@pytest.mark.parametrize("page", ["household-list", "worklist"])
def test_searches_are_throttled_per_user(
    client: Client, official: User, inspector: User, page: str
) -> None:
    user = inspector if page == "worklist" else official
    client.force_login(user)
    for typed in ("张", "张三", "张三丰"):
        assert client.get(reverse(page), {"q": typed}).status_code == 200
    response = client.get(reverse(page), {"q": "张三丰x"})
    assert response.status_code == 429 and "搜索过于频繁" in response.content.decode()
    assert client.get(reverse(page)).status_code == 200  # the page itself, unsearched
    client.force_login(official if user is inspector else inspector)  # another user's own count
    assert client.get(reverse("household-list"), {"q": "张"}).status_code == 200


def test_a_session_ends_with_the_browser_and_after_a_working_day_idle(
    client: Client, official: User, settings: Any
) -> None:
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    assert settings.SESSION_COOKIE_AGE == 8 * 3600 and settings.SESSION_SAVE_EVERY_REQUEST
    response = client.post(reverse("login"), {"username": official.username, "password": PASSWORD})
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert not cookie["expires"] and not cookie["max-age"]  # a browser-session cookie
    first = client.session.get_expiry_date()
    assert dt.timedelta(hours=7, minutes=59) < first - timezone.now() <= dt.timedelta(hours=8)


def test_what_a_signed_in_user_sees_is_never_cached(
    client: Client, official: User, tmp_path: Path, tender: list[TenderItem]
) -> None:
    call_command("import_ledger", str(xlsx(tmp_path, [row()])), stdout=io.StringIO())
    household = Household.objects.get(code="XF-0001")
    login(client, official)
    for url in (
        reverse("household-list"),
        reverse("household-detail", args=[household.pk]),
        reverse("ledger-export"),
        reverse("dashboard"),
    ):
        assert client.get(url)["Cache-Control"] == "no-store", url
