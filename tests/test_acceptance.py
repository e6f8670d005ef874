"""Acceptance visits and 先立后破, at the service level (the inspectors' pages come next)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from acceptance.models import Defect, HeatingRemoval, Inspection, InspectionPhoto, Project
from acceptance.rules import CHECKLISTS, removal_allowed_from
from acceptance.services import (
    DefectInput,
    Visit,
    heating_removal_record,
    inspection_record,
    project_inspection_record,
)
from heating.models import County, User
from retrofits.choices import Stage
from retrofits.models import Household, RollupRun, TenderItem
from tests.images import JPEG, PNG
from tests.ledger_files import row, xlsx

pytestmark = pytest.mark.django_db


ALL_ELECTRIC = {code: True for code, _ in CHECKLISTS["electric"]}


@pytest.fixture
def done(tmp_path: Path, tender: list[TenderItem]) -> Household:
    """A 煤改电 household of 忻府区 at 已完工."""
    call_command(
        "import_ledger",
        str(xlsx(tmp_path, [row(实施进度="已完工", 完工日期=dt.date(2023, 10, 10))])),
        stdout=io.StringIO(),
    )
    return Household.objects.get()


def at(day: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(f"{day}T10:00"))


def photo(name: str = "a.jpg", content: bytes = JPEG) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="image/jpeg")


def test_a_failing_visit_then_a_passing_revisit(
    done: Household, inspector: User, django_capture_on_commit_callbacks: Any
) -> None:
    failing = inspection_record(
        household=done, inspector=inspector, visited_at=at("2023-10-20"), passed=False,
        checklist={**ALL_ELECTRIC, "temperature": False},
        defects=[DefectInput("室温不达标", dt.date(2023, 10, 28))], photos=[photo(), photo("b.jpg")],
    )  # fmt: skip
    done.refresh_from_db()
    assert done.stage == Stage.COMPLETED
    assert Defect.objects.filter(household=done).open().count() == 1
    assert failing.photos.count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        passing = inspection_record(
            household=done,
            inspector=inspector,
            visited_at=at("2023-10-29"),
            passed=True,
            checklist=ALL_ELECTRIC,
        )
    done.refresh_from_db()
    assert done.stage == Stage.ACCEPTED
    assert not Defect.objects.filter(household=done).open().exists()
    assert Defect.objects.get().closed_by == passing
    assert "验收合格" in done.history.first().history_change_reason
    assert RollupRun.objects.latest_complete() is not None  # the figures follow the visit


def test_inspectors_accept_only_their_counties(
    done: Household, other_official: User, official: User
) -> None:
    for user in (other_official, official):  # nobody accepts their own county's work
        with pytest.raises(PermissionDenied):
            inspection_record(
                household=done,
                inspector=user,
                visited_at=at("2023-10-20"),
                passed=True,
                checklist=ALL_ELECTRIC,
            )


@pytest.mark.parametrize(
    ("passed", "checklist", "defects", "message"),
    [
        (
            True,
            {**ALL_ELECTRIC, "wiring": False},
            [],
            "合格须全部检查项通过，未通过：线路及断路器容量符合要求",
        ),
        (False, ALL_ELECTRIC, [], "不合格须列出问题和整改期限"),
        (True, {**ALL_ELECTRIC, "flue": True}, [], "未知的检查项：flue"),
        (False, ALL_ELECTRIC, [DefectInput("x", dt.date(2023, 10, 1))], "早于验收日期"),
    ],
)
def test_a_visit_must_be_consistent(
    done: Household,
    inspector: User,
    passed: bool,
    checklist: dict[str, bool],
    defects: list[DefectInput],
    message: str,
) -> None:
    with pytest.raises(ValidationError, match=message):
        inspection_record(
            household=done,
            inspector=inspector,
            visited_at=at("2023-10-20"),
            passed=passed,
            checklist=checklist,
            defects=defects,
        )
    assert not Inspection.objects.exists()


def test_photos_are_checked_for_type_and_size(
    done: Household, inspector: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError, match="不是 JPEG、PNG 或 WebP 照片"):
        inspection_record(household=done, inspector=inspector, visited_at=at("2023-10-20"), passed=True,
                          checklist=ALL_ELECTRIC, photos=[photo("x.jpg", b"<html>")])  # fmt: skip
    monkeypatch.setattr("acceptance.services.MAX_PHOTO_MB", 0)
    with pytest.raises(ValidationError, match="超过 0 MB"):
        inspection_record(household=done, inspector=inspector, visited_at=at("2023-10-20"), passed=True,
                          checklist=ALL_ELECTRIC, photos=[photo()])  # fmt: skip


def test_a_page_that_starts_like_a_jpeg_is_no_photo(done: Household, inspector: User) -> None:
    """Its first bytes are a JPEG's; the rest is a page a browser would run."""
    polyglot = JPEG[:12] + b"<html><script>alert(document.cookie)</script></html>"
    with pytest.raises(ValidationError, match=r"「poly\.html」不是 JPEG、PNG 或 WebP 照片"):
        inspection_record(household=done, inspector=inspector, visited_at=at("2023-10-20"), passed=True,
                          checklist=ALL_ELECTRIC, photos=[photo("poly.html", polyglot)])  # fmt: skip
    assert not InspectionPhoto.objects.exists()


def test_a_photo_is_stored_under_a_name_for_what_it_is(done: Household, inspector: User) -> None:
    inspection_record(household=done, inspector=inspector, visited_at=at("2023-10-20"), passed=True,
                      checklist=ALL_ELECTRIC, photos=[photo("poly.html", JPEG), photo("b.png", PNG)])  # fmt: skip
    stored = sorted(
        (str(p.image.name).rsplit(".", 1)[1], p.content_type) for p in InspectionPhoto.objects.all()
    )
    assert stored == [("jpg", "image/jpeg"), ("png", "image/png")]
    assert not any("poly" in (p.image.name or "") for p in InspectionPhoto.objects.all())


def test_a_visit_takes_at_most_ten_photos(done: Household, inspector: User) -> None:
    with pytest.raises(ValidationError, match="每次验收最多上传 10 张照片，本次 11 张"):
        inspection_record(household=done, inspector=inspector, visited_at=at("2023-10-20"), passed=True,
                          checklist=ALL_ELECTRIC, photos=[photo(f"{n}.jpg") for n in range(11)])  # fmt: skip


def test_only_completed_households_are_accepted(done: Household, inspector: User) -> None:
    inspection_record(
        household=done,
        inspector=inspector,
        visited_at=at("2023-10-20"),
        passed=True,
        checklist=ALL_ELECTRIC,
    )
    with pytest.raises(ValidationError, match="只有“已完工”的户可以验收"):
        inspection_record(
            household=done,
            inspector=inspector,
            visited_at=at("2023-10-21"),
            passed=True,
            checklist=ALL_ELECTRIC,
        )


@pytest.mark.parametrize(
    ("accepted", "allowed"),
    [
        ("2023-06-01", "2024-04-01"),
        ("2023-10-31", "2024-04-01"),
        ("2023-11-01", "2024-04-01"),  # the season starting that day counts whole
        ("2023-11-02", "2025-04-01"),  # accepted inside a season: the next one must be run whole
        ("2024-03-31", "2025-04-01"),
    ],
)
def test_one_whole_heating_season_at_its_boundaries(accepted: str, allowed: str) -> None:
    assert removal_allowed_from(dt.date.fromisoformat(accepted)) == dt.date.fromisoformat(allowed)


def test_removal_waits_for_a_whole_season(done: Household, inspector: User, official: User) -> None:
    inspection_record(
        household=done,
        inspector=inspector,
        visited_at=at("2023-10-29"),
        passed=True,
        checklist=ALL_ELECTRIC,
    )
    done.refresh_from_db()
    with pytest.raises(ValidationError, match="2024年04月01日起方可拆除原有取暖设施"):
        heating_removal_record(household=done, removed_on=dt.date(2024, 3, 31), user=official)
    removal = heating_removal_record(household=done, removed_on=dt.date(2024, 4, 1), user=official)
    assert removal.household == done


def test_removal_needs_acceptance_first(done: Household, official: User) -> None:
    with pytest.raises(ValidationError, match="尚未验收合格"):
        heating_removal_record(household=done, removed_on=dt.date(2025, 4, 1), user=official)
    assert not HeatingRemoval.objects.exists()


def test_removal_is_for_the_households_county(
    done: Household, inspector: User, other_official: User
) -> None:
    inspection_record(
        household=done,
        inspector=inspector,
        visited_at=at("2023-10-29"),
        passed=True,
        checklist=ALL_ELECTRIC,
    )
    with pytest.raises(PermissionDenied):
        heating_removal_record(household=done, removed_on=dt.date(2024, 4, 1), user=other_official)


@pytest.fixture
def town_building() -> Project:
    return Project.objects.create(
        county=County.objects.get(short_name="忻府区"),
        kind=Project.Kind.BUILDING_TOWN,
        name="秀容小区节能改造",
        area_m2=52000,
    )


def test_a_town_building_passes_only_with_the_efficiency_gain(
    town_building: Project, inspector: User
) -> None:
    visit = Visit(inspector=inspector, visited_at=at("2023-10-25"), passed=True)
    with pytest.raises(ValidationError, match=r"能效须提升30%以上，实测25\.0%"):
        project_inspection_record(
            project=town_building, visit=visit, efficiency_gain_pct=Decimal("25.0")
        )
    with pytest.raises(ValidationError, match="未填写"):
        project_inspection_record(project=town_building, visit=visit)
    project_inspection_record(
        project=town_building, visit=visit, efficiency_gain_pct=Decimal("32.5")
    )
    town_building.refresh_from_db()
    assert (str(town_building.accepted_on), town_building.efficiency_gain_pct) == (
        "2023-10-25",
        Decimal("32.5"),
    )


def test_a_grid_upgrade_fails_then_passes_its_revisit(inspector: User) -> None:
    grid = Project.objects.create(
        county=County.objects.get(short_name="定襄县"),
        kind=Project.Kind.GRID_UPGRADE,
        name="晋昌镇配变增容",
    )
    failing = Visit(inspector=inspector, visited_at=at("2023-10-16"), passed=False,
                    defects=[DefectInput("接地不规范", dt.date(2023, 10, 25))])  # fmt: skip
    project_inspection_record(project=grid, visit=failing)
    assert Defect.objects.filter(project=grid).open().count() == 1
    project_inspection_record(
        project=grid, visit=Visit(inspector=inspector, visited_at=at("2023-10-26"), passed=True)
    )
    grid.refresh_from_db()
    assert grid.accepted_on is not None and not Defect.objects.filter(project=grid).open().exists()


def test_projects_are_accepted_by_their_countys_inspectors(
    town_building: Project, other_official: User, municipal: User
) -> None:
    for user in (other_official, municipal):
        with pytest.raises(PermissionDenied):
            project_inspection_record(
                project=town_building,
                visit=Visit(inspector=user, visited_at=at("2023-10-25"), passed=True),
                efficiency_gain_pct=Decimal(40),
            )


def test_a_projects_visits_defects_and_photos_belong_to_its_county(
    inspector: User, official: User, other_official: User, municipal: User
) -> None:
    grid = Project.objects.create(
        county=County.objects.get(short_name="定襄县"),
        kind=Project.Kind.GRID_UPGRADE,
        name="配变增容",
    )
    failing = Visit(inspector=inspector, visited_at=at("2023-10-16"), passed=False,
                    defects=[DefectInput("接地不规范", dt.date(2023, 10, 25))], photos=[photo()])  # fmt: skip
    visit = project_inspection_record(project=grid, visit=failing)
    for user, sees in (
        (inspector, True),
        (municipal, True),
        (official, False),
        (other_official, False),
    ):
        assert Defect.objects.visible_to(user).filter(project=grid).exists() is sees, user
        assert Inspection.objects.visible_to(user).filter(pk=visit.pk).exists() is sees, user
