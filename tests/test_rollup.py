"""Progress rollups: stored figures equal a direct count, whole runs only, the same in the API and
the CLI, scoped to the user's counties."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Count, Q
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from heating.models import User
from retrofits.choices import Stage
from retrofits.models import (
    DailyProgress,
    Household,
    LedgerImport,
    ProgressCount,
    RollupRun,
    TenderItem,
    TrendPoint,
)
from retrofits.models.households import household_writer
from retrofits.services import rollups
from retrofits.services.rollups import KEEP_RUNS, rollup_run
from tests.conftest import login
from tests.ledger_files import row, xlsx

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(tender: list[TenderItem]) -> None:
    """The demo city at 1%, with its acceptance visits."""
    call_command("generate_households", "--scale", "0.01", stdout=io.StringIO())


def unvisited(count: int) -> list[int]:
    """Households no visit or removal refers to, which a test may delete."""
    households = Household.objects.exclude(stage__in=[Stage.COMPLETED, Stage.ACCEPTED])
    return list(households.values_list("pk", flat=True)[:count])


def direct_counts() -> dict[tuple[str, str, str], dict[str, int]]:
    rows = Household.objects.values("county__short_name", "path", "area").annotate(
        completed=Count("pk", filter=Q(stage__in=[Stage.COMPLETED, Stage.ACCEPTED])),
        accepted=Count("pk", filter=Q(stage=Stage.ACCEPTED)),
        households=Count("pk"),
    )
    return {
        (r["county__short_name"], r["path"], r["area"]): {
            k: r[k] for k in ("completed", "accepted", "households")
        }
        for r in rows
    }


def api_counts(payload: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, int]]:
    return {
        (c["county"], cell["path"], cell["area"]): {
            k: cell[k] for k in ("completed", "accepted", "households")
        }
        for c in payload["counties"]
        for cell in c["cells"]
        if cell["households"]
    }


def test_the_api_equals_a_direct_count(client: Client, municipal: User, ledger: None) -> None:
    rollup_run()
    payload = login(client, municipal).get(reverse("api-progress"), {"year": 2023}).json()
    assert api_counts(payload) == direct_counts()
    assert payload["city"]["target"] == 209683
    assert payload["city"]["households"] == Household.objects.count()
    accepted = Household.objects.filter(stage=Stage.ACCEPTED).count()
    assert accepted and payload["city"]["accepted"] == accepted
    run = RollupRun.objects.latest_complete()
    assert run is not None and run.finished_at is not None
    assert payload["as_of"] == timezone.localtime(run.finished_at).isoformat()


def test_the_cli_prints_the_same_figures(client: Client, municipal: User, ledger: None) -> None:
    rollup_run()
    out = io.StringIO()
    call_command("progress", "--year", "2023", "--json", stdout=out)
    api = login(client, municipal).get(reverse("api-progress"), {"year": 2023}).json()
    assert json.loads(out.getvalue()) == api


def test_new_figures_appear_only_after_a_rollup(
    client: Client, municipal: User, ledger: None
) -> None:
    rollup_run()
    before = Household.objects.count()
    with household_writer():  # the ledger changes (nothing in the product deletes households)
        Household.objects.filter(pk__in=unvisited(10)).delete()
    login(client, municipal)
    assert (
        client.get(reverse("api-progress"), {"year": 2023}).json()["city"]["households"] == before
    )
    call_command("rollup", stdout=io.StringIO())
    assert (
        client.get(reverse("api-progress"), {"year": 2023}).json()["city"]["households"]
        == before - 10
    )


def test_a_run_killed_halfway_leaves_the_previous_figures(
    ledger: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = RollupRun.objects.count()  # the demo's own count included
    first = rollup_run()
    with household_writer():
        Household.objects.filter(pk__in=unvisited(5)).delete()

    def killed(*args: object) -> None:
        raise SystemExit("worker killed")

    monkeypatch.setattr(rollups, "_snapshot_day", killed)
    with pytest.raises(SystemExit):
        rollup_run()
    assert RollupRun.objects.latest_complete() == first
    assert RollupRun.objects.count() == runs + 1  # the half-written run is gone with it

    monkeypatch.undo()
    assert rollup_run().households == first.households - 5


def test_runs_are_pruned_and_the_day_kept_once(ledger: None) -> None:
    for _ in range(KEEP_RUNS + 2):
        last = rollup_run()
    assert RollupRun.objects.count() == KEEP_RUNS
    assert RollupRun.objects.latest_complete() == last
    day = DailyProgress.objects.values_list("day", flat=True).distinct()
    assert len(day) == 1
    assert DailyProgress.objects.count() == 16 * 4 * 2 * 5
    assert (
        sum(DailyProgress.objects.values_list("households", flat=True)) == Household.objects.count()
    )


def test_a_later_run_the_same_day_overwrites_every_cell_of_the_days_figures(ledger: None) -> None:
    rollup_run()
    emptied = Household.objects.filter(pk__in=unvisited(1)).values(
        "plan_year", "county", "path", "area", "stage"
    )[0]
    cell = Household.objects.filter(**emptied)
    with household_writer():
        cell.delete()
    rollup_run()

    today = DailyProgress.objects.filter(day=timezone.localdate())
    assert today.count() == 16 * 4 * 2 * 5
    counted = {
        tuple(r[k] for k in ("plan_year", "county", "path", "area", "stage")): r["n"]
        for r in Household.objects.values("plan_year", "county", "path", "area", "stage")
        .annotate(n=Count("pk"))
        .order_by()
    }
    assert {
        (d.plan_year_id, d.county_id, d.path, d.area, d.stage): d.households
        for d in today
        if d.households
    } == counted
    assert today.get(**emptied).households == 0


def test_before_any_rollup_the_api_shows_targets_and_no_time(
    client: Client, municipal: User
) -> None:
    payload = login(client, municipal).get(reverse("api-progress"), {"year": 2023}).json()
    assert payload["as_of"] is None
    assert payload["city"]["target"] == 209683 and payload["city"]["households"] == 0
    assert payload["counties"][0]["completed_pct"] == 0.0


def test_the_api_is_scoped_to_the_users_counties(
    client: Client, official: User, ledger: None
) -> None:
    rollup_run()
    payload = login(client, official).get(reverse("api-progress"), {"year": 2023}).json()
    assert [c["county"] for c in payload["counties"]] == ["忻府区"]
    assert payload["city"]["target"] == 4449


def test_the_api_refuses_anonymous_and_unknown_years(client: Client, municipal: User) -> None:
    assert client.get(reverse("api-progress"), {"year": 2023}).status_code == 401
    login(client, municipal)
    assert client.get(reverse("api-progress"), {"year": 1999}).status_code == 404
    assert client.get(reverse("api-progress")).status_code == 404
    assert client.post(reverse("api-progress")).status_code == 405


def test_an_import_is_followed_by_a_rollup(
    client: Client,
    official: User,
    tender: list[TenderItem],
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    login(client, official)
    with xlsx(tmp_path, [row()]).open("rb") as f, django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("ledger-import"), {"file": f})
    assert LedgerImport.objects.get().status == "succeeded"
    run = RollupRun.objects.latest_complete()
    assert run is not None and run.households == 1


def test_a_form_save_reaches_the_dashboards(
    client: Client, official: User, tmp_path: Path, tender: list[TenderItem],
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    call_command(
        "import_ledger", str(xlsx(tmp_path, [row(实施进度="施工中")])), stdout=io.StringIO()
    )
    rollup_run()
    h = Household.objects.get()
    data = {
        "code": h.code, "township": h.township_id, "village": h.village_id, "head_name": h.head_name,
        "id_number": h.id_number, "phone": h.phone, "area": h.area, "path": h.path,
        "equipment": h.equipment_id, "stage": "completed", "completed_on": "2023-10-01", "notes": "",
        "plan_year": 2023,
        "reason": "",
    }  # fmt: skip
    login(client, official)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("household-edit", args=[h.pk]), data)
    payload = client.get(reverse("api-progress"), {"year": 2023}).json()
    assert payload["counties"][0]["completed"] == 1


def test_many_writes_ask_for_one_count(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tender: list[TenderItem]
) -> None:
    settings.ROLLUP_DEBOUNCE_SECONDS = 30
    timers: list[float] = []

    class Timer:
        def __init__(self, delay: float, action: Any) -> None:
            timers.append(delay)
            self.daemon = False

        def start(self) -> None:
            pass

    monkeypatch.setattr(rollups.threading, "Timer", Timer)
    for _ in range(3):
        rollups.request_rollup()
    assert timers == [30]  # one count waits for all three writes
    before = RollupRun.objects.count()
    assert rollups.due_rollup_run() is not None and RollupRun.objects.count() == before + 1
    assert rollups.due_rollup_run() is None  # nothing more was asked for
    rollups.request_rollup()
    assert timers == [30, 30]


def figures(run: RollupRun) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]], dict[str, Any]]:
    """A run's village counts, trend points and 煤改电 equipment counts, without the run."""
    cells = set(
        ProgressCount.objects.filter(run=run).values_list(
            "plan_year", "county", "township", "village", "path", "area", "stage", "households"
        )
    )
    trend = set(
        TrendPoint.objects.filter(run=run).values_list(
            "plan_year", "county", "path", "area", "day", "completed", "accepted"
        )
    )
    return cells, trend, run.electric_other


def test_a_run_of_the_written_counties_equals_a_whole_count(ledger: None) -> None:
    """Counting only the counties a write touched, the others carried over from the latest run,
    gives what a count of the whole city gives."""
    rollup_run()
    county = Household.objects.filter(pk__in=unvisited(1)).values_list("county", flat=True)[0]
    changed = Household.objects.filter(county=county, stage=Stage.COMPLETED)[:5]
    assert len(changed) == 5
    with household_writer():
        Household.objects.filter(pk__in=[h.pk for h in changed]).update(
            stage=Stage.BUILDING, completed_on=None
        )
        Household.objects.filter(pk__in=unvisited(3)).filter(county=county).delete()
    some = rollup_run([county])
    assert some.households == Household.objects.count()
    assert figures(some) == figures(rollup_run())


def test_an_import_counts_its_counties_and_carries_the_others_over(
    client: Client, official: User, tmp_path: Path, ledger: None,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    """After a county's upload only its households are counted: another county's change that no
    count has seen yet stays unseen until the next whole count."""
    rollup_run()
    other = Household.objects.exclude(county=official.county).filter(pk__in=unvisited(200))[0]
    with household_writer():
        Household.objects.filter(pk=other.pk).delete()
    login(client, official)
    with (
        xlsx(tmp_path, [row(户编号="XF-NEW-1")]).open("rb") as f,
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.post(reverse("ledger-import"), {"file": f})
    assert LedgerImport.objects.latest("pk").created_count == 1
    run = RollupRun.objects.latest_complete()
    assert run is not None
    assert run.households == Household.objects.count() + 1  # the other county's, carried over
    assert rollup_run().households == Household.objects.count()
