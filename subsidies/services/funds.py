"""Writing the funds' records: allocations (资金下达) and other spending, kept by the bureau in
the admin."""

from __future__ import annotations

from django.db import transaction

from heating.models import User
from subsidies.models import Allocation, Spending


@transaction.atomic
def fund_record_save(*, record: Allocation | Spending, user: User | None) -> None:
    record.full_clean()
    if user is not None:
        record._history_user = user  # type: ignore[union-attr]
    record.save()
