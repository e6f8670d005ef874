from __future__ import annotations

from energy_supply.models.imports import ImportJob, SupplyImport
from energy_supply.models.sources import (
    Fuel,
    FuelReserve,
    HeatSource,
    KeyProject,
    Milestone,
    ReserveNorm,
)
from energy_supply.models.supply import (
    AreaWork,
    GasConnection,
    GasContract,
    GasNetwork,
    GridUpgrade,
    season_label,
)

__all__ = [
    "AreaWork",
    "Fuel",
    "FuelReserve",
    "GasConnection",
    "GasContract",
    "GasNetwork",
    "GridUpgrade",
    "HeatSource",
    "ImportJob",
    "KeyProject",
    "Milestone",
    "ReserveNorm",
    "SupplyImport",
    "season_label",
]
