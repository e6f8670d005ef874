from __future__ import annotations

from django.apps import AppConfig


class DispatchConfig(AppConfig):
    """Dispatch rounds, county reports and their sign-off, the upward report and alerts: on the
    top floor beside the dashboards, reading the domain apps' figures, imported by none of them."""

    name = "heating.dispatch"
    label = "dispatch"
    verbose_name = "调度报送"
    default_auto_field = "django.db.models.BigAutoField"
