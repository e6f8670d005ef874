"""Where each county, and each cell of its task table (path × 城区/县城 · 农村), stands against its
dates: done, on course, at risk at its recent pace, or overdue; its projected finish; the
households beyond the cell's target (超改抢跑). A county stands where its weakest cell stands: extra
households on one path never hide a shortfall on another (保德县's 煤改电 cannot make up for its
煤改气)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from django.core.cache import cache
from django.db import connection
from django.db.models import Max, QuerySet, Sum

from acceptance.selectors import building_progress
from heating.models import AreaType, HeatingPath, PlanYear, Target
from heating.models.plan import CountyWindow
from oversight.dashboards.progress import CountyProgress, Figures, ProgressReport
from retrofits.models import RollupRun, TrendPoint

PACE_DAYS = 14
# How long what a run's trend points give is kept (Trend.line, Trend._reached).
TREND_SECONDS = 600


@dataclass(frozen=True)
class Status:
    label: str  # 已完成 / 正常 / 有风险 / 逾期
    css: str  # done / ok / risk / overdue
    detail: str

    @property
    def rank(self) -> int:
        """Lower is further behind: a county stands where its weakest cell does."""
        return RANKS[self.css]


RANKS = {"overdue": 0, "risk": 1, "ok": 2, "done": 3}


def status_of(figures: Figures, *, due: dt.date, today: dt.date, pace_per_day: float) -> Status:
    """Against a works deadline: done, overdue, or at risk at the recent pace."""
    left = figures.target - figures.completed
    if left <= 0:
        return Status("已完成", "done", f"施工截止 {due:%m月%d日}")
    if today > due:
        return Status("逾期", "overdue", f"施工截止 {due:%Y年%m月%d日} 已过，尚余 {left:,} 户")
    days = (due - today).days
    if pace_per_day * days >= left:
        return Status(
            "正常", "ok", f"近{PACE_DAYS}天日均完工 {pace_per_day:,.0f} 户，距截止 {days} 天"
        )
    return Status(
        "有风险",
        "risk",
        f"按近{PACE_DAYS}天日均 {pace_per_day:,.0f} 户，截止前尚差约 {left - int(pace_per_day * days):,} 户",
    )


def county_status(
    progress: CountyProgress, *, plan_year: PlanYear, today: dt.date, pace_per_day: float
) -> Status:
    """The county's total against its works deadline (the cells' standing: county_standing)."""
    due = plan_year.works_due_for(progress.county)
    return status_of(progress.total, due=due, today=today, pace_per_day=pace_per_day)


def projection(
    *,
    target: int,
    completed: int,
    pace_per_day: float,
    today: dt.date,
    deadline: dt.date,
    finished_on: dt.date | None = None,
) -> dict[str, Any]:
    """When the works finish at the pace of the last PACE_DAYS days; finished, the day they did
    (`finished_on`), not a projection."""
    left = max(target - completed, 0)
    finish: dt.date | None
    if left == 0:
        finish = finished_on
        said = f"已于 {finished_on:%Y年%m月%d日} 全部完工" if finished_on else "已全部完工"
        return {
            "pace_per_day": round(pace_per_day, 1),
            "left": 0,
            "expected_finish": finish.isoformat() if finish else None,
            "finished": True,
            "deadline": deadline.isoformat(),
            "on_time": finish is None or finish <= deadline,
            "said": said,
        }
    if pace_per_day <= 0:
        finish, said = None, f"近{PACE_DAYS}天无完工，按此进度无法完成"
    else:
        finish = today + dt.timedelta(days=math.ceil(left / pace_per_day))
        said = f"按近{PACE_DAYS}天日均 {pace_per_day:,.0f} 户，预计 {finish:%Y年%m月%d日} 完工"
    return {
        "pace_per_day": round(pace_per_day, 1),
        "left": left,
        "expected_finish": finish.isoformat() if finish else None,
        "finished": False,
        "deadline": deadline.isoformat(),
        "on_time": finish is not None and finish <= deadline,
        "said": said,
    }


@dataclass(frozen=True)
class CellStanding:
    """One cell of a county's task table (a path × 城区/县城 or 农村)."""

    path: str
    area: str
    figures: Figures
    status: Status | None  # None for a cell without a target (only households beyond it)
    projection: dict[str, Any] | None
    over_target: int  # households beyond the cell's target (超改抢跑), every stage counted

    @property
    def label(self) -> str:
        return f"{HeatingPath(self.path).label}·{AreaType(self.area).label}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "area": self.area,
            **self.figures.as_dict(),
            "status": self.status.label if self.status else None,
            "over_target": self.over_target,
            "projection": self.projection,
        }


@dataclass(frozen=True)
class CountyStanding:
    progress: CountyProgress
    window: CountyWindow
    cells: list[CellStanding]
    status: Status
    projection: dict[str, Any]

    @property
    def behind(self) -> list[CellStanding]:
        """The cells that set the county's status (none once every cell is done)."""
        if self.status.css == "done":
            return []
        return [c for c in self.cells if c.status and c.status.rank == self.status.rank]

    @property
    def over_target(self) -> int:
        return sum(c.over_target for c in self.cells)

    @property
    def over_cells(self) -> list[CellStanding]:
        return [c for c in self.cells if c.over_target]

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.label,
            "status_detail": self.status.detail,
            "works_due": self.window.works_due.isoformat(),
            "acceptance_due": self.window.acceptance_due.isoformat(),
            "over_target": self.over_target,
            "projection": self.projection,
        }


def county_standing(
    progress: CountyProgress, *, plan_year: PlanYear, today: dt.date, trend: Trend
) -> CountyStanding:
    """Each cell with a target, or with households, against the county's dates; the county
    stands where its weakest cell does, and finishes when its last cell does."""
    county = progress.county
    window = plan_year.window_for(county)
    cells: list[CellStanding] = []
    for path in HeatingPath.values:
        for area in AreaType.values:
            figures = progress.cells.get((path, area)) or Figures()
            if not figures.target and not figures.households:
                continue
            over = max(figures.households - figures.target, 0)
            status = cell_projection = None
            if figures.target:
                pace = trend.pace(county.pk, today, (path, area))
                status = status_of(figures, due=window.works_due, today=today, pace_per_day=pace)
                cell_projection = projection(
                    target=figures.target, completed=figures.completed, pace_per_day=pace,
                    today=today, deadline=window.works_due,
                    finished_on=trend.reached(county.pk, (path, area), plan_year),
                )  # fmt: skip
            cells.append(CellStanding(path, area, figures, status, cell_projection, over))
    targeted = [c for c in cells if c.status is not None]
    if not targeted:  # a unit with no household targets
        status = status_of(progress.total, due=window.works_due, today=today, pace_per_day=0)
        return CountyStanding(progress, window, cells, status, {})
    weakest = min(targeted, key=lambda c: c.status.rank if c.status else 9)
    assert weakest.status is not None
    behind = [c for c in targeted if c.status and c.status.rank == weakest.status.rank]
    status = weakest.status
    if status.css != "done":
        names = "、".join(c.label for c in behind)
        left = sum(max(c.figures.target - c.figures.completed, 0) for c in behind)
        status = Status(status.label, status.css, f"{names}：{status.detail}" if len(behind) == 1
                        else f"{names}尚余 {left:,} 户（施工截止 {window.works_due:%Y年%m月%d日}）")  # fmt: skip
    return CountyStanding(progress, window, cells, status, _county_projection(targeted, window))


def progress_with_standing(report: ProgressReport, *, today: dt.date) -> dict[str, Any]:
    """The report as /api/progress and `progress --json` give it: each county and each cell
    with its status, dates and the households beyond its target."""
    data = report.as_dict()
    trend = Trend((c.county.pk for c in report.counties), report.plan_year)
    buildings = building_progress(
        plan_year=report.plan_year, counties=[c.county for c in report.counties]
    )
    data["building_m2"] = buildings.as_dict()
    for county, shown in zip(report.counties, data["counties"], strict=True):
        standing = county_standing(county, plan_year=report.plan_year, today=today, trend=trend)
        shown.update(standing.as_dict())
        shown["cells"] = [cell.as_dict() for cell in standing.cells]
        shown["building_m2"] = buildings.of(county.county.short_name)
    return data


def _county_projection(cells: list[CellStanding], window: CountyWindow) -> dict[str, Any]:
    """The county finishes when its last cell does: the latest of the cells' finishes (none if
    one of them cannot finish at its pace)."""
    projections = [c.projection for c in cells if c.projection is not None]
    left = sum(p["left"] for p in projections)
    finishes = [p["expected_finish"] for p in projections]
    pace = sum(p["pace_per_day"] for p in projections)
    if left == 0:
        known = [f for f in finishes if f]
        finish = max(known) if len(known) == len(finishes) and known else None
        return {
            "pace_per_day": round(pace, 1), "left": 0, "expected_finish": finish,
            "finished": True, "deadline": window.works_due.isoformat(),
            "on_time": finish is None or finish <= window.works_due.isoformat(),
            "said": f"已于 {dt.date.fromisoformat(finish):%Y年%m月%d日} 全部完工" if finish
            else "已全部完工",
        }  # fmt: skip
    unfinished = [p for p in projections if not p["finished"]]
    stuck = [c.label for c in cells if c.projection and not c.projection["finished"]
             and c.projection["expected_finish"] is None]  # fmt: skip
    finish = None if stuck else max(p["expected_finish"] for p in unfinished)
    if stuck:
        said = f"{'、'.join(stuck)}近{PACE_DAYS}天无完工，按此进度无法完成"
    else:
        assert finish is not None
        said = f"按近{PACE_DAYS}天各路径进度，预计 {dt.date.fromisoformat(finish):%Y年%m月%d日} 全部完工"
    return {
        "pace_per_day": round(pace, 1), "left": left, "expected_finish": finish,
        "finished": False, "deadline": window.works_due.isoformat(),
        "on_time": finish is not None and finish <= window.works_due.isoformat(), "said": said,
    }  # fmt: skip


Cell = tuple[str, str]  # (path, area type): a cell of the task table


class Trend:
    """The counties' daily completions and acceptances as the latest count found them, by target
    cell, from the households' own dates (TrendPoint): the page's line, each cell's recent pace
    and the day each cell reached its target. Each is summed by the database in one query when
    first asked (a whole season is tens of thousands of points: a page reads a few hundred)."""

    def __init__(self, counties: Iterable[int], plan_year: PlanYear) -> None:
        self.run = RollupRun.objects.latest_complete()
        self.plan_year = plan_year  # its households only
        self.counties = sorted(set(counties))
        self._paces: dict[dt.date, dict[tuple[int, str, str], int]] = {}
        self._reached_by_year: dict[int, dict[tuple[int, str, str], dt.date]] = {}

    def _points(self) -> QuerySet[TrendPoint]:
        return TrendPoint.objects.filter(
            run=self.run, plan_year=self.plan_year, county__in=self.counties
        )

    def line(self) -> list[tuple[str, int, int]]:
        """(day, completed, accepted) to date over these counties, for every day some household
        completed or was accepted: the whole season however late counting began."""
        if self.run is None:
            return []
        # A run's points never change: kept for it (a season's days cost a page 6 ms).
        key = f"line:{self.run.pk}:{self.plan_year.pk}:{','.join(map(str, self.counties))}"
        return cast(list[tuple[str, int, int]], cache.get_or_set(key, self._line, TREND_SECONDS))

    def _line(self) -> list[tuple[str, int, int]]:
        days = (
            self._points()
            .values("day")
            .annotate(c=Sum("completed"), a=Sum("accepted"))
            .order_by("day")
            .values_list("day", "c", "a")
        )
        completed = accepted = 0
        line = []
        for day, c, a in days:
            completed += c
            accepted += a
            line.append((f"{day:%Y-%m-%d}", completed, accepted))
        return line

    def pace(self, county_id: int, today: dt.date, cell: Cell | None = None) -> float:
        """Households completed per day over the last PACE_DAYS days (in one cell, or all)."""
        if today not in self._paces:
            start = today - dt.timedelta(days=PACE_DAYS)
            rows = (
                self._points().filter(day__gt=start, day__lte=today)
                .values("county", "path", "area").annotate(n=Sum("completed"))
                .values_list("county", "path", "area", "n")
                if self.run is not None
                else []
            )  # fmt: skip
            self._paces[today] = {(c, p, a): n for c, p, a, n in rows}
        paces = self._paces[today]
        if cell is not None:
            return paces.get((county_id, *cell), 0) / PACE_DAYS
        return sum(n for (c, _, _), n in paces.items() if c == county_id) / PACE_DAYS

    def reached(self, county_id: int, cell: Cell, plan_year: PlanYear) -> dt.date | None:
        """The day a cell's completions reached its target (None: not yet, or no target). The
        database sums each cell's days running (a window function) and keeps, for each cell, the
        first day at or past its target: one row a cell."""
        if self.run is None:
            return None
        if plan_year.year not in self._reached_by_year:
            self._reached_by_year[plan_year.year] = self._reached(plan_year)
        return self._reached_by_year[plan_year.year].get((county_id, *cell))

    def _reached(self, plan_year: PlanYear) -> dict[tuple[int, str, str], dt.date]:
        # A run's points never change, and the targets seldom: the days are kept until either
        # does. Counted anew they cost a dashboard 14 ms: PostgreSQL never has statistics of the
        # latest run, so it joins the targets to the points one point at a time.
        assert self.run is not None
        run = self.run
        targets = Target.history.aggregate(last=Max("history_id"))["last"]
        key = (
            f"reached:{run.pk}:{self.plan_year.pk}:{plan_year.year}:{targets}:"
            f"{','.join(map(str, self.counties))}"
        )

        def count() -> dict[tuple[int, str, str], dt.date]:
            point, target = TrendPoint._meta.db_table, Target._meta.db_table
            counties = ", ".join(["%s"] * len(self.counties)) or "NULL"
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT r.county_id, r.path, r.area, MIN(r.day) FROM ("
                    "SELECT county_id, path, area, day, SUM(completed) OVER "
                    "(PARTITION BY county_id, path, area ORDER BY day) AS running "
                    f"FROM {point} WHERE run_id = %s AND plan_year_id = %s "
                    f"AND county_id IN ({counties})) r "
                    f"JOIN {target} t ON t.county_id = r.county_id AND t.path = r.path "
                    "AND t.area = r.area AND t.plan_year_id = %s "
                    "WHERE t.households > 0 AND r.running >= t.households "
                    "GROUP BY r.county_id, r.path, r.area",
                    [run.pk, self.plan_year.pk, *self.counties, plan_year.year],
                )
                return {(c, p, a): _as_date(day) for c, p, a, day in cursor.fetchall()}

        return cast(
            dict[tuple[int, str, str], dt.date], cache.get_or_set(key, count, TREND_SECONDS)
        )


def _as_date(value: Any) -> dt.date:
    """A date as the database gives it from raw SQL (SQLite: text)."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
