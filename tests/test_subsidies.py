"""subsidy_compute against the template's formula (docs/ledger-template.md, 补贴标准), worked out
by hand here for a handful of households, one branch of the formula each, to the fen; reruns,
clawbacks, locked policies and the export."""

from __future__ import annotations

import datetime as dt
import io
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from heating.models import HeatingPath, PlanYear, User, Village
from retrofits.choices import Stage
from retrofits.models import Household, TenderItem
from retrofits.models.households import household_writer
from subsidies.models import (
    Clawback,
    Entitlement,
    Kind,
    MeterAccount,
    MeterKind,
    MeterReading,
    Method,
    Policy,
    Status,
)
from subsidies.services import entitlements_mark_paid, subsidy_compute
from tests.conftest import county, login

pytestmark = pytest.mark.django_db

D = Decimal


def fen(value: Decimal) -> Decimal:
    """What a person does by hand: round half up to the fen."""
    return value.quantize(D("0.01"), rounding=ROUND_HALF_UP)


def policy(**values: Any) -> Policy:
    values.setdefault("plan_year_id", 2023)
    return Policy.objects.create(**values)


@pytest.fixture
def policies() -> dict[str, Policy]:
    return {
        "electric_equipment": policy(
            path=HeatingPath.ELECTRIC, kind=Kind.EQUIPMENT, method=Method.RATIO,
            rate=D("0.35"), cap=D(7000), low_income_bonus=D(500), city_share=D("0.6"),
        ),
        "gas_equipment": policy(
            path=HeatingPath.GAS, kind=Kind.EQUIPMENT, method=Method.FIXED,
            amount=D(3000), cap=D(2500), city_share=D("0.5"),
        ),
        # 定襄县's own 煤改电 equipment subsidy replaces the city's there.
        "dingxiang_equipment": policy(
            county=county("定襄县"), path=HeatingPath.ELECTRIC, kind=Kind.EQUIPMENT,
            method=Method.FIXED, amount=D(4000), cap=D(5000), low_income_bonus=D(300),
            city_share=D("0.3333"),
        ),
        "electric_running": policy(
            path=HeatingPath.ELECTRIC, kind=Kind.RUNNING, method=Method.METERED, rate=D("0.2"),
            free_use=D(1000), cap=D(1200), low_income_bonus=D(200), city_share=D("0.6"),
        ),
        "gas_running": policy(
            path=HeatingPath.GAS, kind=Kind.RUNNING, method=Method.METERED, rate=D("1.1"),
            cap=D(1000), city_share=D("0.5"),
        ),
    }  # fmt: skip


_serial = iter(range(1, 10_000))


def household(
    code: str,
    path: str,
    *,
    equipment: TenderItem | None = None,
    low: bool = False,
    where: str = "忻府区",
    stage: str = Stage.ACCEPTED,
    year: int = 2023,
) -> Household:
    village = Village.objects.filter(township__county=county(where)).select_related("township")[0]
    with household_writer():  # a shortcut for the works and the acceptance visit
        return Household.objects.create(
            code=code, county=county(where), township=village.township, village=village,
            plan_year_id=year, head_name="测试", id_number=f"14090219800101{next(_serial):04d}",
            area="rural", path=path, equipment=equipment, stage=stage, low_income=low,
            completed_on=dt.date(2023, 9, 1) if stage in (Stage.COMPLETED, Stage.ACCEPTED) else None,
            accepted_on=dt.date(2023, 10, 20) if stage == Stage.ACCEPTED else None,
        )  # fmt: skip


def use(h: Household, kind: str, *periods: tuple[str, str, str]) -> None:
    account = MeterAccount.objects.create(household=h, kind=kind, number=f"M-{h.code}")
    for start, end, amount in periods:
        MeterReading.objects.create(
            account=account,
            start_date=dt.date.fromisoformat(start),
            end_date=dt.date.fromisoformat(end),
            use=D(amount),
        )


@pytest.fixture
def city(tender: list[TenderItem], policies: dict[str, Policy]) -> dict[str, Household]:
    krs, _, bg = tender  # KRS-8P 20,000 元, XR-3000 3,600 元, BG-20 5,600 元
    odd = TenderItem.objects.create(
        category="蓄热式电暖器", path="electric", model="ODD-1", vendor="丁公司",
        rated_power_kw=2, unit_price=D("3333.33"),
    )  # fmt: skip
    h = {
        "ratio": household("S-A", HeatingPath.ELECTRIC, equipment=krs),
        "ratio_low": household("S-B", HeatingPath.ELECTRIC, equipment=odd, low=True),
        "capped_low": household("S-C", HeatingPath.ELECTRIC, equipment=krs, low=True),
        "gas": household("S-D", HeatingPath.GAS, equipment=bg),
        "gas_unmetered": household("S-I", HeatingPath.GAS, equipment=bg),
        "override": household("S-E", HeatingPath.ELECTRIC, equipment=krs, low=True, where="定襄县"),
        "not_accepted": household("S-F", HeatingPath.ELECTRIC, equipment=krs, stage=Stage.COMPLETED),
        "no_policy": household("S-G", HeatingPath.DISTRICT),
    }  # fmt: skip
    # The season is 2023-11-01 to 2024-03-31: a row counts when its 截止日期 falls inside it.
    use(
        h["ratio"], MeterKind.ELECTRIC,
        ("2023-10-01", "2023-10-31", "900"),  # ends before the season: not counted
        ("2023-10-15", "2023-11-15", "1500.25"),
        ("2023-11-16", "2024-03-31", "2500.30"),
        ("2024-04-01", "2024-04-30", "700"),  # after it
    )  # fmt: skip
    use(h["ratio_low"], MeterKind.ELECTRIC, ("2023-11-01", "2024-03-31", "800"))  # under 起补用量
    use(h["capped_low"], MeterKind.ELECTRIC, ("2023-11-01", "2024-03-31", "10000"))
    use(h["gas"], MeterKind.GAS, ("2023-11-01", "2024-03-31", "123.45"))
    use(h["override"], MeterKind.ELECTRIC, ("2023-12-01", "2024-01-31", "1500.5"))
    use(h["not_accepted"], MeterKind.ELECTRIC, ("2023-11-01", "2024-03-31", "5000"))
    return h


def by_hand() -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """(户编号, kind) -> (amount, city's part), each step of the template done in Decimal."""
    expected: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}

    def due(code: str, kind: str, amount: Decimal, share: str) -> None:
        expected[(code, kind)] = (amount, fen(amount * D(share)))

    eq, run = Kind.EQUIPMENT.value, Kind.RUNNING.value
    # 按中标价比例: 20,000 × 0.35 = 7,000, at the cap of 7,000.
    due("S-A", eq, min(fen(D(20000) * D("0.35")), D(7000)), "0.6")
    # 运行补贴: (1,500.25 + 2,500.30 − 1,000) × 0.2 = 600.11; the city's 0.6 → 360.066 → 360.07.
    due("S-A", run, min(fen((D("1500.25") + D("2500.30") - 1000) * D("0.2")), D(1200)), "0.6")
    # 3,333.33 × 0.35 = 1,166.6655 → 1,166.67 (half up), + 500 for a low-income household.
    due("S-B", eq, min(fen(D("3333.33") * D("0.35")), D(7000)) + 500, "0.6")
    # Its 800 kWh are under the 1,000 起补用量: base 0, so no top-up and no running subsidy.
    # (10,000 − 1,000) × 0.2 = 1,800, capped at 1,200, then + 200 after the cap.
    due("S-C", eq, D(7000) + 500, "0.6")
    due("S-C", run, min(fen(D(9000) * D("0.2")), D(1200)) + 200, "0.6")
    # 定额 3,000 capped at 2,500; 123.45 m³ × 1.1 = 135.795 → 135.80.
    due("S-D", eq, min(D(3000), D(2500)), "0.5")
    due("S-D", run, fen(D("123.45") * D("1.1")), "0.5")
    # No gas metered in the season: the equipment subsidy only.
    due("S-I", eq, D(2500), "0.5")
    # 定襄县's own: 定额 4,000 under its cap of 5,000, + its 300; the city pays 0.3333 of it.
    due("S-E", eq, min(D(4000), D(5000)) + 300, "0.3333")
    # Its running subsidy is the city's default: (1,500.5 − 1,000) × 0.2 = 100.10, + 200.
    due("S-E", run, fen((D("1500.5") - 1000) * D("0.2")) + 200, "0.6")
    # S-F is not accepted yet, S-G's path (集中供热) has no policy: nothing for either.
    return expected


def computed() -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    return {
        (e.household.code, e.kind): (e.amount, e.city_amount)
        for e in Entitlement.objects.select_related("household")
    }


def test_the_command_agrees_with_the_formula_done_by_hand(city: dict[str, Household]) -> None:
    out = io.StringIO()
    call_command("subsidy_compute", "--year", "2023", stdout=out)
    assert computed() == by_hand()
    assert "采暖季 2023-11-01至2024-03-31（默认）" in out.getvalue()
    for e in Entitlement.objects.all():
        assert e.amount == e.city_amount + e.county_amount
        assert e.season == 2023
    running = Entitlement.objects.get(household=city["ratio"], kind=Kind.RUNNING)
    assert running.use == D("4000.55")
    assert running.policy.pk == Policy.objects.get(path="electric", kind="running").pk
    # The hand computation's figures, spelled out once so that a wrong formula on both sides
    # still fails: S-B's 1,666.67 splits 1,000.00 / 666.67; S-E's 4,300 1,433.19 / 2,866.81.
    b = Entitlement.objects.get(household__code="S-B", kind=Kind.EQUIPMENT)
    assert (b.amount, b.city_amount, b.county_amount) == (D("1666.67"), D("1000.00"), D("666.67"))
    e = Entitlement.objects.get(household__code="S-E", kind=Kind.EQUIPMENT)
    assert (e.amount, e.city_amount, e.county_amount) == (D("4300.00"), D("1433.19"), D("2866.81"))
    a = Entitlement.objects.get(household__code="S-A", kind=Kind.RUNNING)
    assert (a.amount, a.city_amount, a.county_amount) == (D("600.11"), D("360.07"), D("240.04"))


def test_a_second_run_changes_nothing(city: dict[str, Household]) -> None:
    first = subsidy_compute(year=2023)
    assert first.created == len(by_hand())
    again = subsidy_compute(year=2023)
    assert (again.created, again.updated, again.removed, again.clawbacks) == (0, 0, 0, 0)
    assert again.unchanged == len(by_hand())


def test_unpaid_amounts_follow_a_changed_policy(
    city: dict[str, Household], policies: dict[str, Policy]
) -> None:
    subsidy_compute(year=2023)
    gas = policies["gas_equipment"]
    gas.cap = D(2800)
    gas.save()
    outcome = subsidy_compute(year=2023)
    assert outcome.updated == 2  # S-D and S-I
    assert Entitlement.objects.get(household__code="S-D", kind=Kind.EQUIPMENT).amount == D(2800)


def test_a_paid_subsidy_that_no_longer_holds_is_clawed_back_once(
    city: dict[str, Household], tender: list[TenderItem]
) -> None:
    subsidy_compute(year=2023)
    paid = Entitlement.objects.get(household__code="S-A", kind=Kind.EQUIPMENT)
    assert entitlements_mark_paid(ids=[paid.pk], paid_on=dt.date(2024, 1, 10)) == 1
    with household_writer():  # the equipment corrected in the ledger: the 3,600 元 model
        Household.objects.filter(code="S-A").update(equipment=tender[1])
    outcome = subsidy_compute(year=2023)
    assert outcome.clawbacks == 1
    claw = Clawback.objects.get()
    # Paid 7,000; due now 3,600 × 0.35 = 1,260; back 5,740, split as paid (4,200 / 2,800 → 0.6).
    assert (claw.paid_fen, claw.due_fen, claw.amount_fen) == (700000, 126000, 574000)
    assert (claw.city_fen, claw.county_fen) == (344400, 229600)
    paid.refresh_from_db()
    assert paid.amount == D(7000) and paid.status == Status.PAID  # what was paid stays
    assert subsidy_compute(year=2023).clawbacks == 0  # claimed once, not on every run
    # Acceptance revoked: the rest of the 7,000 is claimed back too.
    with household_writer():
        Household.objects.filter(code="S-A").update(stage=Stage.COMPLETED, accepted_on=None)
    subsidy_compute(year=2023)
    assert sum(c.amount_fen for c in Clawback.objects.all()) == 700000
    # Its unpaid running subsidy simply goes.
    assert not Entitlement.objects.filter(household__code="S-A", kind=Kind.RUNNING).exists()


def test_a_household_is_paid_each_kind_once_a_season(city: dict[str, Household]) -> None:
    subsidy_compute(year=2023)
    first = Entitlement.objects.get(household__code="S-A", kind=Kind.EQUIPMENT)
    entitlements_mark_paid(ids=[first.pk], paid_on=dt.date(2024, 1, 10))
    with pytest.raises(IntegrityError), transaction.atomic():
        Entitlement.objects.create(
            household=first.household, county=first.county, kind=first.kind, season=2023,
            policy=first.policy, amount_fen=100, city_fen=60, county_fen=40,
            computed_at=first.computed_at,
        )  # fmt: skip
    assert entitlements_mark_paid(ids=[first.pk], paid_on=dt.date(2024, 2, 1)) == 0


def test_a_policy_used_by_a_paid_subsidy_never_changes(
    city: dict[str, Household], policies: dict[str, Policy]
) -> None:
    subsidy_compute(year=2023)
    paid = Entitlement.objects.get(household__code="S-A", kind=Kind.EQUIPMENT)
    entitlements_mark_paid(ids=[paid.pk], paid_on=dt.date(2024, 1, 10))
    rule = policies["electric_equipment"]
    rule.rate = D("0.4")
    with pytest.raises(ValidationError, match="已用于已发放的补贴"):
        rule.save()
    with pytest.raises(ValidationError, match="不能删除"):
        rule.delete()
    # And past the model, the database itself.
    with pytest.raises(DatabaseError, match="已用于已发放的补贴"), transaction.atomic():
        Policy.objects.filter(pk=rule.pk).update(cap=D(9000))
    # Unpaid ones' policies still change.
    gas = policies["gas_equipment"]
    gas.cap = D(2600)
    gas.save()


def test_the_season_is_the_bureaus_when_set() -> None:
    year = PlanYear.objects.get(year=2023)
    assert year.heating_season().label == "2023-11-01至2024-03-31（默认）"
    year.season_start, year.season_end = dt.date(2023, 11, 15), dt.date(2024, 3, 15)
    season = year.heating_season()
    assert not season.default and dt.date(2023, 11, 14) not in season
    assert dt.date(2024, 3, 15) in season


def test_the_export_has_one_row_per_household_and_kind(
    city: dict[str, Household], tmp_path: Path
) -> None:
    subsidy_compute(year=2023)
    out = tmp_path / "subsidies.xlsx"
    call_command(
        "subsidy_export", "--year", "2023", "--county", "定襄县", "--out", str(out),
        stdout=io.StringIO(),
    )  # fmt: skip
    rows = list(load_workbook(out).worksheets[0].iter_rows(values_only=True))
    assert rows[0] == ("户编号", "补贴项目", "补贴金额（元）", "其中市级", "其中县级")
    assert rows[1:] == [
        ("S-E", "设备购置补贴", 4300, 1433.19, 2866.81),
        ("S-E", "运行补贴", 300.1, 180.06, 120.04),
    ]


def test_the_dossier_shows_the_households_subsidies(
    client: Client, city: dict[str, Household], official: User
) -> None:
    subsidy_compute(year=2023)
    page = login(client, official).get(reverse("household-detail", args=[city["ratio"].pk]))
    text = page.content.decode()
    assert "补贴与发放" in text
    assert "7,000.00" in text and "600.11" in text


def test_the_policies_page_shows_a_county_its_own_and_the_citys(
    client: Client, policies: dict[str, Policy], official: User, municipal: User
) -> None:
    page = login(client, official).get(reverse("subsidy-policies")).content.decode()
    assert "全市默认" in page and "定襄县" not in page
    page = login(client, municipal).get(reverse("subsidy-policies")).content.decode()
    assert "定襄县" in page


def test_a_confirmed_coal_relapse_withholds_the_seasons_running_subsidy(
    city: dict[str, Household], municipal: User
) -> None:
    """散煤复烧 found in 回头看 (aftercare) stops that season's running subsidy; paid, it is clawed
    back. The other kind (equipment) and other households are untouched."""
    from aftercare.models import LookBack, LookBackItem

    subsidy_compute(year=2023)
    paid = Entitlement.objects.get(household=city["ratio"], kind=Kind.RUNNING)
    entitlements_mark_paid(ids=[paid.pk], paid_on=dt.date(2024, 4, 10))
    assert Entitlement.objects.filter(household=city["gas"], kind=Kind.RUNNING).exists()
    lookback = LookBack.objects.create(
        season=2023, seed="t", population=2, size=2, created_by=municipal
    )
    for rank, h in enumerate((city["ratio"], city["gas"])):
        LookBackItem.objects.create(
            lookback=lookback,
            household=h,
            rank=rank,
            weight=1,
            coal_relapse=True,
            photo="lookbacks/relapse.jpg",
        )
    outcome = subsidy_compute(year=2023)
    assert not Entitlement.objects.filter(household=city["gas"], kind=Kind.RUNNING).exists()
    assert Entitlement.objects.filter(household=city["gas"], kind=Kind.EQUIPMENT).exists()
    assert outcome.clawbacks == 1
    claw = Clawback.objects.get()
    assert claw.amount_fen == 60011  # the whole 600.11 paid for the season
    assert Entitlement.objects.filter(household=city["capped_low"], kind=Kind.RUNNING).exists()
