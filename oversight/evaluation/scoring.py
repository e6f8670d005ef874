"""Scores (项目支出绩效自评表): each indicator's actual value against its target, weighted.

At least (正向): actual ÷ target × weight, never above the weight (a target of 0 asks nothing: the
full weight). At most (反向): the full weight while the actual stays within the target, past it
target ÷ actual × weight (a target of 0 then gives nothing). An indicator with no value yet or no
target scores 0 and says so: the rehearsal shows it first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from heating.models import PlanYear
from oversight.evaluation.measures import MEASURES, Actual, Context
from oversight.evaluation.models import Direction, Indicator

CENT = Decimal("0.01")


def score(
    *, weight: Decimal, direction: str, target: Decimal | None, actual: Decimal | None
) -> Decimal:
    if actual is None or target is None:
        return Decimal("0.00")
    if direction == Direction.AT_MOST:
        earned = weight if actual <= target else weight * target / actual
    elif target == 0:
        earned = weight
    else:
        earned = min(weight, weight * actual / target)
    return earned.quantize(CENT, ROUND_HALF_UP)


def plain(value: Decimal) -> str:
    """A figure as people write it: no trailing zeros, thousands apart."""
    return f"{value.normalize():,f}"


@dataclass(frozen=True)
class Row:
    indicator: Indicator
    actual: Actual
    target: Decimal | None
    from_plan: bool  # the target is the plan's own (not typed by the bureau)
    score: Decimal

    @property
    def lost(self) -> Decimal:
        return self.indicator.weight - self.score

    @property
    def measure_label(self) -> str:
        found = MEASURES.get(self.indicator.measure)
        return found.label if found else "（取数口径未定义）"

    @property
    def advice(self) -> str:
        """What would raise the score most: the gap to the full weight, in the indicator's unit."""
        unit = self.indicator.unit
        if self.actual.value is None:
            return f"暂无数据，得0分；有数据后按口径计分（{self.measure_label}）"
        if self.target is None:
            return "未设定年度指标值，得0分；请填写年度指标值"
        if not self.lost:
            return "已得满分"
        gap = abs(self.actual.value - self.target)
        if self.indicator.direction == Direction.AT_MOST:
            return (
                f"降低 {plain(gap)}{unit}（至 {plain(self.target)}{unit} 以内）可加 {self.lost} 分"
            )
        return f"再提高 {plain(gap)}{unit}（达到 {plain(self.target)}{unit}）可加 {self.lost} 分"


@dataclass(frozen=True)
class Evaluation:
    plan_year: PlanYear
    as_of: dt.date
    rows: list[Row]

    @property
    def total(self) -> Decimal:
        return sum((r.score for r in self.rows), Decimal("0.00"))

    @property
    def weight(self) -> Decimal:
        return sum((r.indicator.weight for r in self.rows), Decimal("0.00"))

    def by_level1(self) -> list[tuple[str, Decimal, Decimal]]:
        """(一级指标, 分值, 得分) in the table's order."""
        found: dict[str, tuple[Decimal, Decimal]] = {}
        for r in self.rows:
            weight, earned = found.get(r.indicator.level1, (Decimal(0), Decimal(0)))
            found[r.indicator.level1] = (weight + r.indicator.weight, earned + r.score)
        return [(name, w, s) for name, (w, s) in found.items()]

    def raising(self) -> list[Row]:
        """The rows that lose points, the most lost first: what would raise the total most."""
        return sorted(
            (r for r in self.rows if r.lost > 0), key=lambda r: (-r.lost, r.indicator.order)
        )


def measured(ctx: Context, keys: set[str]) -> dict[str, Actual]:
    """The actual values of these measures (an unknown one: no value)."""
    return {
        key: MEASURES[key].read(ctx) if key in MEASURES else Actual(None) for key in sorted(keys)
    }


def evaluate(
    *,
    plan_year: PlanYear,
    as_of: dt.date,
    context: Context | None = None,
    actuals: dict[str, Actual] | None = None,
) -> Evaluation:
    """The year's indicators scored as of the day; `actuals` measured before (the rehearsal page
    keeps them a few minutes) spare the measuring."""
    indicators = list(Indicator.objects.filter(plan_year=plan_year).order_by("order"))
    wanted = {i.measure for i in indicators}
    if actuals is None or not wanted <= actuals.keys():
        actuals = measured(context or Context(plan_year=plan_year, as_of=as_of), wanted)
    rows = []
    for indicator in indicators:
        actual = actuals[indicator.measure]
        target = indicator.target if indicator.target is not None else actual.plan_target
        rows.append(
            Row(
                indicator=indicator,
                actual=actual,
                target=target,
                from_plan=indicator.target is None and target is not None,
                score=score(
                    weight=indicator.weight,
                    direction=indicator.direction,
                    target=target,
                    actual=actual.value,
                ),
            )
        )
    return Evaluation(plan_year=plan_year, as_of=as_of, rows=rows)
