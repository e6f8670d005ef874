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
        from aftercare.services import register_alert_listener
        from oversight.dispatch.conflicts import id_conflict_alarm
        from oversight.dispatch.tickets import ticket_alert
        from retrofits.demo import register_demo_step
        from retrofits.services.conflicts import register_conflict_alarm

        # Tickets escalated (督办) and stoves removed early reach the bureau's inbox.
        register_alert_listener(ticket_alert)
        # A county user past the day's budget of ID-number conflicts is the bureau's to look at.
        register_conflict_alarm(id_conflict_alarm)

        # The season's weekly rounds, after the households, their supply and their visits.
        register_demo_step(
            "oversight.dispatch.demo.dispatch_after_households", after_households=True
        )
