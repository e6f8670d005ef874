from __future__ import annotations

from typing import Any

from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig
from django.contrib import admin
from django.contrib.admin.apps import SimpleAdminConfig
from django.contrib.admin.checks import check_admin_app, check_dependencies
from django.core import checks


class HeatingConfig(AppConfig):
    default = True  # not the lockout's below
    name = "heating"
    verbose_name = "清洁取暖计划"


class LoginLockoutConfig(AxesAppConfig):
    """django-axes (login throttling and lockout), named in Chinese where the admin lists it:
    an administrator unlocks a user there."""

    verbose_name = "登录锁定"


class AdminLoadedWithTheURLs(SimpleAdminConfig):
    """The admin, its apps' admin modules loaded with the URLs (heating/urls.py) rather than by
    every process at start-up: a command that serves no page, an import's, does not load
    django-import-export, openpyxl and numpy with them (a fifth of a second). Its system checks
    load them first, so that every ModelAdmin is checked as before."""

    def ready(self) -> None:
        checks.register(check_dependencies, checks.Tags.admin)
        checks.register(_check_every_admin, checks.Tags.admin)


def _check_every_admin(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    admin.autodiscover()
    return check_admin_app(app_configs, **kwargs)
