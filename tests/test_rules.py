"""The change rules (rules.change_problems), one function that both writers ask."""

from __future__ import annotations

import pytest

from retrofits.choices import Stage
from retrofits.rules import State, Via, change_problems

XINFU, DINGXIANG = 2, 3  # any two county ids: the rules only compare them


def fields(old: State | None, new: State, via: Via, reason: str = "") -> list[str]:
    return [p.field for p in change_problems(old, new, via=via, reason=reason)]


def at(stage: str, county: int = XINFU) -> State:
    return State(county, stage)


@pytest.mark.parametrize(
    ("old", "new", "needs"),
    [
        (None, Stage.COMPLETED, False),  # a household is registered at any stage but 已验收
        (Stage.CONFIRMED, Stage.SELECTED, False),
        (Stage.CONFIRMED, Stage.BUILDING, True),
        (Stage.BUILDING, Stage.SELECTED, True),
        (Stage.BUILDING, Stage.BUILDING, False),
    ],
)
@pytest.mark.parametrize("via", [Via.EDIT, Via.CORRECTION])
def test_skipping_or_going_back_needs_a_reason(
    old: str | None, new: str, needs: bool, via: Via
) -> None:
    before = None if old is None else at(old)
    assert fields(before, at(new), via) == (["reason"] if needs else [])
    assert fields(before, at(new), via, reason="补录漏报") == []


@pytest.mark.parametrize("stage", Stage.values)
def test_a_file_repeating_a_state_breaks_no_change_rule(stage: str) -> None:
    """The import asks only about states that change (ledger.store.database_errors)."""
    assert change_problems(at(stage), at(stage), via=Via.IMPORT) == []


def test_a_file_reports_a_skip_but_never_a_step_back() -> None:
    assert fields(at(Stage.CONFIRMED), at(Stage.COMPLETED), Via.IMPORT) == []
    (problem,) = change_problems(at(Stage.BUILDING), at(Stage.SELECTED), via=Via.IMPORT)
    assert (problem.field, problem.message) == (
        "stage",
        "实施进度不能从“施工中”回退到“已选型”（确需回退的，请在该户页面修改并填写原因）",
    )


@pytest.mark.parametrize("via", [Via.EDIT, Via.CORRECTION, Via.IMPORT])
def test_only_acceptance_makes_or_unmakes_accepted(via: Via) -> None:
    assert fields(at(Stage.COMPLETED), at(Stage.ACCEPTED), via, reason="x") == ["stage"]
    assert fields(at(Stage.ACCEPTED), at(Stage.COMPLETED), via, reason="x") == ["stage"]
    assert fields(None, at(Stage.ACCEPTED), via) == ["stage"]
    assert fields(at(Stage.ACCEPTED), at(Stage.ACCEPTED), via) == []


def test_acceptance_takes_a_completed_household_only() -> None:
    assert fields(at(Stage.COMPLETED), at(Stage.ACCEPTED), Via.ACCEPTANCE) == []
    (problem,) = change_problems(at(Stage.BUILDING), at(Stage.ACCEPTED), via=Via.ACCEPTANCE)
    assert problem.message == "该户实施进度为“施工中”，只有“已完工”的户可以验收"


@pytest.mark.parametrize("via", [Via.EDIT, Via.IMPORT, Via.ACCEPTANCE])
def test_the_county_changes_only_by_a_correction(via: Via) -> None:
    stage = Stage.ACCEPTED if via is Via.ACCEPTANCE else Stage.COMPLETED
    old, new = at(Stage.COMPLETED, XINFU), at(stage, DINGXIANG)
    assert fields(old, new, via, reason="录入错误") == ["county"]
    old, new = at(Stage.BUILDING, XINFU), at(Stage.BUILDING, DINGXIANG)
    assert fields(old, new, Via.CORRECTION) == ["reason"]
    assert fields(old, new, Via.CORRECTION, reason="录入错误，应为定襄县") == []


def test_a_county_refusal_names_no_other_county() -> None:
    for via in (Via.EDIT, Via.IMPORT):
        (problem,) = change_problems(at(Stage.BUILDING), at(Stage.BUILDING, 9), via=via)
        assert "系统管理员" in problem.message
        assert "忻府区" not in problem.message
