from __future__ import annotations

from django.apps import AppConfig


class AcceptanceConfig(AppConfig):
    name = "acceptance"
    verbose_name = "项目验收"

    def ready(self) -> None:
        from retrofits.demo import register_demo_step

        # The demo city's visits come after its households' works.
        register_demo_step("acceptance.demo.acceptance_after_households", after_households=True)
