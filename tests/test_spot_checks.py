"""Risk-weighted spot checks (抽查): the bureau draws accepted households, weighted by their flags
and failed visits; the same seed draws the same sample; the drawn households wait on their
inspectors' worklists as 抽查, and the second visit answers the draw without changing the stage."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from acceptance.models import Inspection, IntegrityFlag, SpotCheck, SpotCheckItem
from acceptance.rules import CHECKLISTS
from acceptance.services import DefectInput, inspection_record
from acceptance.services.spot_checks import spot_check_draw
from acceptance.spot_checks import RISK_SOURCES, Risk, draw, household_risks
from heating.models import County, PlanYear, User
from heating.services import plan_year_get_or_create
from retrofits.choices import Stage
from retrofits.models import Household, TenderItem
from tests.conftest import login
from tests.ledger_files import IDS, row, xlsx

pytestmark = pytest.mark.django_db

PASS = {code: True for code, _ in CHECKLISTS["electric"]}
CODES = ["XF-0001", "XF-0002", "XF-0003", "XF-0004", "XF-0005"]


def at(day: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(f"{day}T10:00"))


@pytest.fixture
def accepted(tmp_path: Path, tender: list[TenderItem], inspector: User) -> list[Household]:
    """Five accepted households of 忻府区: XF-0001 failed once first and was visited outside the
    window (a flag), the others passed at once."""
    ids = [IDS[0], IDS[1], IDS[2], IDS[4], IDS[5]]
    rows = [
        row(户编号=code, 身份证号=number, 户主姓名=f"户主{n}", 实施进度="已完工",
            完工日期=dt.date(2023, 10, 1))
        for n, (code, number) in enumerate(zip(CODES, ids, strict=True))
    ]  # fmt: skip
    call_command("import_ledger", str(xlsx(tmp_path, rows)), stdout=io.StringIO())
    households = {h.code: h for h in Household.objects.all()}
    inspection_record(
        household=households["XF-0001"], inspector=inspector, visited_at=at("2023-10-10"),
        passed=False, checklist={**PASS, "temperature": False},
        defects=[DefectInput("室温不达标", dt.date(2023, 10, 20))],
    )  # fmt: skip
    for code in CODES:
        inspection_record(
            household=Household.objects.get(code=code), inspector=inspector,
            visited_at=at("2023-10-21"), passed=True, checklist=PASS,
        )  # fmt: skip
    return list(Household.objects.order_by("code"))


def test_risk_counts_flags_and_failed_visits(accepted: list[Household]) -> None:
    risks = household_risks(Household.objects.all())
    flagged = risks[accepted[0].pk]
    assert IntegrityFlag.objects.filter(inspection__household=accepted[0]).count() == 1
    assert flagged.weight == 1 + 3 + 2
    assert flagged.reasons == ["1条待核实异常提示", "1次验收不合格"]
    assert risks[accepted[1].pk] == Risk()


def test_a_registered_source_of_risk_adds_its_weight(
    accepted: list[Household], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hook later evidence (the hotline's tickets) plugs into."""
    tickets = {accepted[2].pk: (4.0, "2张投诉工单")}
    monkeypatch.setattr("acceptance.spot_checks.RISK_SOURCES", [*RISK_SOURCES, lambda hs: tickets])
    risk = household_risks(Household.objects.all())[accepted[2].pk]
    assert risk.weight == 5 and risk.reasons == ["2张投诉工单"]


def test_the_same_seed_draws_the_same_sample() -> None:
    risks = {pk: Risk(weight=1 + pk % 4) for pk in range(1, 501)}
    first = draw(risks, seed="20231101", size=20)
    assert len(set(first)) == 20
    assert draw(risks, seed="20231101", size=20) == first
    # The order the rows come in does not matter; another seed draws another sample.
    assert draw(dict(reversed(list(risks.items()))), seed="20231101", size=20) == first
    assert draw(risks, seed="20231102", size=20) != first


def test_riskier_households_are_drawn_more_often() -> None:
    risks = {pk: Risk() for pk in range(1, 11)}
    risks[7] = Risk(weight=10.0)  # as much as nine plain households together
    drawn = Counter(draw(risks, seed=str(seed), size=1)[0] for seed in range(2000))
    assert 0.45 < drawn[7] / 2000 < 0.60  # 10 / 19 expected
    assert all(drawn[pk] < drawn[7] / 4 for pk in risks if pk != 7)


def test_the_bureau_draws_and_the_draw_is_kept_with_its_seed(
    accepted: list[Household], municipal: User, client: Client
) -> None:
    xinfu = County.objects.get(short_name="忻府区")
    first = spot_check_draw(user=municipal, size=2, seed="42", county=xinfu)
    again = spot_check_draw(user=municipal, size=2, seed="42", county=xinfu)
    chosen = list(first.items.values_list("household__code", flat=True))
    assert chosen == list(again.items.values_list("household__code", flat=True))
    assert (first.seed, first.size, first.population) == ("42", 2, 5)
    risks = household_risks(Household.objects.all())
    for item in first.items.all():
        risk = risks[item.household_id]
        assert (item.weight, item.reasons) == (Decimal(risk.weight), "、".join(risk.reasons))
    drawn = spot_check_draw(user=municipal, size=3)
    assert drawn.county is None and drawn.seed.isdigit() and drawn.size == 3
    response = login(client, municipal).post(
        reverse("spot-checks"), {"county": xinfu.pk, "size": 2, "seed": "42"}, follow=True
    )
    page = response.content.decode()
    assert "已抽取 2 户（随机种子 42）" in page and 'data-testid="seed">42<' in page
    assert all(code in page for code in chosen)


def test_a_draw_is_of_one_plan_year_or_of_every_year(
    accepted: list[Household], municipal: User, client: Client
) -> None:
    """The five households are of 2023: a draw of 2024's acceptances finds none, and the page
    offers the latest year first."""
    year_2023 = PlanYear.objects.get(year=2023)
    year_2024, _ = plan_year_get_or_create(year=2024)
    drawn = spot_check_draw(user=municipal, size=2, seed="7", plan_year=year_2023)
    assert (drawn.population, drawn.scope) == (5, "2023年度 · 全市")
    with pytest.raises(ValidationError, match="所选范围内没有已验收的户可供抽查"):
        spot_check_draw(user=municipal, size=1, plan_year=year_2024)
    assert spot_check_draw(user=municipal, size=1).scope == "全部年度 · 全市"
    page = login(client, municipal).get(reverse("spot-checks")).content.decode()
    assert '<option value="2024" selected>' in page and "2023年度 · 全市" in page
    refused = client.post(reverse("spot-checks"), {"plan_year": 2024, "size": 1})
    assert "所选范围内没有已验收的户可供抽查" in refused.content.decode()
    assert SpotCheck.objects.count() == 2


def test_only_the_bureau_draws(
    accepted: list[Household], official: User, inspector: User, municipal: User
) -> None:
    for user in (official, inspector):
        with pytest.raises(PermissionDenied):
            spot_check_draw(user=user, size=1)
        assert login(Client(), user).get(reverse("spot-checks")).status_code == 403
    with pytest.raises(ValidationError, match="抽取户数应在1至500之间"):
        spot_check_draw(user=municipal, size=0)
    datong = County.objects.get(short_name="偏关县")
    with pytest.raises(ValidationError, match="没有已验收的户可供抽查"):
        spot_check_draw(user=municipal, size=1, county=datong)
    drawn = spot_check_draw(user=municipal, size=1)
    assert login(Client(), official).get(reverse("spot-check", args=[drawn.pk])).status_code == 404
    bad = login(Client(), municipal).post(reverse("spot-checks"), {"size": "²"})
    assert bad.status_code == 200 and not SpotCheck.objects.exclude(pk=drawn.pk).exists()


def test_a_drawn_household_is_on_the_worklist_as_a_spot_check_until_visited(
    accepted: list[Household], municipal: User, inspector: User, client: Client
) -> None:
    drawn = spot_check_draw(user=municipal, size=1, seed="7")
    household = drawn.items.get().household
    login(client, inspector)
    worklist = client.get(reverse("worklist")).content.decode()
    url = reverse("spot-check-visit", args=[household.pk])
    assert "抽查复核" in worklist and url in worklist and household.code in worklist
    page = client.get(url).content.decode()
    assert "抽查复核：" in page and 'data-outbox-kind="spot_check"' in page
    # A failing second visit: the defects must be put right, the household stays accepted.
    failing = {
        "visited_at": "2023-11-05T10:00", "result": "failed", "check_model_matches": "on",
        "check_installed": "on", "check_wiring": "on", "defect_0": "设备已拆走",
        "rectify_by_0": "2023-11-20", "seen_version": household.version,
    }  # fmt: skip
    assert client.post(url, failing).status_code == 302
    household.refresh_from_db()
    assert household.stage == Stage.ACCEPTED
    item = SpotCheckItem.objects.get()
    assert item.visit is not None and item.visit.kind == Inspection.Kind.SPOT_CHECK
    assert item.visit.result == "failed"
    assert url in client.get(reverse("worklist")).content.decode()  # its revisit is due
    passing = {
        "visited_at": "2023-11-21T10:00", "result": "passed", "check_model_matches": "on",
        "check_installed": "on", "check_temperature": "on", "check_wiring": "on",
        "seen_version": household.version,
    }  # fmt: skip
    assert client.post(url, passing).status_code == 302
    assert url not in client.get(reverse("worklist")).content.decode()
    assert client.get(url).status_code == 404  # no longer drawn: nothing to visit
    dossier = client.get(reverse("household-detail", args=[household.pk])).content.decode()
    assert "（抽查复核）" in dossier
    # The bureau sees the finding on the draw's page; spot checks have no window to be out of.
    page = login(Client(), municipal).get(reverse("spot-check", args=[drawn.pk])).content.decode()
    assert "不合格" in page
    assert not IntegrityFlag.objects.filter(
        inspection__kind=Inspection.Kind.SPOT_CHECK, kind=IntegrityFlag.Kind.OUTSIDE_WINDOW
    ).exists()


def test_a_household_not_drawn_has_no_spot_check_visit(
    accepted: list[Household], inspector: User, client: Client
) -> None:
    url = reverse("spot-check-visit", args=[accepted[1].pk])
    assert login(client, inspector).get(url).status_code == 404
