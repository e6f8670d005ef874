"""The rules about a household's state, each written once and asked by both writers of households:
the one-household service (`services.household_save`) and the ledger engine's store
(`retrofits/ledger/store.py`).

- **Value rules** check one row's own values: `validators.py`, used by the model, the forms and
  the import's row checks.
- **Change rules** compare the old row with the new one: `change_problems`. The service asks it of
  its one household; the import asks it of each distinct (old, new) pair its staging join finds.
- **Plan rules** are set-based checks over the households a write touched, run after the write
  inside the writer's transaction, under the touched counties' locks (`lock_counties`), so that one
  query serves a form save and a 209,683-row import alike and two writes that each fit a limit alone
  cannot both pass together. Any app registers its own (`register_plan_rule`, from
  `AppConfig.ready()`); a breach refuses the whole write.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from heating.models import County
from retrofits.choices import Stage

if TYPE_CHECKING:
    from retrofits.models import Household, HouseholdQuerySet


class Via(enum.StrEnum):
    """How a household is written: the change rules differ by way."""

    EDIT = "edit"  # one household by a person: the form, an API call, a management command
    CORRECTION = "correction"  # an administrator's correction (the admin)
    ACCEPTANCE = "acceptance"  # a passing acceptance visit
    IMPORT = "import"  # a ledger file: the web upload, the CLI, the demo generator


class State(NamedTuple):
    """What the change rules compare between the old row and the new one."""

    county_id: int
    stage: str

    @classmethod
    def of(cls, household: Household) -> State:
        return cls(household.county_id, household.stage)


@dataclass(frozen=True)
class Problem:
    field: str  # the Household field (the import's column); "reason" for the reason asked
    message: str


def _label(stage: str) -> str:
    return Stage(stage).label


def change_problems(old: State | None, new: State, *, via: Via, reason: str = "") -> list[Problem]:
    """What is wrong with changing a household from `old` (None: a new household) to `new`.

    - 已验收 is made and unmade only by acceptance, which takes a household from 已完工 only;
    - a stage that skips a step or goes back needs a reason, kept in the history. A ledger file
      gives the reason for a skip (it is the county's periodic report, named in the history), but
      never for a step back: a file row carries no reason;
    - a household's county changes only by an administrator's correction, with a reason.
    """
    problems: list[Problem] = []
    explained = bool(reason.strip())
    if old is None:
        if new.stage == Stage.ACCEPTED and via is not Via.ACCEPTANCE:
            problems.append(Problem("stage", "“已验收”只能由验收记录产生"))
        return problems

    if via is Via.ACCEPTANCE:
        if (old.stage, new.stage) != (Stage.COMPLETED, Stage.ACCEPTED):
            problems.append(
                Problem(
                    "stage",
                    f"该户实施进度为“{_label(old.stage)}”，只有“已完工”的户可以验收",
                )
            )
    elif new.stage == Stage.ACCEPTED and old.stage != Stage.ACCEPTED:
        problems.append(Problem("stage", "“已验收”只能由验收记录产生"))
    elif old.stage == Stage.ACCEPTED and new.stage != Stage.ACCEPTED:
        problems.append(Problem("stage", "该户已验收，实施进度只能由验收记录更改"))
    elif old.stage != new.stage:
        step = Stage.rank(new.stage) - Stage.rank(old.stage)
        before, after = _label(old.stage), _label(new.stage)
        if step < 0 and via is Via.IMPORT:
            problems.append(
                Problem(
                    "stage",
                    f"实施进度不能从“{before}”回退到“{after}”"
                    "（确需回退的，请在该户页面修改并填写原因）",
                )
            )
        elif step != 1 and via is not Via.IMPORT and not explained:
            kind = "回退到" if step < 0 else "跨越阶段到"
            problems.append(Problem("reason", f"实施进度从“{before}”{kind}“{after}”，请填写原因"))

    if old.county_id != new.county_id:
        if via is Via.CORRECTION:
            if not explained:
                problems.append(Problem("reason", "更正户所属的县（市、区）须填写原因"))
        elif via is Via.IMPORT:
            problems.append(
                Problem(
                    "county",
                    "该户编号已登记在其他县（市、区），导入不能更改户所属的县（市、区）；"
                    "确需更正的，请联系系统管理员",
                )
            )
        else:
            problems.append(Problem("county", "户所属的县（市、区）只能由系统管理员更正并填写原因"))
    return problems


# ---------------------------------------------------------------- plan rules


@dataclass(frozen=True)
class Touched:
    """What a write touched: the households it created or changed, and their counties (before
    and after the write)."""

    counties: frozenset[int]
    households: HouseholdQuerySet


@dataclass(frozen=True)
class Breach:
    """A plan rule broken by a write: the field (the import's column) to blame, a Chinese message
    naming the county or village and the numbers, and the touched households that count against
    the rule, by 户编号, so that an import can name their sheet rows."""

    field: str
    message: str
    county_id: int | None = None
    village_id: int | None = None
    codes: tuple[str, ...] = ()


PlanRule = Callable[[Touched], Iterable[Breach]]
PLAN_RULES: dict[str, PlanRule] = {}


def register_plan_rule(name: str, rule: PlanRule) -> None:
    """Add a plan rule (from an AppConfig.ready()): every writer of households runs it."""
    PLAN_RULES[name] = rule


def plan_breaches(touched: Touched) -> list[Breach]:
    """Every registered rule's breaches. Run after the write, inside its transaction."""
    if not touched.counties:
        return []
    return [breach for rule in list(PLAN_RULES.values()) for breach in rule(touched)]


def lock_counties(county_ids: Iterable[int]) -> None:
    """The per-county lock every writer of households takes before it checks, always in the
    counties' order so that two writers never wait for each other in a circle. Held until the
    writer's transaction ends. (SQLite has no row locks: it lets one writer in at a time.)

    FOR NO KEY UPDATE, not FOR UPDATE: it stops the county's other writers all the same, but not
    the foreign-key checks of rows that merely name the county (a rollup's counts, an import
    job), which FOR UPDATE would hold at their COMMIT until the writer ends."""
    ids = sorted(set(county_ids))
    if ids:
        counties = County.objects.select_for_update(no_key=True).filter(pk__in=ids)
        list(counties.order_by("pk").values("pk"))
