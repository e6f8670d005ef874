"""The upward .docx reads as a Chinese official document (GB/T 9704: A4, black headings) and says
what the round holds: how many counties reported, which did not, and a 合计 row like the xlsx's."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django.urls import reverse
from docx import Document
from docx.shared import Mm, RGBColor

from heating.models import User
from oversight.dispatch.upward import _chinese
from tests.conftest import login
from tests.test_dispatch import accepted_round, approver, ledger  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def document(
    ledger: None,  # noqa: F811
    municipal: User,
    official: User,
    approver: User,  # noqa: F811
    other_official: User,
) -> object:
    dispatch_round = accepted_round(municipal, official, approver, other_official)
    response = login(Client(), municipal).get(
        reverse("dispatch-upward-docx", args=[dispatch_round.pk])
    )
    assert response.status_code == 200
    return Document(io.BytesIO(response.content))


def test_it_says_who_reported_and_who_did_not(document: object) -> None:
    """Two of sixteen reported (忻府区 accepted, 原平市 submitted); fourteen did not."""
    text = "\n".join(p.text for p in document.paragraphs)  # type: ignore[attr-defined]
    assert "各县均按时报送" not in text
    assert "全市 16 个县（市、区）中，2 个已报送，14 个未报送（" in text
    assert "定襄县" in text.split("未报送（", 1)[1].split("）", 1)[0]


def test_it_is_a4_with_official_margins(document: object) -> None:
    section = document.sections[0]  # type: ignore[attr-defined]
    assert abs(section.page_width - Mm(210)) < Mm(1) and abs(section.page_height - Mm(297)) < Mm(1)
    assert abs(section.top_margin - Mm(37)) < Mm(1) and abs(section.left_margin - Mm(28)) < Mm(1)


def test_its_headings_are_plain_black(document: object) -> None:
    headings = [p for p in document.paragraphs if p.style.name.startswith("Heading")]  # type: ignore[attr-defined]
    assert headings
    for paragraph in headings:
        color = paragraph.style.font.color
        assert color.rgb == RGBColor(0, 0, 0) and color.theme_color is None, paragraph.text
    assert headings[0].text == "一、各县进度（市级已确认）"


def test_its_table_has_a_total_row(document: object) -> None:
    progress = document.tables[0]  # type: ignore[attr-defined]
    rows = [[c.text for c in r.cells] for r in progress.rows]
    assert [r[0] for r in rows] == ["县（市、区）", "忻府区", "合计"]
    assert rows[2][1:4] == rows[1][1:4]  # one accepted county: the total is its figures


def test_chinese_numbers_for_a_list() -> None:
    assert [_chinese(n) for n in (1, 9, 10, 11, 16, 20, 21)] == [
        "一", "九", "十", "十一", "十六", "二十", "二十一",
    ]  # fmt: skip
