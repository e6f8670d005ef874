from __future__ import annotations

from django.apps import AppConfig


class DispatchConfig(AppConfig):
    """Dispatch rounds, county reports and their sign-off, the upward report and alerts: on the
    top floor beside the dashboards, reading the domain apps' figures, imported by none of them."""

    name = "oversight.dispatch"
    label = "dispatch"
    verbose_name = "调度报送"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from oversight.dispatch import demo
        from retrofits.demo import register_demo_step

        # The season's weekly rounds, after the households, their supply and their visits.
        register_demo_step(demo.dispatch_after_households, after_households=True)
