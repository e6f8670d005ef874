"""Every rule about a household's state holds the same way at every entry point: the form, the
admin, the one-household service, the web upload, the CLI import and acceptance (a first load
and two imports at once: test_household_writers_bulk.py, on PostgreSQL). Nothing but the two
writers saves a household."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from acceptance.models import Inspection
from acceptance.rules import CHECKLISTS
from acceptance.services import inspection_record
from heating.models import County, Township, User, Village
from retrofits.choices import DONE_STAGES, Stage
from retrofits.models import Household, LedgerImport, TenderItem
from retrofits.rules import PLAN_RULES, Breach, Touched, Via
from retrofits.services import household_save
from tests import plan_rules
from tests.conftest import login
from tests.ledger_files import IDS, row, xlsx

pytestmark = pytest.mark.django_db

ENTRIES = ["form", "admin", "service", "upload", "cli"]
PLACES = {"忻府区": ("奇村镇", "辛庄村委会"), "定襄县": ("晋昌镇", "城内村委会")}
ALL_ELECTRIC = {code: True for code, _ in CHECKLISTS["electric"]}


@pytest.fixture
def household(tmp_path: Path, tender: list[TenderItem]) -> Household:
    """XF-0001, a 煤改电 household of 忻府区 at 已选型."""
    call_command(
        "import_ledger", str(xlsx(tmp_path, [row()], name="base.xlsx")), stdout=io.StringIO()
    )
    return Household.objects.get()


def moved_to(household: Household, stage: Stage) -> Household:
    """The household taken to `stage` by the service, with a reason for any skip."""
    household.stage = stage
    household.completed_on = dt.date(2023, 10, 1) if stage in DONE_STAGES else None
    return household_save(household=household, user=None, reason="测试准备")


class Attempt:
    """One write of the household through one entry point; the errors it met (none: written)."""

    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.request, self.tmp_path, self.files = request, tmp_path, 0

    def __call__(
        self, entry: str, h: Household, *, stage: str, county: str = "忻府区", reason: str = ""
    ) -> list[str]:
        return getattr(self, entry)(h, stage, county, reason)

    def user(self, name: str) -> User:
        user: User = self.request.getfixturevalue(name)
        return user

    def client(self, name: str) -> Client:
        return login(Client(), self.user(name))

    def form(self, h: Household, stage: str, county: str, reason: str) -> list[str]:
        data = {
            "code": h.code, "township": h.township_id, "village": h.village_id,
            "head_name": h.head_name, "id_number": h.id_number, "phone": h.phone,
            "area": h.area, "path": h.path, "equipment": h.equipment_id or "", "stage": stage,
            "completed_on": "2023-10-01" if stage in DONE_STAGES else "", "notes": h.notes,
            "plan_year": h.plan_year_id,
            "reason": reason, "county": County.objects.get(short_name=county).pk,
        }  # fmt: skip
        response = self.client("official").post(reverse("household-edit", args=[h.pk]), data)
        if response.status_code == 302:
            return []
        form = response.context["form"]
        return [m for messages in form.errors.values() for m in messages]

    def admin(self, h: Household, stage: str, county: str, reason: str) -> list[str]:
        client = self.client("administrator")
        url = reverse("admin:retrofits_household_change", args=[h.pk])
        form = client.get(url).context["adminform"].form
        data = {k: ("" if v is None else v) for k, v in form.initial.items() if k in form.fields}
        township, village = self.place(county)
        data.update(
            county=township.county_id, township=township.pk, village=village.pk, stage=stage,
            completed_on="2023-10-01" if stage in DONE_STAGES else "", low_income="",
            reason=reason,
        )  # fmt: skip
        response = client.post(url, data)
        if response.status_code == 302:
            return []
        form = response.context["adminform"].form
        return [m for messages in form.errors.values() for m in messages]

    def service(self, h: Household, stage: str, county: str, reason: str) -> list[str]:
        h = Household.objects.get(pk=h.pk)
        township, village = self.place(county)
        h.county_id, h.township, h.village, h.stage = township.county_id, township, village, stage
        h.completed_on = dt.date(2023, 10, 1) if stage in DONE_STAGES else None
        try:
            household_save(household=h, user=self.user("official"), reason=reason)
        except ValidationError as exc:
            return exc.messages
        return []

    def sheet(self, h: Household, stage: str, county: str) -> Path:
        self.files += 1
        township, village = PLACES[county]
        done = stage in DONE_STAGES
        changed = row(
            county=county, township=township, village=village, 实施进度=Stage(stage).label,
            完工日期=dt.date(2023, 10, 1) if done else None,
        )  # fmt: skip
        return xlsx(self.tmp_path, [changed], name=f"file-{self.files}.xlsx")

    def upload(self, h: Household, stage: str, county: str, reason: str) -> list[str]:
        # An administrator's upload: a county official's would stop at "only your county".
        path = self.sheet(h, stage, county)
        capture = self.request.getfixturevalue("django_capture_on_commit_callbacks")
        with path.open("rb") as f, capture(execute=True):
            self.client("administrator").post(reverse("ledger-import"), {"file": f})
        job = LedgerImport.objects.filter(created_by__username="root").latest("pk")
        return [e["message"] for e in job.errors]

    def cli(self, h: Household, stage: str, county: str, reason: str) -> list[str]:
        err = io.StringIO()
        try:
            call_command(
                "import_ledger", str(self.sheet(h, stage, county)), stdout=io.StringIO(), stderr=err
            )
        except CommandError:
            return [line.split("：", 1)[1] for line in err.getvalue().splitlines()]
        return []

    @staticmethod
    def place(county: str) -> tuple[Township, Village]:
        township_name, village_name = PLACES[county]
        township = Township.objects.get(county__short_name=county, name=township_name)
        return township, Village.objects.get(township=township, name=village_name)


@pytest.fixture
def attempt(request: pytest.FixtureRequest, tmp_path: Path) -> Attempt:
    return Attempt(request, tmp_path)


def stored(h: Household) -> tuple[str, str]:
    h.refresh_from_db()
    return h.county.short_name, h.stage


# ---------------------------------------------------------------- change rules


@pytest.mark.parametrize("entry", ENTRIES)
def test_a_step_back_is_refused_without_a_reason(
    entry: str, attempt: Attempt, household: Household
) -> None:
    moved_to(household, Stage.BUILDING)
    errors = attempt(entry, household, stage=Stage.SELECTED)
    assert any("施工中" in e and "回退到“已选型”" in e for e in errors), errors
    assert stored(household) == ("忻府区", Stage.BUILDING)


@pytest.mark.parametrize("entry", ["form", "admin", "service"])
def test_a_skip_or_step_back_with_a_reason_is_kept_in_the_history(
    entry: str, attempt: Attempt, household: Household
) -> None:
    assert attempt(entry, household, stage=Stage.COMPLETED) != []  # a skip, unexplained
    assert attempt(entry, household, stage=Stage.COMPLETED, reason="补录：施工队漏报") == []
    assert stored(household) == ("忻府区", Stage.COMPLETED)
    assert household.history.first().history_change_reason == "补录：施工队漏报"


@pytest.mark.parametrize("entry", ["upload", "cli"])
def test_a_file_may_report_a_skip(entry: str, attempt: Attempt, household: Household) -> None:
    assert attempt(entry, household, stage=Stage.COMPLETED) == []
    assert stored(household) == ("忻府区", Stage.COMPLETED)


@pytest.mark.parametrize("entry", ENTRIES)
def test_only_acceptance_makes_a_household_accepted(
    entry: str, attempt: Attempt, household: Household, inspector: User
) -> None:
    moved_to(household, Stage.COMPLETED)
    errors = attempt(entry, household, stage=Stage.ACCEPTED, reason="x")
    # The form does not even offer 已验收; every other way meets the rule itself.
    assert errors and (entry == "form" or "“已验收”只能由验收记录产生" in errors)
    assert stored(household) == ("忻府区", Stage.COMPLETED)

    inspection_record(
        household=household, inspector=inspector, visited_at=dt.datetime(2023, 10, 20, 10, tzinfo=dt.UTC),
        passed=True, checklist=ALL_ELECTRIC,
    )  # fmt: skip
    assert stored(household) == ("忻府区", Stage.ACCEPTED)
    assert "验收合格" in household.history.first().history_change_reason


def test_acceptance_meets_the_same_change_rule(household: Household, inspector: User) -> None:
    with pytest.raises(ValidationError, match="该户实施进度为“已选型”，只有“已完工”的户可以验收"):
        inspection_record(
            household=household, inspector=inspector, visited_at=dt.datetime(2023, 10, 20, tzinfo=dt.UTC),
            passed=True, checklist=ALL_ELECTRIC,
        )  # fmt: skip
    assert not Inspection.objects.exists()


@pytest.mark.parametrize("entry", ["form", "service", "upload", "cli"])
def test_a_county_never_changes_but_by_a_correction(
    entry: str, attempt: Attempt, household: Household
) -> None:
    errors = attempt(entry, household, stage=Stage.SELECTED, county="定襄县", reason="录错了")
    # The form has no county field: what it is sent for one is ignored.
    assert entry == "form" or any("县（市、区）" in e and "系统管理员" in e for e in errors), errors
    assert stored(household) == ("忻府区", Stage.SELECTED)


def test_an_administrators_correction_moves_a_household_with_a_reason(
    attempt: Attempt, household: Household
) -> None:
    errors = attempt("admin", household, stage=Stage.SELECTED, county="定襄县")
    assert errors == ["更正户所属的县（市、区）须填写原因"]
    assert stored(household) == ("忻府区", Stage.SELECTED)

    assert (
        attempt("admin", household, stage=Stage.SELECTED, county="定襄县", reason="录入错误") == []
    )
    assert stored(household) == ("定襄县", Stage.SELECTED)
    record = household.history.first()
    assert (record.history_change_reason, record.history_user.username) == ("录入错误", "root")


def test_the_county_official_may_not_correct(household: Household, official: User) -> None:
    household.stage = Stage.SELECTED
    with pytest.raises(PermissionDenied, match="只有系统管理员"):
        household_save(household=household, user=official, reason="x", via=Via.CORRECTION)


# ---------------------------------------------------------------- plan rules


@pytest.fixture
def at_most(monkeypatch: pytest.MonkeyPatch) -> Callable[[Stage, int], None]:
    """Registers the throw-away plan rule (tests/plan_rules.py) for this test."""

    def register(stage: Stage, limit: int) -> None:
        monkeypatch.setitem(PLAN_RULES, "test-at-most", plan_rules.at_most(stage, limit))

    return register


@pytest.mark.parametrize("entry", ENTRIES)
def test_a_plan_rule_refuses_the_whole_write(
    entry: str, attempt: Attempt, household: Household, at_most: Callable[[Stage, int], None]
) -> None:
    at_most(Stage.BUILDING, 0)
    errors = attempt(entry, household, stage=Stage.BUILDING)
    assert "忻府区施工中及以后的户最多 0 户，写入后为 1 户" in errors
    assert stored(household) == ("忻府区", Stage.SELECTED)
    at_most(Stage.BUILDING, 1)
    assert attempt(entry, household, stage=Stage.BUILDING) == []


def test_a_plan_rule_names_every_sheet_row_it_blames_and_writes_none(
    tmp_path: Path, tender: list[TenderItem], at_most: Callable[[Stage, int], None]
) -> None:
    at_most(Stage.BUILDING, 1)
    rows = [row(户编号=f"XF-{i}", 身份证号=IDS[i], 实施进度="施工中") for i in range(3)]
    rows[1]["实施进度"] = "已选型"  # does not count
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_ledger", str(xlsx(tmp_path, rows)), stdout=io.StringIO(), stderr=err)
    message = "忻府区施工中及以后的户最多 1 户，写入后为 2 户"
    assert err.getvalue().splitlines() == [
        f"第2行「实施进度」：{message}",
        f"第4行「实施进度」：{message}",
    ]
    assert not Household.objects.exists()


def test_a_plan_rule_blames_only_the_rows_a_file_changed(
    tmp_path: Path, tender: list[TenderItem], at_most: Callable[[Stage, int], None]
) -> None:
    first = row(户编号="XF-0", 身份证号=IDS[0], 实施进度="施工中")
    call_command("import_ledger", str(xlsx(tmp_path, [first])), stdout=io.StringIO())
    at_most(Stage.BUILDING, 1)
    added = row(户编号="XF-1", 身份证号=IDS[1], 实施进度="施工中")
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "import_ledger", str(xlsx(tmp_path, [first, added], name="b.xlsx")), stderr=err
        )
    assert err.getvalue().splitlines() == [
        "第3行「实施进度」：忻府区施工中及以后的户最多 1 户，写入后为 2 户"
    ]


def test_a_dry_run_meets_the_plan_rules_and_writes_nothing(
    tmp_path: Path, tender: list[TenderItem], at_most: Callable[[Stage, int], None]
) -> None:
    at_most(Stage.BUILDING, 0)
    path = xlsx(tmp_path, [row(实施进度="施工中")])
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_ledger", str(path), "--dry-run", stdout=io.StringIO(), stderr=err)
    assert "写入后为 1 户" in err.getvalue()
    at_most(Stage.BUILDING, 1)
    out = io.StringIO()
    call_command("import_ledger", str(path), "--dry-run", stdout=out)
    assert "检查通过，未写入：共 1 行，新增 1" in out.getvalue()
    assert not Household.objects.exists()


def test_a_plan_rule_refuses_an_acceptance(
    household: Household, inspector: User, at_most: Callable[[Stage, int], None]
) -> None:
    moved_to(household, Stage.COMPLETED)
    at_most(Stage.ACCEPTED, 0)
    with pytest.raises(ValidationError, match="忻府区已验收及以后的户最多 0 户，写入后为 1 户"):
        inspection_record(
            household=household, inspector=inspector, visited_at=dt.datetime(2023, 10, 20, tzinfo=dt.UTC),
            passed=True, checklist=ALL_ELECTRIC,
        )  # fmt: skip
    assert stored(household) == ("忻府区", Stage.COMPLETED)
    assert not Inspection.objects.exists()  # the visit went with the refused write


def test_a_plan_rule_sees_both_counties_of_a_correction(
    attempt: Attempt, household: Household, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A household moved out of 忻府区 is checked in the county it leaves too."""
    seen: list[frozenset[int]] = []

    def rule(touched: Touched) -> list[Breach]:
        seen.append(touched.counties)
        return []

    monkeypatch.setitem(PLAN_RULES, "test-seen", rule)
    attempt("admin", household, stage=Stage.SELECTED, county="定襄县", reason="录入错误")
    both = frozenset(County.objects.filter(short_name__in=PLACES).values_list("pk", flat=True))
    assert seen and all(counties == both for counties in seen)


# ---------------------------------------------------------------- only the two writers


def test_nothing_but_the_two_writers_saves_a_household(household: Household) -> None:
    household.notes = "绕过规则"
    for write in (
        household.save,
        household.delete,
        lambda: Household.objects.filter(pk=household.pk).update(stage=Stage.ACCEPTED),
        lambda: Household.objects.all().delete(),
        lambda: Household.objects.bulk_create([Household(code="X")]),
    ):
        with pytest.raises(RuntimeError, match="改造户只能经 household_save"):
            write()
    assert Household.objects.get().notes == ""


def test_the_import_and_the_demo_record_a_job(household: Household) -> None:
    call_command("generate_households", "--scale", "0.0002", stdout=io.StringIO())
    assert list(LedgerImport.objects.order_by("pk").values_list("original_name", "status")) == [
        ("base.xlsx", "succeeded"),
        ("演示数据.xlsx", "succeeded"),
    ]
