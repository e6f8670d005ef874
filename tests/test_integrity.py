"""Integrity flags, computed when a visit arrives, on crafted evidence: a location outside the
household's county (the phone's, or a photo's GPS), a resized copy of another household's photo,
two visits 80 km apart 20 minutes apart, a day outside the window; and the household visited twice
in the same place with the same photo, which flags nothing. A flagged visit stays valid and shows
its flag on the dossier and the acceptance ledger until the bureau reviews it."""

from __future__ import annotations

import datetime as dt
import io
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from PIL import Image, ImageDraw, ImageFilter

from acceptance.integrity import county_shapes, distance_km
from acceptance.models import Inspection, IntegrityFlag, Project
from acceptance.rules import CHECKLISTS
from acceptance.selectors import flagged_households
from acceptance.services import DefectInput, Visit, inspection_record, project_inspection_record
from acceptance.services.integrity import integrity_flag_review
from heating.models import County, Role, User
from heating.services import plan_year_get_or_create, user_create
from retrofits.models import Household, TenderItem
from tests.conftest import PASSWORD, login
from tests.ledger_files import IDS, row, xlsx, yuanping_row

pytestmark = pytest.mark.django_db

Kind = IntegrityFlag.Kind
PASS = {code: True for code, _ in CHECKLISTS["electric"]}
# 忻府区's own point on the map, and the point 80 km due north of it (in 原平市).
XINFU = (Decimal("38.404242"), Decimal("112.746046"))
NORTH_80_KM = (Decimal("39.123699"), Decimal("112.746046"))
TAIYUAN = (Decimal("37.870000"), Decimal("112.550000"))  # another city altogether


def scene(seed: int, size: tuple[int, int] = (800, 600)) -> Image.Image:
    """A photo-like picture: coloured shapes, softened, different for every seed."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(25):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        box = [x, y, x + rng.randrange(20, 300), y + rng.randrange(20, 300)]
        shape = rng.choice([draw.rectangle, draw.ellipse])
        shape(box, fill=tuple(rng.randrange(256) for _ in range(3)))
    return image.filter(ImageFilter.GaussianBlur(2))


def jpeg(image: Image.Image, *, quality: int = 90, gps: tuple[float, float] | None = None) -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    if gps:
        exif[0x8825] = {1: "N", 2: _dms(gps[0]), 3: "E", 4: _dms(gps[1])}
    image.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return (float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 2))


def upload(content: bytes, name: str = "photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="image/jpeg")


@pytest.fixture
def households(tmp_path: Path, tender: list[TenderItem]) -> dict[str, Household]:
    """XF-0001 and XF-0002 of 忻府区, YP-1 of 原平市, all at 已完工."""
    done = {"实施进度": "已完工", "完工日期": dt.date(2023, 10, 1)}
    rows = [
        row(**done),
        row(户编号="XF-0002", 身份证号=IDS[1], 户主姓名="李四", **done),
        yuanping_row(取暖路径="集中供热", 设备型号=None, **done),
    ]
    call_command("import_ledger", str(xlsx(tmp_path, rows)), stdout=io.StringIO())
    return {h.code: h for h in Household.objects.all()}


@pytest.fixture
def roaming(db: None) -> User:
    """An inspector of 忻府区 and 原平市."""
    return user_create(
        username="xunjian", password=PASSWORD, role=Role.INSPECTOR,
        counties=list(County.objects.filter(short_name__in=["忻府区", "原平市"])),
    )  # fmt: skip


def visit(household: Household, inspector: User, when: str, **more: Any) -> Inspection:
    checklist = (
        PASS
        if household.path == "electric"
        else {code: True for code, _ in CHECKLISTS[household.path]}
    )
    more.setdefault("passed", True)
    return inspection_record(
        household=household,
        inspector=inspector,
        visited_at=timezone.make_aware(dt.datetime.fromisoformat(when)),
        checklist=checklist,
        **more,
    )


def kinds(inspection: Inspection) -> set[str]:
    return set(inspection.flags.values_list("kind", flat=True))


def test_the_crafted_points_are_where_the_tests_say() -> None:
    shapes = county_shapes()
    assert shapes["忻府区"].km_outside(*map(float, XINFU)) == 0
    assert shapes["原平市"].km_outside(*map(float, NORTH_80_KM)) == 0
    assert shapes["忻府区"].km_outside(*map(float, TAIYUAN)) > 20
    south, north = (
        (float(XINFU[0]), float(XINFU[1])),
        (float(NORTH_80_KM[0]), float(NORTH_80_KM[1])),
    )
    assert round(distance_km(south, north)) == 80


def test_a_visit_located_outside_the_households_county_is_flagged(
    households: dict[str, Household], inspector: User
) -> None:
    flagged = visit(households["XF-0001"], inspector, "2023-10-20T10:00", location=TAIYUAN)
    assert kinds(flagged) == {Kind.OUTSIDE_COUNTY}
    flag = flagged.flags.get()
    assert flag.detail.startswith("设备定位（37.87000，112.55000）在忻府区境外约")
    assert flagged.result == Inspection.Result.PASSED  # valid all the same
    households["XF-0001"].refresh_from_db()
    assert households["XF-0001"].stage == "accepted"
    assert list(flagged_households(Household.objects.all())) == [households["XF-0001"]]


def test_a_photos_gps_outside_the_county_is_flagged_too(
    households: dict[str, Household], inspector: User
) -> None:
    taken_in_taiyuan = jpeg(scene(1), gps=(37.87, 112.55))
    flagged = visit(
        households["XF-0001"], inspector, "2023-10-20T10:00",
        location=XINFU, photos=[upload(taken_in_taiyuan)],
    )  # fmt: skip
    assert kinds(flagged) == {Kind.OUTSIDE_COUNTY}
    assert "照片1拍摄位置（37.87000，112.55000）" in flagged.flags.get().detail
    assert "设备定位" not in flagged.flags.get().detail  # the phone itself was in 忻府区
    photo = flagged.photos.get()
    assert photo.latitude is not None and photo.longitude is not None
    assert (round(photo.latitude, 2), round(photo.longitude, 2)) == (
        Decimal("37.87"),
        Decimal("112.55"),
    )


def test_a_visit_inside_its_county_is_not_flagged(
    households: dict[str, Household], inspector: User
) -> None:
    inside = visit(
        households["XF-0001"], inspector, "2023-10-20T10:00",
        location=XINFU, photos=[upload(jpeg(scene(2), gps=(38.404, 112.746)))],
    )  # fmt: skip
    assert kinds(inside) == set()


def test_a_resized_copy_of_another_households_photo_is_flagged_on_both(
    households: dict[str, Household], inspector: User
) -> None:
    original = scene(3)
    first = visit(households["XF-0001"], inspector, "2023-10-20T10:00",
                  photos=[upload(jpeg(original))])  # fmt: skip
    copy = jpeg(original.resize((400, 300)), quality=60)  # smaller and saved again
    assert copy != jpeg(original)
    second = visit(households["XF-0002"], inspector, "2023-10-21T10:00",
                   photos=[upload(copy), upload(jpeg(scene(4)))])  # fmt: skip
    assert kinds(second) == {Kind.PHOTO_REUSED}
    assert kinds(first) == {Kind.PHOTO_REUSED}
    flag = second.flags.get()
    assert flag.other == first and "2023-10-20" in flag.detail and "缩放或重新压缩" in flag.detail
    assert first.flags.get().other == second
    assert "张三" not in flag.detail and "XF-0001" not in flag.detail  # names no one


def test_a_different_photo_is_not_flagged(
    households: dict[str, Household], inspector: User
) -> None:
    visit(households["XF-0001"], inspector, "2023-10-20T10:00", photos=[upload(jpeg(scene(5)))])
    other = visit(households["XF-0002"], inspector, "2023-10-21T10:00",
                  photos=[upload(jpeg(scene(6)))])  # fmt: skip
    assert kinds(other) == set()


def test_two_visits_80_km_apart_20_minutes_apart_are_flagged(
    households: dict[str, Household], roaming: User
) -> None:
    south = visit(households["XF-0001"], roaming, "2023-10-20T10:00", location=XINFU)
    north = visit(households["YP-1"], roaming, "2023-10-20T10:20", location=NORTH_80_KM)
    assert kinds(north) == {Kind.TOO_FAST} and kinds(south) == {Kind.TOO_FAST}
    detail = north.flags.get().detail
    assert "相距80.0公里、间隔20分钟（折合240公里/小时，超过120公里/小时）" in detail
    assert "2023-10-20 10:00" in detail and "10:20" in south.flags.get().detail
    # Two hours apart, the same journey is possible.
    later = visit(households["XF-0002"], roaming, "2023-10-20T12:00", location=XINFU)
    assert kinds(later) == set()


def test_the_same_household_visited_twice_flags_nothing(
    households: dict[str, Household], inspector: User
) -> None:
    """A failing visit and its revisit twenty minutes later, at the same place, with the same
    photo of the same stove: nothing is wrong."""
    household = households["XF-0001"]
    stove = jpeg(scene(7))
    first = inspection_record(
        household=household, inspector=inspector,
        visited_at=timezone.make_aware(dt.datetime(2023, 10, 20, 10)), passed=False,
        checklist={**PASS, "temperature": False}, location=XINFU, photos=[upload(stove)],
        defects=[DefectInput("室温不达标", dt.date(2023, 10, 20))],
    )  # fmt: skip
    household.refresh_from_db()
    revisit = visit(household, inspector, "2023-10-20T10:20", location=XINFU,
                    photos=[upload(stove)])  # fmt: skip
    assert kinds(first) == set() and kinds(revisit) == set()
    assert not IntegrityFlag.objects.exists()


def test_a_visit_outside_the_acceptance_window_is_flagged(
    households: dict[str, Household], inspector: User
) -> None:
    early = visit(households["XF-0001"], inspector, "2023-10-10T10:00")
    assert kinds(early) == {Kind.OUTSIDE_WINDOW}
    assert (
        early.flags.get().detail == "验收日期2023-10-10不在2023年度验收窗口（10月15日至10月31日）内"
    )
    # A 2023 household accepted a year late, in 2024's window: its own year's window was missed.
    plan_year_get_or_create(year=2024)
    late = visit(households["XF-0002"], inspector, "2024-10-20T10:00")
    assert late.flags.get().detail == (
        "验收日期2024-10-20不在2023年度验收窗口（10月15日至10月31日）内"
    )


def test_a_project_visited_in_a_year_without_a_plan_is_flagged(inspector: User) -> None:
    grid = Project.objects.create(
        county=County.objects.get(short_name="忻府区"),
        kind=Project.Kind.GRID_UPGRADE,
        name="城区配变增容",
    )
    when = timezone.make_aware(dt.datetime(2022, 10, 20, 10))
    no_plan = project_inspection_record(
        project=grid, visit=Visit(inspector=inspector, visited_at=when, passed=True)
    )
    assert "2022年度没有实施方案" in no_plan.flags.get().detail


def test_a_flag_shows_on_the_dossier_and_the_ledger_until_the_bureau_reviews_it(
    households: dict[str, Household], inspector: User, municipal: User, official: User
) -> None:
    household = households["XF-0001"]
    flagged = visit(household, inspector, "2023-10-20T10:00", location=TAIYUAN)
    flag = flagged.flags.get()
    client = login(Client(), official)
    page = client.get(reverse("household-detail", args=[household.pk])).content.decode()
    assert "位置不在该户所在县（待核实）" in page and "境外约" in page

    def ledger_flags(user: User) -> Any:
        response = login(Client(), user).get(reverse("acceptance-ledger"))
        sheet = load_workbook(io.BytesIO(response.content)).active
        return [r[17] for r in sheet.iter_rows(min_row=3, values_only=True)]

    assert ledger_flags(official)[0].startswith("位置不在该户所在县（待核实）设备定位")
    with pytest.raises(PermissionDenied):
        integrity_flag_review(flag=flag, user=official, reason="看过了")
    with pytest.raises(ValidationError, match="请填写核实说明"):
        integrity_flag_review(flag=flag, user=municipal, reason="  ")
    reviewed = login(Client(), municipal).post(
        reverse("integrity-flag-review", args=[flag.pk]),
        {"reason": "验收人在太原办事后补录，已电话核实入户"},
        follow=True,
    )
    assert "已核实" in reviewed.content.decode()
    flag.refresh_from_db()
    assert flag.reviewed_by == municipal and flag.reviewed_at is not None
    page = client.get(reverse("household-detail", args=[household.pk])).content.decode()
    assert "位置不在该户所在县（已核实）" in page and "已电话核实入户" in page
    assert ledger_flags(official)[0].startswith("位置不在该户所在县（已核实：验收人在太原")
    with pytest.raises(ValidationError, match="已于"):
        integrity_flag_review(flag=flag, user=municipal, reason="再核一次")


def test_the_flags_list_is_the_bureaus_and_each_countys_own(
    households: dict[str, Household], roaming: User, municipal: User, official: User,
    other_official: User, inspector: User,
) -> None:  # fmt: skip
    visit(households["XF-0001"], roaming, "2023-10-20T10:00", location=XINFU)
    visit(households["YP-1"], roaming, "2023-10-20T10:20", location=NORTH_80_KM)
    url = reverse("integrity-flags")
    city = login(Client(), municipal).get(url).content.decode()
    assert "XF-0001" in city and "YP-1" in city and "核实</button>" in city
    xinfu = login(Client(), official).get(url).content.decode()
    assert "XF-0001" in xinfu and "YP-1" not in xinfu and "核实</button>" not in xinfu
    yuanping = login(Client(), other_official).get(url).content.decode()
    assert "YP-1" in yuanping and "XF-0001" not in yuanping
    flag = IntegrityFlag.objects.get(inspection__household__code="YP-1")
    review = reverse("integrity-flag-review", args=[flag.pk])
    assert login(Client(), official).post(review, {"reason": "x"}).status_code == 404
    assert login(Client(), other_official).post(review, {"reason": "x"}).status_code == 403
    assert login(Client(), inspector).get(review).status_code == 405
    assert login(Client(), municipal).get(url, {"state": "火星"}).status_code == 400
    assert not IntegrityFlag.objects.filter(reviewed_at__isnull=False).exists()


def as_before_the_checks(*inspections: Inspection) -> None:
    """What a visit recorded before the integrity checks (or written in bulk) holds: its photos
    without fingerprints, no flag, not checked."""
    for inspection in inspections:
        inspection.photos.update(
            sha256="", phash="", phash_band_0=None, phash_band_1=None, phash_band_2=None,
            phash_band_3=None, phash_band_4=None, latitude=None, longitude=None,
        )  # fmt: skip
    IntegrityFlag.objects.filter(inspection__in=inspections).delete()
    Inspection.objects.filter(pk__in=[i.pk for i in inspections]).update(integrity_checked=False)


def test_visits_recorded_before_the_checks_are_checked_once_by_the_command(
    households: dict[str, Household], inspector: User
) -> None:
    """Their photos are fingerprinted from the files and their evidence flagged as a visit's
    arriving today; running again finds nothing to do and writes nothing twice."""
    original = scene(5)
    first = visit(households["XF-0001"], inspector, "2023-10-20T10:00",
                  photos=[upload(jpeg(original))])  # fmt: skip
    second = visit(households["XF-0002"], inspector, "2023-10-10T10:00",
                   photos=[upload(jpeg(original.resize((400, 300)), quality=60))])  # fmt: skip
    fresh = {(f.inspection_id, f.kind, f.other_id, f.detail) for f in IntegrityFlag.objects.all()}
    assert kinds(second) == {Kind.PHOTO_REUSED, Kind.OUTSIDE_WINDOW}
    as_before_the_checks(first, second)

    out = io.StringIO()
    call_command("check_visit_integrity", stdout=out)
    assert "验收记录 2 条，补算照片指纹 2 张，新增异常提示 3 条" in out.getvalue()
    again = {(f.inspection_id, f.kind, f.other_id, f.detail) for f in IntegrityFlag.objects.all()}
    assert again == fresh  # the flags the visits would have had
    assert all(p.sha256 and p.phash for p in second.photos.all())
    assert set(Inspection.objects.values_list("integrity_checked", flat=True)) == {True}

    out = io.StringIO()
    call_command("check_visit_integrity", stdout=out)
    assert "验收记录 0 条，补算照片指纹 0 张，新增异常提示 0 条" in out.getvalue()
    assert IntegrityFlag.objects.count() == 3


def test_a_visit_checked_again_keeps_its_flags_and_writes_none_twice(
    households: dict[str, Household], inspector: User
) -> None:
    """A checked visit, marked unchecked again (a restore, a bulk write): checking it again
    leaves its flags, a reviewed one included, and adds none of the same."""
    original = scene(6)
    visit(households["XF-0001"], inspector, "2023-10-20T10:00", photos=[upload(jpeg(original))])
    late = visit(households["XF-0002"], inspector, "2023-11-10T10:00",
                 photos=[upload(jpeg(original))])  # fmt: skip
    before = IntegrityFlag.objects.count()
    assert before == 3  # the pair, and the day outside the window
    Inspection.objects.update(integrity_checked=False)
    call_command("check_visit_integrity", stdout=io.StringIO())
    assert IntegrityFlag.objects.count() == before
    assert kinds(late) == {Kind.PHOTO_REUSED, Kind.OUTSIDE_WINDOW}


def test_a_missing_photo_file_is_counted_and_the_visit_still_checked(
    households: dict[str, Household], inspector: User
) -> None:
    old = visit(households["XF-0001"], inspector, "2023-10-20T10:00",
                photos=[upload(jpeg(scene(7)))])  # fmt: skip
    as_before_the_checks(old)
    photo = old.photos.get()
    assert photo.image.name
    photo.image.storage.delete(photo.image.name)
    out = io.StringIO()
    call_command("check_visit_integrity", stdout=out)
    assert "1 张照片文件缺失或无法读取，未参与比对" in out.getvalue()
    old.refresh_from_db()
    assert old.integrity_checked and old.photos.get().sha256 == ""
