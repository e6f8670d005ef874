from __future__ import annotations

from retrofits.models.households import (
    Household,
    HouseholdQuerySet,
    LedgerImport,
    TenderItem,
)
from retrofits.models.progress import DailyProgress, ProgressCount, RollupRun

__all__ = [
    "DailyProgress",
    "Household",
    "HouseholdQuerySet",
    "LedgerImport",
    "ProgressCount",
    "RollupRun",
    "TenderItem",
]
