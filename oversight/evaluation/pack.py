"""The self-evaluation pack (绩效自评材料) of a plan year as of a day: what it says, gathered once
from the portal's own figures, and its digest. The report (.docx), the 绩效自评表 (.xlsx) and the
evidence sample (.pdf) are written from this content alone, so that the same year, day and seed
give the same content and the same digest, printed in each file."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils import timezone

from aftercare.selectors import MonthFigures
from heating.models import County, PlanYear, Target
from oversight.dispatch.models import CountyReport, ReportStatus
from oversight.evaluation.completeness import CountyCompleteness
from oversight.evaluation.evidence import draw_sample, write_evidence_pdf
from oversight.evaluation.measures import Context, pct
from oversight.evaluation.scoring import Evaluation, evaluate
from retrofits.choices import DONE_STAGES
from subsidies.funds import FundLine

Progress = Callable[[str, int], None]  # (step, percent)


@dataclass(frozen=True)
class CountyLine:
    county: str
    target: int
    done: int
    accepted: int

    @property
    def done_pct(self) -> Decimal | None:
        return pct(self.done, self.target)


@dataclass(frozen=True)
class Problem:
    county: str
    round: str
    accepted_on: dt.date
    problems: str
    next_steps: str


@dataclass
class PackContent:
    plan_year: PlanYear
    as_of: dt.date
    seed: str
    evaluation: Evaluation
    counties: list[CountyLine]
    funds: list[FundLine]
    tickets: list[MonthFigures]
    completeness: list[CountyCompleteness]
    problems: list[Problem]
    sample: list[int]
    made_at: dt.datetime = field(default_factory=timezone.now)

    def canonical(self) -> dict[str, Any]:
        """Everything the pack states, in a fixed order and plain types: what the digest covers
        (not when it was made)."""
        return {
            "year": self.plan_year.year,
            "as_of": self.as_of.isoformat(),
            "seed": self.seed,
            "indicators": [
                [
                    r.indicator.code,
                    str(r.indicator.weight),
                    r.indicator.direction,
                    None if r.target is None else str(r.target),
                    None if r.actual.value is None else str(r.actual.value),
                    str(r.score),
                    r.actual.basis,
                    r.indicator.deviation,
                ]
                for r in self.evaluation.rows
            ],
            "counties": [[c.county, c.target, c.done, c.accepted] for c in self.counties],
            "funds": [
                [f.county.short_name, f.source, str(f.allocated), str(f.spent)] for f in self.funds
            ],
            "tickets": [
                [
                    t.county.short_name,
                    t.received,
                    t.closed,
                    t.closed_on_time,
                    t.called_back,
                    t.satisfied,
                ]
                for t in self.tickets
            ],
            "completeness": [
                [c.county.short_name, c.households, c.complete, c.average, c.buckets]
                for c in self.completeness
            ],
            "problems": [
                [p.county, p.round, p.accepted_on.isoformat(), p.problems, p.next_steps]
                for p in self.problems
            ],
            "sample": self.sample,
        }

    @property
    def digest(self) -> str:
        text = json.dumps(self.canonical(), ensure_ascii=False, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _county_lines(ctx: Context) -> list[CountyLine]:
    targets = dict(
        Target.objects.filter(plan_year=ctx.plan_year)
        .values("county")
        .annotate(n=Sum("households"))
        .order_by()
        .values_list("county", "n")
    )
    counted = {
        row["county"]: row
        for row in ctx.households()
        .values("county")
        .annotate(
            done=Count("pk", filter=Q(stage__in=DONE_STAGES, completed_on__lte=ctx.as_of)),
            accepted=Count("pk", filter=Q(accepted_on__lte=ctx.as_of)),
        )
        .order_by()
    }
    return [
        CountyLine(
            c.short_name,
            targets.get(c.pk, 0),
            counted.get(c.pk, {}).get("done", 0),
            counted.get(c.pk, {}).get("accepted", 0),
        )
        for c in ctx.counties
    ]


def _problems(ctx: Context) -> list[Problem]:
    """Each county's latest report the bureau accepted by as_of that names problems (调度)."""
    found: dict[int, Problem] = {}
    for report in (
        CountyReport.objects.filter(
            round__plan_year=ctx.plan_year,
            status=ReportStatus.ACCEPTED,
            accepted_at__date__lte=ctx.as_of,
        )
        .exclude(problems="")
        .select_related("round", "county")
        .order_by("county__order", "-accepted_at", "-pk")
    ):
        if report.county_id in found or report.accepted_at is None:
            continue
        found[report.county_id] = Problem(
            report.county.short_name,
            report.round.title,
            timezone.localdate(report.accepted_at),
            report.problems,
            report.next_steps,
        )
    return list(found.values())


def gather(
    *,
    plan_year: PlanYear,
    as_of: dt.date,
    seed: str,
    sample_size: int,
    progress: Progress | None = None,
) -> PackContent:
    step = progress or (lambda _step, _pct: None)
    ctx = Context(plan_year=plan_year, as_of=as_of, counties=list(County.objects.order_by("order")))
    step("计算绩效指标", 5)
    evaluation = evaluate(plan_year=plan_year, as_of=as_of, context=ctx)
    step("汇总各县数据", 35)
    completed = ctx.households().filter(stage__in=DONE_STAGES, completed_on__lte=as_of)
    content = PackContent(
        plan_year=plan_year,
        as_of=as_of,
        seed=seed,
        evaluation=evaluation,
        counties=_county_lines(ctx),
        funds=ctx.funds,
        tickets=sorted(ctx.tickets.totals.values(), key=lambda t: t.county.order),
        completeness=ctx.completeness,
        problems=_problems(ctx),
        sample=draw_sample(completed, seed=seed, size=sample_size),
    )
    return content


@dataclass(frozen=True)
class PackFiles:
    report: Path
    table: Path
    evidence: Path


def write_pack(content: PackContent, out: Path, *, progress: Progress | None = None) -> PackFiles:
    """The three files into the directory `out`."""
    from oversight.evaluation.report import write_report
    from oversight.evaluation.table import write_table

    step = progress or (lambda _step, _pct: None)
    out.mkdir(parents=True, exist_ok=True)
    year = content.plan_year.year
    files = PackFiles(
        report=out / f"{year}年度清洁取暖绩效自评报告.docx",
        table=out / f"{year}年度绩效自评表.xlsx",
        evidence=out / f"{year}年度一户一档抽样.pdf",
    )
    step("生成绩效自评表", 45)
    files.table.write_bytes(write_table(content))
    step("绘制图表、生成自评报告", 55)
    files.report.write_bytes(write_report(content))
    step(f"生成一户一档抽样（{len(content.sample)} 户）", 70)
    with files.evidence.open("wb") as handle:
        write_evidence_pdf(
            content.sample,
            as_of=content.as_of,
            title=f"{year}年度清洁取暖一户一档抽样（种子 {content.seed}，摘要 {content.digest[:16]}）",
            out=handle,
        )
    step("完成", 100)
    return files
