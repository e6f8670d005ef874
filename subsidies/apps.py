from __future__ import annotations

from django.apps import AppConfig


class SubsidiesConfig(AppConfig):
    name = "subsidies"
    verbose_name = "补贴与资金"

    def ready(self) -> None:
        from retrofits.demo import register_demo_step

        # After the acceptance step: only accepted households are entitled.
        register_demo_step("subsidies.demo.subsidies_after_households", after_households=True)
