"""补差: a paid subsidy found larger on a later run is topped up by an entitlement of its own,
numbered, recomputed on every run until a batch takes it, paid once; what a batch is paying is
left as published; and a clawback is claimed of the kind's payments together, of the latest.

S-A's 煤改电 equipment subsidy is 35% of the tender price, capped at 7,000 元, the city paying 60%:
the 20,000 元 model gives 7,000 (4,200 city), the 3,600 元 model 1,260 (756 city)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from heating.models import County
from retrofits.models import Household, TenderItem
from retrofits.models.households import household_writer
from subsidies.exports import entitlement_rows
from subsidies.models import Batch, BatchLine, Clawback, Entitlement, Kind, Status
from subsidies.services import entitlements_mark_paid, subsidy_compute
from tests.test_subsidies import city, policies  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def equipment(model: TenderItem) -> None:
    with household_writer():  # the equipment corrected in the ledger
        Household.objects.filter(code="S-A").update(equipment=model)


def of_s_a() -> list[tuple[int, str, int, int, int]]:
    """S-A's equipment entitlements: (top-up, status, amount, city, county), in fen."""
    return [
        (e.top_up, e.status, e.amount_fen, e.city_fen, e.county_fen)
        for e in Entitlement.objects.filter(household__code="S-A", kind=Kind.EQUIPMENT).order_by(
            "top_up"
        )
    ]


def pay(top_up: int) -> None:
    paid = Entitlement.objects.get(household__code="S-A", kind=Kind.EQUIPMENT, top_up=top_up)
    assert entitlements_mark_paid(ids=[paid.pk], paid_on=dt.date(2024, 1, 10)) == 1


def test_a_paid_subsidy_found_larger_is_topped_up_once(
    city: dict[str, Household],  # noqa: F811
    tender: list[TenderItem],
) -> None:
    equipment(tender[1])
    subsidy_compute(year=2023)
    pay(0)  # 1,260 paid
    assert of_s_a() == [(0, Status.PAID, 126000, 75600, 50400)]

    # The 20,000 元 model after all: 7,000 due, 5,740 short, split as 7,000 is (0.6).
    equipment(tender[0])
    out = io.StringIO()
    call_command("subsidy_compute", "--year", "2023", stdout=out)
    assert of_s_a() == [
        (0, Status.PAID, 126000, 75600, 50400),
        (1, Status.UNPAID, 574000, 344400, 229600),
    ]
    assert "补差（已发放后重新核算高于已发金额）：本次新增或调整 1 笔，待发补差共 5,740.00 元" in (
        out.getvalue()
    )
    top_up = Entitlement.objects.get(household__code="S-A", kind=Kind.EQUIPMENT, top_up=1)
    assert top_up.label == "设备购置补贴（补差1）"
    again = subsidy_compute(year=2023)
    assert (again.top_ups, again.top_up_fen, again.clawbacks) == (0, 574000, 0)

    # Back to the cheaper model before it is paid: nothing is owed, the top-up goes.
    equipment(tender[1])
    assert subsidy_compute(year=2023).removed == 1
    assert of_s_a() == [(0, Status.PAID, 126000, 75600, 50400)]

    # Owed again and paid: then nothing more, on any run.
    equipment(tender[0])
    subsidy_compute(year=2023)
    pay(1)
    settled = subsidy_compute(year=2023)
    assert (settled.top_ups, settled.top_up_fen, settled.clawbacks) == (0, 0, 0)
    assert [e[:2] for e in of_s_a()] == [(0, Status.PAID), (1, Status.PAID)]
    assert (
        "S-A",
        "设备购置补贴（补差1）",
        Decimal("5740.00"),
        Decimal("3444.00"),
        Decimal("2296.00"),
    ) in list(entitlement_rows(2023))

    # The cheaper model once more: the two payments (7,000) exceed the 1,260 due by 5,740,
    # claimed back once, of the latest payment and split as it was.
    equipment(tender[1])
    assert subsidy_compute(year=2023).clawbacks == 1
    claw = Clawback.objects.get()
    assert (claw.entitlement.top_up, claw.paid_fen, claw.due_fen, claw.amount_fen) == (
        1, 700000, 126000, 574000,
    )  # fmt: skip
    assert (claw.city_fen, claw.county_fen) == (344400, 229600)
    assert subsidy_compute(year=2023).clawbacks == 0


def test_a_top_up_a_batch_is_paying_stays_as_published(
    city: dict[str, Household],  # noqa: F811
    tender: list[TenderItem],
) -> None:
    equipment(tender[1])
    subsidy_compute(year=2023)
    pay(0)
    equipment(tender[0])
    subsidy_compute(year=2023)
    top_up = Entitlement.objects.get(household__code="S-A", kind=Kind.EQUIPMENT, top_up=1)
    batch = Batch.objects.create(county=County.objects.get(pk=top_up.county_id), season=2023)
    BatchLine.objects.create(batch=batch, entitlement=top_up, amount_fen=top_up.amount_fen)
    # Published at 5,740: a run changes it no more, even were less owed now.
    equipment(tender[1])
    outcome = subsidy_compute(year=2023)
    assert (outcome.removed, outcome.top_ups, outcome.clawbacks) == (0, 0, 0)
    assert of_s_a()[1] == (1, Status.UNPAID, 574000, 344400, 229600)
