"""Marking entitlements paid. Until the batches and the bank's return (issue 22, item 5) are
built, this is the one way a payment is recorded; the batch reconciliation will call it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction

from subsidies.models import Entitlement, Status


@transaction.atomic
def entitlements_mark_paid(*, ids: Iterable[int], paid_on: dt.date) -> int:
    """Mark unpaid entitlements paid on `paid_on`; an entitlement already paid stays as it was
    (paid once: the database's unique key keeps a second one from existing at all)."""
    wanted = list(ids)
    done = 0
    for at in range(0, len(wanted), 5000):  # well under SQLite's bound on parameters
        done += Entitlement.objects.filter(
            pk__in=wanted[at : at + 5000], status=Status.UNPAID
        ).update(status=Status.PAID, paid_on=paid_on)
    return done
