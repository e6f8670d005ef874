from __future__ import annotations

from retrofits.models.conflicts import IdConflict, IdConflictQuerySet
from retrofits.models.households import (
    Household,
    HouseholdQuerySet,
    LedgerImport,
    TenderItem,
)
from retrofits.models.progress import (
    DailyProgress,
    ProgressCount,
    RollupDue,
    RollupRun,
    TrendPoint,
)

__all__ = [
    "DailyProgress",
    "Household",
    "HouseholdQuerySet",
    "IdConflict",
    "IdConflictQuerySet",
    "LedgerImport",
    "ProgressCount",
    "RollupDue",
    "RollupRun",
    "TenderItem",
    "TrendPoint",
]
