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
from acceptance.services.bulk import (
    HouseholdVisit,
    RemovalInput,
    VisitsRecorded,
    heating_removals_record_bulk,
    inspections_record_bulk,
)
from heating.models import County, User
from retrofits.choices import Stage
from retrofits.models import Household, RollupRun, TenderItem
from retrofits.rules import PLAN_RULES
from tests import plan_rules
from tests.images import JPEG, PNG
from tests.ledger_files import IDS, row, xlsx

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


# ---------------------------------------------------------------- a season at once


@pytest.fixture
def households(tmp_path: Path, tender: list[TenderItem]) -> list[Household]:
    """Three 煤改电 households of 忻府区: two at 已完工, one at 施工中."""
    rows = [
        row(户编号="XF-0001", 实施进度="已完工", 完工日期=dt.date(2023, 10, 10)),
        row(户编号="XF-0002", 身份证号=IDS[1], 实施进度="已完工", 完工日期=dt.date(2023, 10, 12)),
        row(户编号="XF-0003", 身份证号=IDS[2], 实施进度="施工中"),
    ]
    call_command("import_ledger", str(xlsx(tmp_path, rows)), stdout=io.StringIO())
    return list(Household.objects.order_by("code"))


def bulk_visit(
    household: Household, inspector: User, day: str, *, passed: bool = True, **changes: Any
) -> HouseholdVisit:
    defects = () if passed else (DefectInput("室温不达标", dt.date(2023, 10, 28)),)
    return HouseholdVisit(
        **{
            "household_id": household.pk, "inspector": inspector, "visited_at": at(day),
            "passed": passed, "checklist": {**ALL_ELECTRIC, "temperature": passed},
            "defects": defects, **changes,
        }
    )  # fmt: skip


@pytest.mark.parametrize("batch", [2000, 1])  # one batch, or one household a batch
def test_a_season_of_visits_at_once(
    households: list[Household], inspector: User, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("acceptance.services.bulk.BATCH", batch)
    first, second, _ = households
    recorded = inspections_record_bulk(
        visits=[
            bulk_visit(first, inspector, "2023-10-20", passed=False),
            bulk_visit(first, inspector, "2023-10-27"),
            bulk_visit(second, inspector, "2023-10-21", passed=False),
        ],
        source="验收合格（测试）",
    )
    assert recorded == VisitsRecorded(visits=3, failed=2, accepted=1)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.stage, str(first.accepted_on)) == (Stage.ACCEPTED, "2023-10-27")
    assert (
        second.stage == Stage.COMPLETED and Defect.objects.filter(household=second).open().exists()
    )
    passing = Inspection.objects.get(household=first, result=Inspection.Result.PASSED)
    assert Defect.objects.get(household=first).closed_by == passing
    assert first.history.first().history_change_reason == "验收合格（测试）"

    # The failed household's revisit, another day: it closes the defect found before.
    inspections_record_bulk(visits=[bulk_visit(second, inspector, "2023-10-29")], source="测试")
    assert not Defect.objects.open().exists()
    assert Household.objects.filter(stage=Stage.ACCEPTED).count() == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"passed": False, "defects": ()}, "不合格须列出问题和整改期限"),
        ({"defects": (DefectInput("x", dt.date(2023, 10, 28)),)}, "合格的验收不应有待整改问题"),
        ({"checklist": {**ALL_ELECTRIC, "wiring": False}}, "合格须全部检查项通过，未通过：线路"),
        ({"checklist": {**ALL_ELECTRIC, "flue": True}}, "未知的检查项：flue"),
        (
            {"passed": False, "defects": (DefectInput("x", dt.date(2023, 10, 1)),)},
            "整改期限早于验收日期",
        ),
        (
            {"passed": False, "defects": (DefectInput(" ", dt.date(2023, 10, 28)),)},
            "问题描述不能为空",
        ),
    ],
)
def test_bulk_visits_follow_the_rules_of_one_visit(
    households: list[Household], inspector: User, changes: dict[str, Any], message: str
) -> None:
    first, second, _ = households
    good = bulk_visit(first, inspector, "2023-10-20")
    with pytest.raises(ValidationError, match=rf"{message}.*（户编号：XF-0002）"):
        inspections_record_bulk(
            visits=[good, bulk_visit(second, inspector, "2023-10-20", **changes)], source="测试"
        )
    assert not Inspection.objects.exists()  # refused whole: the good visit too
    assert not Household.objects.filter(stage=Stage.ACCEPTED).exists()


def test_bulk_visits_are_only_of_households_acceptance_could_take(
    households: list[Household], inspector: User
) -> None:
    first, _, building = households
    refused = "只有“已完工”的户可以验收"
    with pytest.raises(ValidationError, match=rf"{refused}（户编号：XF-0003）"):
        inspections_record_bulk(
            visits=[bulk_visit(building, inspector, "2023-10-20")], source="测试"
        )
    # Nothing follows a passing visit, in the same batch or after it.
    with pytest.raises(ValidationError, match=rf"“已验收”，{refused}（户编号：XF-0001）"):
        inspections_record_bulk(
            visits=[
                bulk_visit(first, inspector, "2023-10-22", passed=False),
                bulk_visit(first, inspector, "2023-10-20"),
            ],
            source="测试",
        )
    inspections_record_bulk(visits=[bulk_visit(first, inspector, "2023-10-20")], source="测试")
    with pytest.raises(ValidationError, match=rf"“已验收”，{refused}（户编号：XF-0001）"):
        inspections_record_bulk(visits=[bulk_visit(first, inspector, "2023-10-25")], source="测试")
    assert Inspection.objects.count() == 1


def test_bulk_visits_are_by_the_countys_inspectors(
    households: list[Household], inspector: User, official: User, other_official: User
) -> None:
    first, second, _ = households
    for user in (official, other_official):  # nobody accepts their own county's work
        with pytest.raises(PermissionDenied, match="XF-0002"):
            inspections_record_bulk(
                visits=[
                    bulk_visit(first, inspector, "2023-10-20"),
                    bulk_visit(second, user, "2023-10-20"),
                ],
                source="测试",
            )
    with pytest.raises(PermissionDenied):  # who records the batch must inspect there too
        inspections_record_bulk(
            visits=[bulk_visit(first, inspector, "2023-10-20")], source="测试", user=official
        )
    assert not Inspection.objects.exists()


def test_bulk_visits_keep_the_plan_rules(
    households: list[Household], inspector: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, _ = households
    monkeypatch.setitem(PLAN_RULES, "test-at-most", plan_rules.at_most(Stage.ACCEPTED, 1))
    with pytest.raises(ValidationError, match="忻府区已验收及以后的户最多 1 户，写入后为 2 户'"):
        inspections_record_bulk(
            visits=[bulk_visit(h, inspector, "2023-10-20") for h in (first, second)],
            source="测试",
        )
    assert not Inspection.objects.exists() and not Defect.objects.exists()


def test_bulk_visits_and_removals_are_of_households_that_exist(
    households: list[Household], inspector: User, official: User
) -> None:
    gone = Household(pk=max(h.pk for h in households) + 1, code="XF-9999")
    with pytest.raises(ValidationError, match=f"找不到该户（户编号：#{gone.pk}）"):
        inspections_record_bulk(visits=[bulk_visit(gone, inspector, "2023-10-20")], source="测试")
    with pytest.raises(ValidationError, match=f"找不到该户（户编号：#{gone.pk}）"):
        heating_removals_record_bulk(removals=[removal(gone, official)])


@pytest.fixture
def accepted(households: list[Household], inspector: User) -> list[Household]:
    """The two completed households, accepted on 2023-10-29: removal allowed from 2024-04-01."""
    inspections_record_bulk(
        visits=[bulk_visit(h, inspector, "2023-10-29") for h in households[:2]], source="测试"
    )
    return households


def removal(household: Household, by: User, on: str = "2024-04-01") -> RemovalInput:
    return RemovalInput(household.pk, dt.date.fromisoformat(on), by)


def test_removals_at_once(accepted: list[Household], official: User) -> None:
    first, second, _ = accepted
    assert (
        heating_removals_record_bulk(removals=[removal(first, official), removal(second, official)])
        == 2
    )
    assert set(HeatingRemoval.objects.values_list("household__code", "recorded_by")) == {
        ("XF-0001", official.pk),
        ("XF-0002", official.pk),
    }


def test_bulk_removal_refuses_a_household_with_an_open_defect(
    accepted: list[Household], official: User
) -> None:
    first, second, _ = accepted
    found = Inspection.objects.get(household=second)
    Defect.objects.create(
        inspection=found, household=second, description="炉具未拆", rectify_by=dt.date(2024, 1, 1)
    )
    with pytest.raises(
        ValidationError, match="仍有未整改的问题，不能拆除原有取暖设施（户编号：XF-0002）"
    ):
        heating_removals_record_bulk(removals=[removal(first, official), removal(second, official)])
    assert not HeatingRemoval.objects.exists()


@pytest.mark.parametrize(
    ("index", "on", "message"),
    [
        (2, "2024-04-01", "该户尚未验收合格，不能拆除原有取暖设施（户编号：XF-0003）"),
        (
            1,
            "2024-03-31",
            "完整采暖季.*（户编号：XF-0002（2023年10月29日验收，2024年04月01日起方可拆除））",
        ),
        (1, "2099-04-01", "拆除日期不能晚于今天（户编号：XF-0002）"),
    ],
)
def test_bulk_removal_keeps_first_build_then_remove(
    accepted: list[Household], official: User, index: int, on: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        heating_removals_record_bulk(
            removals=[removal(accepted[0], official), removal(accepted[index], official, on)]
        )
    assert not HeatingRemoval.objects.exists()


def test_bulk_removal_is_recorded_once(accepted: list[Household], official: User) -> None:
    first, second, _ = accepted
    with pytest.raises(ValidationError, match="同一户在本次登记中出现多次（户编号：XF-0001）"):
        heating_removals_record_bulk(removals=[removal(first, official), removal(first, official)])
    heating_removals_record_bulk(removals=[removal(first, official)])
    with pytest.raises(ValidationError, match="该户已登记拆除原有取暖设施（户编号：XF-0001）"):
        heating_removals_record_bulk(removals=[removal(second, official), removal(first, official)])
    assert HeatingRemoval.objects.count() == 1


def test_bulk_removal_is_for_the_households_county(
    accepted: list[Household], official: User, other_official: User
) -> None:
    with pytest.raises(PermissionDenied, match="XF-0002"):
        heating_removals_record_bulk(
            removals=[removal(accepted[0], official), removal(accepted[1], other_official)]
        )
    assert not HeatingRemoval.objects.exists()
