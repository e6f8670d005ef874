from __future__ import annotations

from django.apps import AppConfig


class EnergySupplyConfig(AppConfig):
    name = "energy_supply"
    verbose_name = "能源保障"
