from __future__ import annotations

from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig


class HeatingConfig(AppConfig):
    default = True  # not the lockout's below
    name = "heating"
    verbose_name = "清洁取暖计划"


class LoginLockoutConfig(AxesAppConfig):
    """django-axes (login throttling and lockout), named in Chinese where the admin lists it:
    an administrator unlocks a user there."""

    verbose_name = "登录锁定"
