from __future__ import annotations

from retrofits.models.households import (
    DONE_STAGES,
    TENDERED_PATHS,
    Household,
    HouseholdQuerySet,
    LedgerImport,
    Stage,
    TenderItem,
)
from retrofits.models.progress import DailyProgress, ProgressCount, RollupRun

__all__ = [
    "DONE_STAGES",
    "TENDERED_PATHS",
    "DailyProgress",
    "Household",
    "HouseholdQuerySet",
    "LedgerImport",
    "ProgressCount",
    "RollupRun",
    "Stage",
    "TenderItem",
]
