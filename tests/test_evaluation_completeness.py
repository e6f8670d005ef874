"""Dossier completeness (档案完整性) and the evidence sample (佐证材料抽样) of the evaluation pack:
each check fails when its condition is broken and only then, as of a date; the counties' bands;
the page, scoped by county; the stratified seeded draw; the dossiers' PDF, the same twice, masked,
and whole when a photo's file is gone."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from acceptance.models import Defect, HeatingRemoval, InspectionPhoto
from acceptance.rules import CHECKLISTS
from acceptance.services import DefectInput, inspection_record
from aftercare.models import Category, Channel
from aftercare.services import TicketInput, ticket_accept, ticket_close, ticket_create
from heating.access import mask_id_number
from heating.models import HeatingPath, User, Village
from oversight.evaluation.completeness import (
    CHECKS,
    LABELS,
    DossierScore,
    completeness_by_county,
    dossier_scores,
    score_of,
)
from oversight.evaluation.evidence import allocate, draw_sample, write_evidence_pdf
from retrofits.choices import Stage
from retrofits.models import Household, IdConflict, TenderItem
from retrofits.models.households import household_writer
from subsidies.models import Clawback, Entitlement, Kind, Method, Policy, Status
from tests.conftest import county, login
from tests.images import image_bytes

pytestmark = pytest.mark.django_db

PASS = {code: True for code, _ in CHECKLISTS["electric"]}
XINFU_SPOT = (Decimal("38.416000"), Decimal("112.734000"))
AS_OF = dt.date(2024, 4, 30)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def valid_id(n: int) -> str:
    """A GB 11643 number (born 1980-01-01 in 忻府区), the n-th."""
    first = f"14090219800101{n:03d}"
    return first + "10X98765432"[sum(int(d) * w for d, w in zip(first, WEIGHTS, strict=True)) % 11]


def at(moment: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(moment))


_serial = iter(range(1, 1000))


def household(
    code: str,
    *,
    where: str = "忻府区",
    path: str = HeatingPath.ELECTRIC,
    equipment: TenderItem | None = None,
    stage: str = Stage.COMPLETED,
    id_number: str | None = None,
) -> Household:
    """A household at `stage`, written directly (a shortcut for the works: the rules are not
    what this module tests)."""
    village = Village.objects.filter(township__county=county(where)).select_related("township")[0]
    with household_writer():
        return Household.objects.create(
            code=code, county=county(where), township=village.township, village=village,
            plan_year_id=2023, head_name=f"户主{code}", id_number=id_number or valid_id(next(_serial)),
            phone="13812345678", area="rural", path=path, equipment=equipment, stage=stage,
            completed_on=dt.date(2023, 10, 10) if stage in (Stage.COMPLETED, Stage.ACCEPTED) else None,
            accepted_on=dt.date(2023, 10, 20) if stage == Stage.ACCEPTED else None,
        )  # fmt: skip


def photos(n: int) -> list[Any]:
    """`n` different photos (a PDF keeps one copy of the same picture)."""
    return [
        SimpleUploadedFile(f"{i}.jpg", image_bytes("JPEG", (4 + i, 3)), content_type="image/jpeg")
        for i in range(n)
    ]


def accept(
    h: Household,
    inspector: User,
    *,
    day: str = "2023-10-20",
    n_photos: int = 2,
    located: bool = True,
) -> Household:
    inspection_record(
        household=h, inspector=inspector, visited_at=at(f"{day} 10:00"), passed=True,
        checklist=PASS, photos=photos(n_photos), location=XINFU_SPOT if located else None,
    )  # fmt: skip
    h.refresh_from_db()
    return h


def pay(h: Household, kind: str, season: int, policy: Policy) -> Entitlement:
    return Entitlement.objects.create(
        household=h, county=h.county, kind=kind, season=season, policy=policy,
        amount_fen=700_000, city_fen=420_000, county_fen=280_000, status=Status.PAID,
        paid_on=dt.date(2024, 1, 15), computed_at=at("2024-01-10 09:00"),
    )  # fmt: skip


def fault(h: Household, user: User, received: str) -> Any:
    return ticket_create(
        data=TicketInput(
            channel=Channel.PHONE, category=Category.FAULT, county=h.county, household=h,
            content="热泵不启动", received_at=at(received),
        ),
        user=user,
    )  # fmt: skip


@pytest.fixture
def world(
    tender: list[TenderItem], inspector: User, municipal: User, official: User, other_official: User
) -> dict[str, Household]:
    """One household per broken condition, each otherwise complete, and the ones that pass."""
    krs, _, bg = tender
    policy = Policy.objects.create(
        plan_year_id=2023, path=HeatingPath.ELECTRIC, kind=Kind.EQUIPMENT, method=Method.FIXED,
        amount=Decimal(7000), cap=Decimal(7000), city_share=Decimal("0.6"),
    )  # fmt: skip
    h: dict[str, Household] = {}

    def done(code: str, **kwargs: Any) -> Household:
        h[code] = accept(household(code, equipment=krs), inspector, **kwargs)
        return h[code]

    ok = done("C-OK")
    pay(ok, Kind.EQUIPMENT, 2023, policy)  # paid once: fine
    closed = fault(ok, municipal, "2023-12-01 09:00")  # closed in time: fine
    closed = ticket_accept(ticket=closed, user=official, now=at("2023-12-01 10:00"))
    ticket_close(ticket=closed, user=official, resolution="已修复", now=at("2023-12-02 10:00"))
    heating = done("C-REMOVED")  # removed when 先立后破 allowed it: fine
    HeatingRemoval.objects.create(
        household=heating, removed_on=dt.date(2024, 4, 2), recorded_by=official
    )

    # The photos carry the place (their EXIF GPS) where the visit has none: fine.
    exif = done("C-EXIF", located=False)
    InspectionPhoto.objects.filter(inspection__household=exif).update(
        latitude=XINFU_SPOT[0], longitude=XINFU_SPOT[1]
    )

    bad_id = done("C-ID")
    right = valid_id(900)
    with household_writer():  # a check digit no writer would take (an old import, say)
        Household.objects.filter(pk=bad_id.pk).update(
            id_number=right[:17] + ("1" if right[17] == "0" else "0")
        )
    disputed = done("C-CONFLICT")
    IdConflict.objects.create(
        user=other_official, id_number=disputed.id_number, county=county("原平市"),
        code="YP-9", head_name="他人", household=disputed, entry=IdConflict.Entry.FORM,
        created_at=at("2023-11-01 09:00"),
    )  # fmt: skip

    wrong = done("C-EQUIPMENT")
    with household_writer():  # a 煤改气 model on a 煤改电 household
        Household.objects.filter(pk=wrong.pk).update(equipment=bg)
    late = done("C-LATE")
    with household_writer():  # completed (by its date) after the day asked about
        Household.objects.filter(pk=late.pk).update(completed_on=dt.date(2024, 5, 10))

    done("C-ONE-PHOTO", n_photos=1)
    done("C-NO-PLACE", located=False)
    h["C-NO-VISIT"] = household("C-NO-VISIT", equipment=krs)

    revisited = household("C-REVISIT", equipment=krs)
    inspection_record(
        household=revisited, inspector=inspector, visited_at=at("2023-10-16 10:00"), passed=False,
        checklist={**PASS, "temperature": False},
        defects=[DefectInput("室温不达标", dt.date(2023, 10, 25))],
    )  # fmt: skip
    h["C-REVISIT"] = accept(revisited, inspector, day="2023-10-22")
    opened = done("C-DEFECT")
    # A defect of its passing visit that nothing closed (as a correction could leave it).
    Defect.objects.create(
        inspection=opened.inspections.get(), household=opened, description="室外机固定不牢",
        rectify_by=dt.date(2023, 10, 30),
    )  # fmt: skip

    early = done("C-EARLY-REMOVAL")
    HeatingRemoval.objects.create(
        household=early, removed_on=dt.date(2024, 1, 10), recorded_by=official
    )
    # Removed on the day allowed, but the season that counts did not run stably: a fault closed
    # past its limit (aftercare's rule, registered with acceptance's).
    unstable = done("C-UNSTABLE")
    late_fix = fault(unstable, municipal, "2023-12-05 09:00")
    late_fix = ticket_accept(ticket=late_fix, user=official, now=at("2023-12-05 10:00"))
    ticket_close(ticket=late_fix, user=official, resolution="已修复", now=at("2024-01-20 10:00"))
    HeatingRemoval.objects.create(
        household=unstable, removed_on=dt.date(2024, 4, 2), recorded_by=official
    )

    twice = done("C-PAID-TWICE")
    pay(twice, Kind.EQUIPMENT, 2023, policy)
    pay(twice, Kind.EQUIPMENT, 2024, policy)
    clawed = done("C-CLAWBACK")
    Clawback.objects.create(
        entitlement=pay(clawed, Kind.EQUIPMENT, 2023, policy), county=clawed.county,
        paid_fen=700_000, due_fen=0, amount_fen=700_000, city_fen=420_000, county_fen=280_000,
        created_at=at("2024-02-01 09:00"),
    )  # fmt: skip

    ticket = done("C-TICKET")
    fault(ticket, municipal, "2024-03-01 09:00")  # never signed for
    later = done("C-TICKET-LATER")
    fault(later, municipal, "2024-05-03 09:00")  # after the day asked about

    h["C-BUILDING"] = household("C-BUILDING", equipment=krs, stage=Stage.BUILDING)
    h["Y-1"] = household("Y-1", where="原平市", equipment=krs)
    return h


# What each household misses as of AS_OF, worked out by hand.
EXPECTED: dict[str, list[str]] = {
    "C-OK": [],
    "C-REMOVED": [],
    "C-EXIF": [],
    "C-REVISIT": [],
    "C-TICKET-LATER": [],
    "C-ID": ["id_number"],
    "C-CONFLICT": ["id_number"],
    "C-EQUIPMENT": ["equipment"],
    "C-LATE": ["completed_on"],
    "C-ONE-PHOTO": ["visit"],
    "C-NO-PLACE": ["visit"],
    "C-NO-VISIT": ["visit"],
    "C-DEFECT": ["defects"],
    "C-EARLY-REMOVAL": ["removal"],
    "C-UNSTABLE": ["removal"],
    "C-PAID-TWICE": ["subsidy"],
    "C-CLAWBACK": ["subsidy"],
    "C-TICKET": ["tickets"],
    "Y-1": ["visit"],
}


def scores(as_of: dt.date = AS_OF) -> dict[str, DossierScore]:
    return {s.code: s for s in dossier_scores(Household.objects.all(), as_of=as_of)}


def test_each_check_fails_only_where_its_condition_is_broken(world: dict[str, Household]) -> None:
    found = scores()
    assert set(found) == set(EXPECTED)  # the household still being built is not judged
    for code, keys in EXPECTED.items():
        assert found[code].missing == [LABELS[k] for k in keys], code
        # One check of eight missed: 87.5, rounded half up.
        assert found[code].score == (100 if not keys else 88), code
        assert found[code].household_id == world[code].pk
        assert found[code].county_id == world[code].county_id
    assert len(CHECKS) == 8 and {k for keys in EXPECTED.values() for k in keys} == set(LABELS)


def test_scores_come_by_county_order_then_code(world: dict[str, Household]) -> None:
    codes = [s.code for s in dossier_scores(Household.objects.order_by("-pk"), as_of=AS_OF)]
    xinfu = sorted(c for c in EXPECTED if c.startswith("C-"))
    assert codes == [*xinfu, "Y-1"]  # 忻府区 comes before 原平市 in the table


def test_as_of_leaves_out_what_came_later(world: dict[str, Household]) -> None:
    # 2023-10-19: C-OK's visit (10/20) had not happened; C-REVISIT had failed (10/16) and its
    # defect was open until the revisit (10/22).
    before = scores(dt.date(2023, 10, 19))
    assert before["C-OK"].missing == [LABELS["visit"]]
    assert before["C-REVISIT"].missing == [LABELS["visit"], LABELS["defects"]]
    assert before["C-REVISIT"].score == 75  # six of eight
    # The ticket of 2024-05-03 is open (never signed for) once the day is after it.
    after = scores(dt.date(2024, 5, 31))
    assert after["C-TICKET-LATER"].missing == [LABELS["tickets"]]
    assert after["C-LATE"].missing == []  # its completion date had come


def test_a_conflict_resolved_by_the_day_is_no_longer_a_fault(world: dict[str, Household]) -> None:
    IdConflict.objects.filter(household=world["C-CONFLICT"]).update(
        resolved_at=at("2024-03-01 09:00"), resolved_by=User.objects.get(username="shi"),
        resolution="核实为本户",
    )  # fmt: skip
    assert scores()["C-CONFLICT"].missing == []
    assert scores(dt.date(2024, 2, 1))["C-CONFLICT"].missing == [LABELS["id_number"]]


def test_score_rounds_half_up() -> None:
    assert [score_of(n) for n in range(9)] == [0, 13, 25, 38, 50, 63, 75, 88, 100]


def test_completeness_by_county_counts_the_bands(world: dict[str, Household]) -> None:
    table = completeness_by_county(Household.objects.all(), as_of=AS_OF)
    assert [r.county.short_name for r in table] == ["忻府区", "原平市"]
    xinfu, yuanping = table
    assert (xinfu.households, xinfu.complete) == (18, 5)
    assert xinfu.buckets == {"100": 5, "80–99": 13, "60–79": 0, "<60": 0}
    assert xinfu.average == 91.3  # (5 × 100 + 13 × 88) / 18 = 91.33
    assert (yuanping.households, yuanping.complete, yuanping.average) == (1, 0, 88.0)
    early = completeness_by_county(Household.objects.all(), as_of=dt.date(2023, 10, 19))[0]
    # Before the visits every household misses one; those that miss another then too (an ID,
    # the equipment, a completion date to come, C-REVISIT's open defect) are at 75.
    assert early.buckets == {"100": 0, "80–99": 14, "60–79": 4, "<60": 0}
    assert early.average == 85.1  # (14 × 88 + 4 × 75) / 18 = 85.11


def test_a_county_with_nothing_done_has_no_average(tender: list[TenderItem]) -> None:
    household("D-1", where="定襄县", equipment=tender[0], stage=Stage.BUILDING)
    (row,) = completeness_by_county(Household.objects.all(), as_of=AS_OF)
    assert (row.county.short_name, row.households, row.average) == ("定襄县", 0, None)


# ---------------------------------------------------------------- the page


def page(client: Client, user: User, **query: Any) -> Any:
    return login(client, user).get(reverse("evaluation-completeness"), {"year": 2023, **query})


def test_the_bureau_sees_every_county_and_what_is_missing(
    world: dict[str, Household], municipal: User, client: Client
) -> None:
    response = page(client, municipal)
    assert response.status_code == 200
    html = response.content.decode()
    table = html.split('data-testid="completeness-counties"', 1)[1].split("</table>", 1)[0]
    assert "忻府区" in table and "原平市" in table
    listed = html.split('data-testid="completeness-households"', 1)[1].split("</table>", 1)[0]
    assert f'href="{reverse("household-detail", args=[world["C-TICKET"].pk])}"' in listed
    assert "Y-1" in listed and "C-OK" not in listed  # only the incomplete are listed
    assert LABELS["tickets"] in listed
    # No personal data: neither the head's name nor the ID number.
    assert "户主C-TICKET" not in html and world["C-TICKET"].id_number not in html
    visits = page(client, municipal, missing="visit").content.decode()
    rows = re.findall(r'data-household="(\d+)"', visits)
    assert sorted(int(r) for r in rows) == sorted(
        world[c].pk for c in ("C-ONE-PHOTO", "C-NO-PLACE", "C-NO-VISIT", "Y-1")
    )


def test_a_county_official_sees_only_their_county(
    world: dict[str, Household], official: User, other_official: User, client: Client
) -> None:
    html = page(client, official).content.decode()
    assert (
        "原平市" not in html.split('data-testid="completeness-counties"', 1)[1].split("</table>")[0]
    )
    assert f'data-household="{world["Y-1"].pk}"' not in html
    assert f'data-household="{world["C-TICKET"].pk}"' in html
    theirs = page(Client(), other_official).content.decode()
    assert f'data-household="{world["Y-1"].pk}"' in theirs
    assert "C-TICKET" not in theirs
    # Another county's filter is no filter of theirs: refused, not ignored.
    assert page(Client(), official, county=county("原平市").pk).status_code == 400


def test_the_list_is_paged_by_fifty(
    tender: list[TenderItem], municipal: User, client: Client
) -> None:
    for n in range(53):
        household(f"P-{n:03d}", equipment=tender[0])
    first = page(client, municipal).content.decode()
    assert len(re.findall(r'data-household="', first)) == 50 and "1 / 2" in first
    second = page(client, municipal, page=2).content.decode()
    assert re.findall(r'data-household="\d+"><td>忻府区</td><td><a [^>]+>(P-\d+)', second) == [
        "P-050", "P-051", "P-052",
    ]  # fmt: skip
    past = page(client, municipal, page=9).content.decode()  # past the end: the last page
    assert "P-052" in past and "2 / 2" in past


def test_the_page_refuses_bad_input_other_methods_and_strangers(
    world: dict[str, Household], municipal: User, client: Client
) -> None:
    assert page(client, municipal, missing="nonsense").status_code == 400
    assert page(client, municipal, county="²").status_code == 400
    assert page(client, municipal, year=1999).status_code == 404
    assert client.post(reverse("evaluation-completeness")).status_code == 405
    anonymous = Client().get(reverse("evaluation-completeness"))
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]


# ---------------------------------------------------------------- the sample


def test_allocation_is_proportional_with_one_at_least() -> None:
    # 6 places beyond one each, over what is left (19, 5, 9, 0 of 33): 3.45, 0.91, 1.64, 0;
    # the two largest remainders (0.91, 0.64) take the last two.
    sizes = {"a": 20, "b": 6, "c": 10, "d": 1}
    assert allocate(sizes, 10) == {"a": 4, "b": 2, "c": 3, "d": 1}
    assert allocate(sizes, 2) == {"a": 1, "c": 1}  # fewer places than strata: the largest
    assert allocate(sizes, 100) == sizes  # never more than there is
    assert allocate({"a": 0, "b": 3}, 2) == {"b": 2}


STRATA = [("忻府区", HeatingPath.ELECTRIC, 20), ("忻府区", HeatingPath.GAS, 6),
          ("原平市", HeatingPath.ELECTRIC, 10), ("定襄县", HeatingPath.DISTRICT, 1)]  # fmt: skip


def populate(tender: list[TenderItem], reverse_order: bool = False) -> None:
    krs, _, bg = tender
    wanted = [
        (f"{where}-{path}-{n:02d}", where, path)
        for where, path, count in STRATA
        for n in range(count)
    ]
    for code, where, path in reversed(wanted) if reverse_order else wanted:
        equipment = {HeatingPath.ELECTRIC: krs, HeatingPath.GAS: bg}.get(path)
        household(code, where=where, path=path, equipment=equipment)


def codes(ids: list[int]) -> list[str]:
    by_pk = dict(Household.objects.values_list("pk", "code"))
    return [by_pk[pk] for pk in ids]


def test_the_sample_is_stratified_sized_and_ordered(tender: list[TenderItem]) -> None:
    populate(tender)
    ids = draw_sample(Household.objects.all(), seed="2024-04-30", size=10)
    assert len(ids) == len(set(ids)) == 10
    drawn = Household.objects.filter(pk__in=ids).select_related("county")
    per: dict[tuple[str, str], int] = {}
    for h in drawn:
        per[(h.county.short_name, h.path)] = per.get((h.county.short_name, h.path), 0) + 1
    assert per == {
        ("忻府区", HeatingPath.ELECTRIC): 4, ("忻府区", HeatingPath.GAS): 2,
        ("原平市", HeatingPath.ELECTRIC): 3, ("定襄县", HeatingPath.DISTRICT): 1,
    }  # fmt: skip
    ordered = sorted(drawn, key=lambda h: (h.county.order, h.path, h.code))
    assert ids == [h.pk for h in ordered]
    assert draw_sample(Household.objects.order_by("-code"), seed="2024-04-30", size=10) == ids
    assert draw_sample(Household.objects.all(), seed="2024-05-01", size=10) != ids


def test_the_same_seed_draws_the_same_households_whatever_the_row_order(
    tender: list[TenderItem],
) -> None:
    populate(tender)
    first = draw_sample(Household.objects.all(), seed="抽样-1", size=12)
    first_codes = codes(first)
    with household_writer():
        Household.objects.all().delete()
    populate(tender, reverse_order=True)  # other rows, other ids, the other way round
    again = draw_sample(Household.objects.all(), seed="抽样-1", size=12)
    assert codes(again) == first_codes
    assert set(again).isdisjoint(first)


# ---------------------------------------------------------------- the PDF


def pdf(ids: list[int], compress: bool = True, as_of: dt.date = AS_OF) -> bytes:
    out = io.BytesIO()
    write_evidence_pdf(
        ids, as_of=as_of, title="2023年度绩效自评佐证材料", out=out, compress=compress
    )
    return out.getvalue()


def shown(text: str) -> bytes:
    """Text as the page content holds it in the CID font: UTF-16BE, in a PDF string (bytes
    outside printable ASCII as octal escapes, backslash and parentheses escaped)."""
    out = []
    for byte in text.encode("utf-16-be"):
        if byte < 32 or byte >= 127:
            out.append(f"\\{byte:03o}")
        elif chr(byte) in "\\()":
            out.append("\\" + chr(byte))
        else:
            out.append(chr(byte))
    return "".join(out).encode("ascii")


def test_the_pdf_is_made_the_same_twice_and_masks_id_numbers(world: dict[str, Household]) -> None:
    ids = [world[c].pk for c in ("C-OK", "C-TICKET", "Y-1", "C-REVISIT")]
    made = pdf(ids)
    assert made.startswith(b"%PDF-") and made.rstrip().endswith(b"%%EOF")
    assert pdf(ids) == made
    assert pdf(list(reversed(ids))) != made  # the order given is the order printed
    plain = pdf(ids, compress=False)
    for code in ("C-OK", "C-TICKET", "Y-1"):
        h = world[code]
        assert shown(mask_id_number(h.id_number)) in plain  # the search does find text …
        assert shown(h.id_number) not in plain  # … and no whole number is there
        assert shown(h.head_name) in plain
    assert shown("138****5678") in plain and shown("13812345678") not in plain
    # One page per household at least, after the cover.
    assert len(re.findall(rb"/Type /Page\b", plain)) >= 1 + len(ids)
    # The later visit is left out before it happened.
    assert shown("2023-10-20 10:00") in plain
    assert shown("2023-10-20 10:00") not in pdf([world["C-OK"].pk], False, dt.date(2023, 10, 19))


def test_the_pdf_survives_a_missing_photo_file(world: dict[str, Household]) -> None:
    whole = pdf([world["C-OK"].pk], compress=False)
    assert whole.count(b"/Subtype /Image") == 2 and shown("照片文件缺失或无法读取") not in whole
    gone = InspectionPhoto.objects.filter(inspection__household=world["C-OK"]).first()
    assert gone is not None
    default_storage.delete(str(gone.image.name))
    plain = pdf([world["C-OK"].pk], compress=False)
    assert plain.startswith(b"%PDF-")
    assert shown("照片文件缺失或无法读取") in plain
    assert plain.count(b"/Subtype /Image") == 1  # the other photo is still there
