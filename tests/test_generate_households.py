"""Synthetic households follow the targets and pass every rule of the import."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db.models import Count

from heating.models import Target
from retrofits.models import Household, TenderItem
from retrofits.validators import id_number_problem

pytestmark = pytest.mark.django_db


def test_households_follow_the_targets_and_regenerate_unchanged(tender: list[TenderItem]) -> None:
    out = io.StringIO()
    call_command("generate_households", "--scale", "0.01", stdout=out)
    expected = {
        (t.county_id, t.path, t.area): round(t.households * 0.01)
        for t in Target.objects.for_year(2023)
        if round(t.households * 0.01)
    }
    found = {
        (r["county"], r["path"], r["area"]): r["n"]
        for r in Household.objects.values("county", "path", "area").annotate(n=Count("*"))
    }
    assert found == expected
    assert all(
        id_number_problem(i) is None for i in Household.objects.values_list("id_number", flat=True)
    )
    assert not Household.objects.filter(village__township__county_id__isnull=True).exists()
    assert all(
        h.village.township.county_id == h.county_id
        for h in Household.objects.select_related("village__township")[:200]
    )

    call_command("generate_households", "--scale", "0.01", stdout=out)
    assert f"新增 0，更新 0，未变 {sum(expected.values())}" in out.getvalue()
