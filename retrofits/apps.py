from __future__ import annotations

from django.apps import AppConfig


class RetrofitsConfig(AppConfig):
    name = "retrofits"
    verbose_name = "改造台账"
