from __future__ import annotations

from django.apps import AppConfig


class AftercareConfig(AppConfig):
    """After the works (七(五)): complaint and fault tickets with their time limits, the checks
    they feed (先立后破, a stable heating season) and their monthly figures."""

    name = "aftercare"
    verbose_name = "运维与舆情"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from acceptance.rules import REMOVAL_CHECKS
        from acceptance.spot_checks import RISK_SOURCES
        from aftercare.selectors import relapsed_households, ticket_risks, unstable_seasons
        from retrofits.demo import register_demo_step
        from subsidies.services.compute import register_running_hold

        # 先立后破 asks for a season of stable running, not only an elapsed one.
        if unstable_seasons not in REMOVAL_CHECKS:
            REMOVAL_CHECKS.append(unstable_seasons)
        # A household's tickets weigh in the spot checks' and 回头看's draws.
        if ticket_risks not in RISK_SOURCES:
            RISK_SOURCES.append(ticket_risks)
        # A confirmed 散煤复烧 stops that season's running subsidy (a clawback if already paid).
        register_running_hold(relapsed_households)
        # The season's tickets, after the households and their acceptance.
        register_demo_step("aftercare.demo.tickets_after_households", after_households=True)
