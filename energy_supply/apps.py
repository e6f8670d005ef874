from __future__ import annotations

from django.apps import AppConfig


class EnergySupplyConfig(AppConfig):
    name = "energy_supply"
    verbose_name = "能源保障"

    def ready(self) -> None:
        from energy_supply import rules
        from retrofits.demo import register_demo_step
        from retrofits.rules import register_plan_rule

        # Every writer of households runs these, after its write, under the counties' locks.
        register_plan_rule("以气定改", rules.gas_within_contracts)
        register_plan_rule("电网改造前置", rules.grid_before_electric)
        register_plan_rule("以供定改（燃气管网）", rules.network_before_gas)
        # The demo city's supply comes before its households, as the plan wants it.
        register_demo_step("energy_supply.demo.supply_before_households", after_households=False)
        register_demo_step("energy_supply.demo.supply_after_households", after_households=True)
