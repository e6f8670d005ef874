"""Subsidies (补贴与资金): the policies (补贴标准), the households' meter accounts and metered use,
and what each household is entitled to (补贴核算) with the clawbacks of what was paid and no longer
holds. Money the households receive is kept in whole fen (0.01 元) so that the set-based computation
is exact integer arithmetic on every database; it is shown in 元 as Decimal."""

from __future__ import annotations

from subsidies.models.accounts import BankAccount, BankAccountQuerySet
from subsidies.models.batches import Batch, BatchLine, BatchQuerySet
from subsidies.models.choices import (
    FEN,
    METER_UNITS,
    METHODS,
    FundSource,
    Kind,
    MeterKind,
    Method,
    Status,
    yuan,
)
from subsidies.models.entitlements import (
    Clawback,
    ClawbackQuerySet,
    Entitlement,
    EntitlementQuerySet,
)
from subsidies.models.funds import Allocation, AllocationQuerySet, Spending, SpendingQuerySet
from subsidies.models.meters import MeterAccount, MeterAccountQuerySet, MeterReading
from subsidies.models.policies import Policy, PolicyQuerySet

__all__ = [
    "FEN",
    "METER_UNITS",
    "METHODS",
    "Allocation",
    "AllocationQuerySet",
    "BankAccount",
    "BankAccountQuerySet",
    "Batch",
    "BatchLine",
    "BatchQuerySet",
    "Clawback",
    "ClawbackQuerySet",
    "Entitlement",
    "EntitlementQuerySet",
    "FundSource",
    "Kind",
    "MeterAccount",
    "MeterAccountQuerySet",
    "MeterKind",
    "MeterReading",
    "Method",
    "Policy",
    "PolicyQuerySet",
    "Spending",
    "SpendingQuerySet",
    "Status",
    "yuan",
]
