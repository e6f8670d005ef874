"""Migrations that carry data: a ledger made before them comes through whole."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from heating.models import Role, User, Village
from retrofits.models import Household

BEFORE_ACCEPTED_ON = [("retrofits", "0007_search_tails"), ("acceptance", "0003_subject_fields")]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_households_accepted_before_accepted_on_take_their_passing_visits_day() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_ACCEPTED_ON)
    try:
        old = executor.loader.project_state(BEFORE_ACCEPTED_ON).apps
        call_command("load_reference", stdout=io.StringIO())  # the divisions did not change
        village = Village.objects.select_related("township__county").first()
        assert village is not None
        inspector = User.objects.create(username="ys", role=Role.INSPECTOR)
        OldHousehold = old.get_model("retrofits", "Household")
        OldInspection = old.get_model("acceptance", "Inspection")

        def household(code: str, stage: str) -> int:
            return int(
                OldHousehold.objects.create(
                    code=code, county_id=village.township.county_id,
                    township_id=village.township_id, village_id=village.pk, head_name="张三",
                    id_number=f"14090219800101{code[-3:]}X", area="rural", path="district",
                    stage=stage, completed_on=dt.date(2023, 10, 1),
                ).pk
            )  # fmt: skip

        visited, by_hand, waiting = (
            household("H-001", "accepted"),
            household("H-002", "accepted"),
            household("H-003", "completed"),
        )
        for at, result in (
            ("2023-10-20T09:00+08:00", "failed"),
            ("2023-10-28T07:30+08:00", "passed"),
        ):
            OldInspection.objects.create(
                household_id=visited, visited_at=dt.datetime.fromisoformat(at),
                inspector_id=inspector.pk, result=result,
            )  # fmt: skip
        OldHousehold.objects.filter(pk=by_hand).update(
            updated_at=dt.datetime.fromisoformat("2023-11-02T23:30+00:00")
        )

        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

    accepted_on = dict(Household.objects.values_list("pk", "accepted_on"))
    assert accepted_on == {
        visited: dt.date(2023, 10, 28),  # the passing visit, not the failed one
        by_hand: dt.date(2023, 11, 3),  # the day it was last updated, in Asia/Shanghai
        waiting: None,
    }
