"""Login, logout, password change."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from heating.models import User
from tests.conftest import PASSWORD

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
