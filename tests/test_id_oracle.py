"""An ID number registered in another county is answered, but not as a free, silent oracle: a
county official who uploads (or dry-runs, or types into the form) the numbers that fit other
counties' masked numbers learns at most the day's budget of them; past it the submission is
refused whole, naming no row and no number, the bureau hears of it once, and every conflict is
logged for the bureau, who resolves it seeing both households side by side."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from heating.access import mask_id_number
from heating.models import User
from retrofits.models import Household, IdConflict, LedgerImport, TenderItem
from retrofits.services import conflicts
from tests.conftest import login
from tests.ledger_files import row, xlsx, yuanping_row
from tests.test_household_views import form_data

pytestmark = pytest.mark.django_db

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
BUDGET = 5


def check_digit(first17: str) -> str:
    """GB 11643's check digit of the first 17 digits."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def valid(area: str, born: dt.date, sequence: str) -> str:
    first17 = f"{area}{born:%Y%m%d}{sequence}"
    return first17 + check_digit(first17)


# 原平市's households, whose numbers 忻府区's official sees masked: 140981********5337.
VICTIMS = [
    valid("140981", dt.date(1970 + 3 * i, 1 + i, 3 + 2 * i), f"{533 + 7 * i:03d}") for i in range(8)
]


def candidates(mask: str, years: int = 2) -> list[str]:
    """Every valid GB 11643 number that fits a mask (`140981********5337`), born within `years`
    years of the true one (the test's shortcut: the whole century is 4,219 numbers a mask)."""
    area, tail = mask[:6], mask[14:]
    victim = next(v for v in VICTIMS if mask_id_number(v) == mask)
    day, last = dt.date(int(victim[6:10]) - years, 1, 1), dt.date(int(victim[6:10]) + years, 12, 31)
    found = []
    while day <= last:
        first17 = f"{area}{day:%Y%m%d}{tail[:3]}"
        if check_digit(first17) == tail[3]:
            found.append(first17 + tail[3])
        day += dt.timedelta(days=1)
    assert victim in found
    return found


@pytest.fixture(autouse=True)
def budget(settings: Any) -> None:
    settings.ID_CONFLICT_DAILY_BUDGET = BUDGET


@pytest.fixture
def yuanping(tmp_path: Path, tender: list[TenderItem]) -> list[Household]:
    rows = [yuanping_row(户编号=f"YP-{i}", 身份证号=v) for i, v in enumerate(VICTIMS)]
    call_command("import_ledger", str(xlsx(tmp_path, rows, name="yp.xlsx")), stdout=io.StringIO())
    return list(Household.objects.filter(code__startswith="YP-").order_by("code"))


@pytest.fixture
def alarms() -> Iterator[list[tuple[User, list[IdConflict]]]]:
    """What the bureau's alarm hears (oversight registers the inbox's alert the same way)."""
    heard: list[tuple[User, list[IdConflict]]] = []

    def alarm(user: User, logged: list[IdConflict]) -> None:
        heard.append((user, logged))

    conflicts.register_conflict_alarm(alarm)
    yield heard
    conflicts._ALARMS.remove(alarm)


_uploads = iter(range(1, 10**6))


def upload(
    client: Client, tmp_path: Path, numbers: list[str], capture: Any, *, dry_run: bool = True
) -> LedgerImport:
    """A 忻府区 file of one valid household for each number, uploaded as the page does."""
    n = next(_uploads)
    rows = [row(户编号=f"XF-{n}-{i:05d}", 身份证号=number) for i, number in enumerate(numbers)]
    path = xlsx(tmp_path, rows, name=f"guess-{n}.xlsx")
    data: dict[str, Any] = {"dry_run": "on"} if dry_run else {}
    with path.open("rb") as f, capture(execute=True):
        client.post(reverse("ledger-import"), {"file": f, **data})
    return LedgerImport.objects.latest("pk")


def learned(job: LedgerImport) -> set[str]:
    """The other counties' numbers a job's answer gives away: any that its page or error file
    names (the file holds every number the user sent: only its error column counts)."""
    said = str(job.errors) + job.message
    found = {v for v in VICTIMS if v in said}
    if job.error_file:
        with job.error_file.open("rb") as f:
            sheet = load_workbook(f).active
            assert sheet is not None
            rows = list(sheet.iter_rows(values_only=True))
        column = list(rows[0]).index("错误说明")
        for r in rows[1:]:
            if r[column]:
                found |= {v for v in VICTIMS if v in r}
    return found


def conflict_rows(job: LedgerImport) -> list[int]:
    return [e["row"] for e in job.errors if e["column"] == "身份证号" and e["value"]]


def test_uploading_the_candidates_of_masks_learns_at_most_the_budget(
    client: Client,
    official: User,
    yuanping: list[Household],
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    login(client, official)
    known: set[str] = set()
    answers = []
    for victim in VICTIMS:
        job = upload(
            client, tmp_path, candidates(mask_id_number(victim)), django_capture_on_commit_callbacks
        )
        assert job.status == LedgerImport.Status.FAILED
        known |= learned(job)
        answers.append(job)
    assert known == set(VICTIMS[:BUDGET])
    for job in answers[:BUDGET]:  # within the budget: the row, in words that say nothing of where
        (error,) = job.errors
        assert error["message"] == conflicts.ROW_REFUSAL.format(id_number=error["value"])
        assert "原平市" not in error["message"] and "其他县" not in error["message"]
    for job in answers[BUDGET:]:
        assert job.errors == [
            {"row": 1, "column": "身份证号", "value": "", "message": conflicts.WHOLE_REFUSAL}
        ]


def test_past_the_budget_halving_the_candidates_learns_nothing(
    client: Client,
    official: User,
    yuanping: list[Household],
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The binary search an attacker would try next: with the budget spent, a file holding the
    number and a file without it get the same answer."""
    login(client, official)
    capture = django_capture_on_commit_callbacks
    spent = upload(client, tmp_path, VICTIMS[:BUDGET], capture)
    assert len(conflict_rows(spent)) == BUDGET
    pool = candidates(mask_id_number(VICTIMS[BUDGET]))
    half = len(pool) // 2
    with_it, without_it = (
        (pool[:half], pool[half:]) if VICTIMS[BUDGET] in pool[:half] else (pool[half:], pool[:half])
    )
    answers = [upload(client, tmp_path, numbers, capture) for numbers in (with_it, without_it)]
    assert [(a.status, a.errors, a.message) for a in answers[:1]] == [
        (a.status, a.errors, a.message) for a in answers[1:]
    ]
    assert not any(conflict_rows(a) for a in answers)
    assert all(not learned(a) for a in answers)
    # Even the whole file of one mask: refused whole, naming nothing.
    whole = upload(client, tmp_path, pool, capture)
    assert conflict_rows(whole) == [] and not learned(whole)


def test_a_file_past_the_budget_is_refused_whole_naming_no_row(
    client: Client,
    official: User,
    yuanping: list[Household],
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    login(client, official)
    numbers = [n for v in VICTIMS for n in candidates(mask_id_number(v), years=1)]
    job = upload(client, tmp_path, numbers, django_capture_on_commit_callbacks)
    assert job.status == LedgerImport.Status.FAILED
    assert job.errors == [
        {"row": 1, "column": "身份证号", "value": "", "message": conflicts.WHOLE_REFUSAL}
    ]
    assert learned(job) == set()
    # Other errors still say what they say: they give nothing away.
    bad_phone = row(户编号="XF-PHONE", 身份证号=numbers[0], 联系电话="12")
    path = xlsx(tmp_path, [row(户编号="XF-V", 身份证号=VICTIMS[0]), bad_phone], name="mixed.xlsx")
    with path.open("rb") as f, django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("ledger-import"), {"file": f, "dry_run": "on"})
    job = LedgerImport.objects.latest("pk")
    assert [e["column"] for e in job.errors] == ["身份证号", "联系电话"]
    assert job.errors[0]["row"] == 1 and job.errors[1]["row"] == 3
    assert learned(job) == set()


def test_the_form_counts_against_the_same_budget(
    client: Client,
    official: User,
    yuanping: list[Household],
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    login(client, official)
    upload(client, tmp_path, VICTIMS[: BUDGET - 1], django_capture_on_commit_callbacks)
    create = reverse("household-create")

    last = client.post(create, form_data(code="XF-F1", id_number=VICTIMS[BUDGET - 1]))
    assert last.status_code == 200
    assert last.context["form"].errors["id_number"] == [
        conflicts.ROW_REFUSAL.format(id_number=VICTIMS[BUDGET - 1])
    ]
    past = client.post(create, form_data(code="XF-F2", id_number=VICTIMS[BUDGET]))
    assert past.context["form"].errors["id_number"] == [conflicts.WHOLE_REFUSAL]
    assert VICTIMS[BUDGET] not in str(past.context["form"].errors)
    # A number nobody holds gets the same answer now: the form is no oracle either.
    free = valid("140902", dt.date(1991, 4, 5), "123")
    fresh = client.post(create, form_data(code="XF-F3", id_number=free))
    assert fresh.context["form"].errors["id_number"] == [conflicts.WHOLE_REFUSAL]
    assert not Household.objects.filter(code__startswith="XF-F").exists()
    entries = list(IdConflict.objects.order_by("pk").values_list("entry", "over_budget"))
    assert entries == [("dry_run", False)] * (BUDGET - 1) + [("form", False), ("form", True)]


def test_the_bureau_is_alarmed_once_with_the_user_and_the_numbers(
    client: Client,
    official: User,
    municipal: User,
    yuanping: list[Household],
    tmp_path: Path,
    alarms: list[tuple[User, list[IdConflict]]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    login(client, official)
    capture = django_capture_on_commit_callbacks
    upload(client, tmp_path, VICTIMS[:BUDGET], capture)
    assert alarms == []  # within the budget: logged, no alarm
    upload(client, tmp_path, VICTIMS[BUDGET:], capture)
    upload(client, tmp_path, VICTIMS[:2], capture)
    client.post(reverse("household-create"), form_data(code="XF-F1", id_number=VICTIMS[-1]))
    assert len(alarms) == 1
    user, logged = alarms[0]
    assert user == official
    assert {c.id_number for c in logged} == set(VICTIMS[BUDGET:])
    # What the bureau reads: who, and the numbers as the bureau may see them (masked).
    text = conflicts.alarm_text(user, logged, municipal)
    assert "忻府区" in text and official.username in text
    assert all(mask_id_number(v) in text and v not in text for v in VICTIMS[BUDGET:])
    # The inbox (oversight registers its own alarm): one alert, to the bureau, naming the user.
    from oversight.dispatch.models import Alert

    inbox = Alert.objects.filter(kind=Alert.Kind.ID_CONFLICT)
    assert list(inbox.values_list("user", flat=True)) == [municipal.pk]
    assert official.username in inbox.get().text


def test_every_conflict_is_logged(
    client: Client,
    official: User,
    yuanping: list[Household],
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    login(client, official)
    capture = django_capture_on_commit_callbacks
    first = upload(client, tmp_path, [VICTIMS[0], VICTIMS[1]], capture, dry_run=False)
    second = upload(client, tmp_path, VICTIMS, capture)
    logged = list(IdConflict.objects.order_by("pk"))
    assert len(logged) == 2 + len(VICTIMS)
    by_number = {v.id_number: v for v in yuanping}
    for conflict in logged:
        assert conflict.user == official and conflict.county.short_name == "忻府区"
        assert conflict.household == by_number[conflict.id_number]
        assert conflict.row is not None and conflict.code.startswith("XF-")
    assert [(c.entry, c.job, c.over_budget) for c in logged[:2]] == [("import", first, False)] * 2
    assert {(c.entry, c.job, c.over_budget) for c in logged[2:]} == {("dry_run", second, True)}
    assert not Household.objects.filter(code__startswith="XF-").exists()


def test_own_county_conflicts_are_ordinary_errors_and_cost_nothing(
    client: Client,
    official: User,
    tmp_path: Path,
    tender: list[TenderItem],
    django_capture_on_commit_callbacks: Any,
) -> None:
    numbers = [valid("140902", dt.date(1960 + i, 2, 2), "011") for i in range(BUDGET + 2)]
    own = [row(户编号=f"XF-OWN-{i}", 身份证号=n) for i, n in enumerate(numbers)]
    call_command("import_ledger", str(xlsx(tmp_path, own, name="own.xlsx")), stdout=io.StringIO())
    login(client, official)
    job = upload(client, tmp_path, numbers, django_capture_on_commit_callbacks)
    assert len(job.errors) == len(numbers)
    assert all("已登记在户编号 XF-OWN-" in e["message"] for e in job.errors)
    assert not IdConflict.objects.exists()


@pytest.mark.parametrize("actor", ["administrator"])
def test_those_who_see_every_county_are_not_budgeted(
    client: Client,
    request: pytest.FixtureRequest,
    actor: str,
    yuanping: list[Household],
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    login(client, request.getfixturevalue(actor))
    job = upload(client, tmp_path, VICTIMS, django_capture_on_commit_callbacks)
    assert len(job.errors) == len(VICTIMS)
    assert all("已登记在户编号 YP-" in e["message"] for e in job.errors)
    assert not IdConflict.objects.exists()
    assert not conflicts.budgeted(request.getfixturevalue("municipal"))


@pytest.fixture
def conflict(
    client: Client,
    official: User,
    yuanping: list[Household],
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> IdConflict:
    login(client, official)
    client.post(reverse("household-create"), form_data(code="XF-F1", id_number=VICTIMS[0]))
    client.logout()
    return IdConflict.objects.get()


def test_the_bureau_sees_both_households_side_by_side_masked(
    client: Client, municipal: User, conflict: IdConflict
) -> None:
    login(client, municipal)
    listed = client.get(reverse("id-conflicts")).content.decode()
    assert mask_id_number(VICTIMS[0]) in listed and VICTIMS[0] not in listed
    assert f'data-conflict="{conflict.pk}"' in listed
    page = client.get(reverse("id-conflict", args=[conflict.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="side-by-side"' in html
    assert "XF-F1" in html and "YP-0" in html and "忻府区" in html and "原平市" in html
    assert mask_id_number(VICTIMS[0]) in html and VICTIMS[0] not in html
    assert "13812345678" not in html  # the holder's phone, masked too


def test_the_bureau_marks_a_conflict_handled_with_a_reason(
    client: Client, municipal: User, conflict: IdConflict
) -> None:
    login(client, municipal)
    resolve = reverse("id-conflict-resolve", args=[conflict.pk])
    client.post(resolve, {"reason": ""})
    conflict.refresh_from_db()
    assert conflict.resolved_at is None
    response = client.post(resolve, {"reason": "同一户，忻府区重复登记，已通知其删除"})
    assert response.status_code == 302
    conflict.refresh_from_db()
    assert (conflict.resolved_by, conflict.resolution) == (
        municipal,
        "同一户，忻府区重复登记，已通知其删除",
    )
    open_ones = client.get(reverse("id-conflicts")).content.decode()
    assert f'data-conflict="{conflict.pk}"' not in open_ones
    assert client.get(reverse("id-conflicts"), {"state": "resolved"}).status_code == 200
    assert client.get(resolve).status_code == 405


@pytest.mark.parametrize(
    ("actor", "status"), [("official", 403), ("other_official", 404), ("inspector", 403)]
)
def test_county_users_may_not_open_the_conflicts(
    client: Client, request: pytest.FixtureRequest, conflict: IdConflict, actor: str, status: int
) -> None:
    login(client, request.getfixturevalue(actor))
    assert client.get(reverse("id-conflicts")).status_code == 403
    assert client.get(reverse("id-conflict", args=[conflict.pk])).status_code == status
    resolve = reverse("id-conflict-resolve", args=[conflict.pk])
    assert client.post(resolve, {"reason": "x"}).status_code == status
    conflict.refresh_from_db()
    assert conflict.resolved_at is None
