"""The ledger's shared rules, used by forms, the model and the import."""

from __future__ import annotations

import datetime as dt

import pytest

from retrofits.validators import (
    id_number_problem,
    phone_problem_and_value,
    village_name_keys,
)
from tests.ledger_files import IDS


@pytest.mark.parametrize("value", IDS)
def test_valid_id_numbers_pass(value: str) -> None:
    assert id_number_problem(value) is None


def test_a_pre_2000_area_code_is_still_valid() -> None:
    assert IDS[2].startswith("1422")
    assert id_number_problem(IDS[2]) is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("14090219650308012", "应为18位"),
        ("14090219650308012Y", "含其他字符"),
        ("1409021965030801２X", "含其他字符"),
        ("140902196513080127", "不存在"),
        ("140902180001010010", "不合理"),
        ("140902196503080121", "校验位错误"),
    ],
)
def test_invalid_id_numbers_say_why(value: str, problem: str) -> None:
    found = id_number_problem(value)
    assert found is not None and problem in found


def test_a_birth_date_in_the_future_is_refused() -> None:
    assert "不合理" in (id_number_problem("140902203001010018", today=dt.date(2026, 1, 1)) or "")


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("138 1234 5678", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("0350-3031234", "0350-3031234"),
        ("03503031234", "0350-3031234"),
        ("010-12345678", "010-12345678"),
        ("0350-3031234-801", "0350-3031234-801"),
        ("", ""),
    ],
)
def test_phones_are_normalised(value: str, normalized: str) -> None:
    assert phone_problem_and_value(value) == (None, normalized)


@pytest.mark.parametrize("value", ["12345678901", "3031234", "0350-12", "phone"])
def test_bad_phones_are_refused(value: str) -> None:
    assert phone_problem_and_value(value)[0] is not None


def test_village_names_match_without_their_suffix() -> None:
    assert village_name_keys("西街村委会") == {"西街村委会", "西街", "西街村"}
    assert village_name_keys("东大街社区居民委员会") == {"东大街社区居民委员会", "东大街社区"}
    assert village_name_keys("田村村委会") == {"田村村委会", "田村"}
