from __future__ import annotations

from django.apps import AppConfig


class HeatingConfig(AppConfig):
    name = "heating"
    verbose_name = "清洁取暖计划"
