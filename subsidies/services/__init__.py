"""The subsidies' writers: policies, meter data, the computation and payments."""

from __future__ import annotations

from subsidies.services.compute import Computation, subsidy_compute
from subsidies.services.meters import (
    AccountImport,
    UseImport,
    meter_accounts_import,
    metered_use_import,
)
from subsidies.services.payments import entitlements_mark_paid
from subsidies.services.policies import PolicyImport, policy_import

__all__ = [
    "AccountImport",
    "Computation",
    "PolicyImport",
    "UseImport",
    "entitlements_mark_paid",
    "meter_accounts_import",
    "metered_use_import",
    "policy_import",
    "subsidy_compute",
]
