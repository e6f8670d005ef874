"""The self-evaluation report (.docx, GB/T 9704's look as the upward dispatch report): a summary,
a section per part of the plan with its figures and charts, the counties' problems from their
accepted dispatch reports, and the indicator table. Written from the pack's content only."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from docx import Document
from docx.shared import Mm

from oversight.evaluation.charts import bars
from oversight.evaluation.measures import pct
from oversight.evaluation.scoring import plain
from oversight.officialdoc import official, table, title

if TYPE_CHECKING:
    from oversight.evaluation.pack import PackContent
    from oversight.evaluation.scoring import Row

SECTIONS = (
    "一、总体情况",
    "二、任务完成情况",
    "三、能源保障",
    "四、资金使用",
    "五、运维服务与群众满意度",
    "六、一户一档完整性",
    "七、各县（市、区）存在的问题",
    "八、绩效自评表",
)


def _n(value: Decimal | int | float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, Decimal):
        return f"{plain(value)}{unit}"
    return f"{value:,}{unit}"


def _row(content: PackContent, code: str) -> Row | None:
    return next((r for r in content.evaluation.rows if r.indicator.code == code), None)


def _said(content: PackContent, code: str) -> str:
    """An indicator's actual value in words, or — when the year has no such indicator."""
    row = _row(content, code)
    if row is None:
        return "—"
    return f"{_n(row.actual.value, row.indicator.unit)}（{row.actual.basis}）"


def _paragraph(document: Any, text: str) -> None:
    document.add_paragraph(text).paragraph_format.first_line_indent = Mm(11)


def write_report(content: PackContent) -> bytes:
    document = Document()
    official(document)
    year = content.plan_year.year
    evaluation = content.evaluation
    properties = document.core_properties
    properties.author = properties.last_modified_by = "忻州市能源局"
    properties.title = f"{year}年度冬季清洁取暖项目绩效自评报告"
    moment = dt.datetime.combine(content.as_of, dt.time())
    properties.created = properties.modified = moment
    properties.revision = 1

    title(document, f"忻州市{year}年度冬季清洁取暖项目绩效自评报告")
    _paragraph(
        document,
        f"数据截至{content.as_of:%Y年%m月%d日}。本报告的每个数字均取自清洁取暖改造台账平台，"
        f"内容摘要（SHA-256）{content.digest}，抽样种子「{content.seed}」：以同一年度、截至日期和"
        "种子重新生成，内容与摘要不变。",
    )

    counties = content.counties
    target = sum(c.target for c in counties)
    done = sum(c.done for c in counties)
    accepted = sum(c.accepted for c in counties)
    document.add_heading(SECTIONS[0], level=1)
    levels = "，".join(f"{name}{_n(s)}分（满分{_n(w)}）" for name, w, s in evaluation.by_level1())
    _paragraph(
        document,
        f"自评总分{_n(evaluation.total)}分（满分{_n(evaluation.weight)}分），其中{levels}。"
        f"全市任务{target:,}户，完工{done:,}户（{_n(pct(done, target), '%')}），验收合格{accepted:,}户；"
        f"预算执行率{_said(content, 'budget_execution')}；一户一档完整率{_said(content, 'completeness')}。",
    )
    document.add_picture(
        io.BytesIO(
            bars(
                [name for name, _, _ in evaluation.by_level1()],
                [
                    ("分值", [float(w) for _, w, _ in evaluation.by_level1()]),
                    ("得分", [float(s) for _, _, s in evaluation.by_level1()]),
                ],
                title="各一级指标得分",
                unit="分",
            )
        ),
        width=Mm(150),
    )

    document.add_heading(SECTIONS[1], level=1)
    _paragraph(
        document,
        "按取暖路径和城乡类型的完成情况见下表；城区/县城既有建筑节能改造面积"
        f"{_said(content, 'building_town')}，农村围护结构改造面积{_said(content, 'building_rural')}；"
        f"按期完工率{_said(content, 'works_on_time')}，按期验收率{_said(content, 'accepted_on_time')}，"
        f"首次验收合格率{_said(content, 'first_pass')}，重点项目按期建成率"
        f"{_said(content, 'key_projects_on_time')}，先立后破违规{_said(content, 'removal_breaches')}。",
    )
    cells = [r for r in evaluation.rows if r.indicator.measure.startswith("done:")]
    table(
        document,
        ["路径（城乡）", "任务户数", "完工户数", "完成率"],
        [
            [
                r.indicator.level3,
                _n(r.target),
                _n(r.actual.value),
                _n(pct(r.actual.value or 0, r.target or 0), "%"),
            ]
            for r in cells
        ],
    )
    document.add_paragraph()
    table(
        document,
        ["县（市、区）", "任务户数", "完工户数", "完成率", "验收合格户数"],
        [
            [c.county, _n(c.target), _n(c.done), _n(c.done_pct, "%"), _n(c.accepted)]
            for c in counties
        ]
        + [["合计", _n(target), _n(done), _n(pct(done, target), "%"), _n(accepted)]],
    )
    document.add_picture(
        io.BytesIO(
            bars(
                [c.county for c in counties],
                [("任务", [c.target for c in counties]), ("完工", [c.done for c in counties])],
                title="各县（市、区）任务与完工户数",
                unit="户",
            )
        ),
        width=Mm(150),
    )

    document.add_heading(SECTIONS[2], level=1)
    _paragraph(
        document,
        f"通电率{_said(content, 'grid_energized')}；通气率{_said(content, 'gas_connected')}；"
        f"气源保障率{_said(content, 'gas_contracted')}；燃料储备保障率{_said(content, 'reserves')}。"
        "能源保障数据为生成时的台账状态。",
    )

    document.add_heading(SECTIONS[3], level=1)
    allocated = sum((f.allocated for f in content.funds), Decimal(0))
    spent = sum((f.spent for f in content.funds), Decimal(0))
    _paragraph(
        document,
        f"已下达资金{allocated:,.2f}元，已支出{spent:,.2f}元（含已对账发放的补贴），预算执行率"
        f"{_n(pct(spent, allocated), '%')}；补贴发放率{_said(content, 'subsidy_paid')}，"
        f"低收入户补贴发放率{_said(content, 'low_income_paid')}。",
    )
    table(
        document,
        ["县（市、区）", "资金来源", "下达（元）", "支出（元）", "结余（元）", "执行率"],
        [
            [
                f.county.short_name,
                f.source_label,
                f"{f.allocated:,.2f}",
                f"{f.spent:,.2f}",
                f"{f.balance:,.2f}",
                _n(f.rate, "%"),
            ]
            for f in content.funds
        ]
        + [
            [
                "合计",
                "",
                f"{allocated:,.2f}",
                f"{spent:,.2f}",
                f"{allocated - spent:,.2f}",
                _n(pct(spent, allocated), "%"),
            ]
        ],
    )

    document.add_heading(SECTIONS[4], level=1)
    _paragraph(
        document,
        f"工单按时办结率{_said(content, 'tickets_on_time')}，回访满意率"
        f"{_said(content, 'callback_satisfaction')}；回头看散煤复烧率{_said(content, 'relapse_rate')}，"
        f"回头看群众满意率{_said(content, 'lookback_satisfaction')}。",
    )
    table(
        document,
        ["县（市、区）", "受理", "办结", "按时办结", "回访", "满意"],
        [
            [
                t.county.short_name,
                _n(t.received),
                _n(t.closed),
                _n(t.closed_on_time),
                _n(t.called_back),
                _n(t.satisfied),
            ]
            for t in content.tickets
        ],
    )

    document.add_heading(SECTIONS[5], level=1)
    _paragraph(
        document,
        "已完工户的档案按身份证号核验、设备在中标目录内、完工日期、验收合格且有两张以上照片和定位、"
        "无未整改问题、先立后破、补贴不重复发放、无未办结工单逐项检查，完整度为通过项的占比。",
    )
    table(
        document,
        ["县（市、区）", "已完工户", "档案完整户", "平均完整度", *_buckets(content)],
        [
            [
                c.county.short_name,
                _n(c.households),
                _n(c.complete),
                _n(c.average, "%") if c.average is not None else "—",
                *(_n(n) for n in c.buckets.values()),
            ]
            for c in content.completeness
        ],
    )

    document.add_heading(SECTIONS[6], level=1)
    if not content.problems:
        _paragraph(document, "截至该日，无已确认的县级调度报告提出问题。")
    for problem in content.problems:
        document.add_heading(
            f"{problem.county}（{problem.round}，{problem.accepted_on:%Y年%m月%d日}确认）", level=2
        )
        _paragraph(document, f"存在问题：{problem.problems}")
        if problem.next_steps:
            _paragraph(document, f"下步工作安排：{problem.next_steps}")

    document.add_heading(SECTIONS[7], level=1)
    table(
        document,
        [
            "一级指标",
            "二级指标",
            "三级指标",
            "年度指标值",
            "实际完成值",
            "分值",
            "得分",
            "偏差原因及改进措施",
        ],
        [
            [
                r.indicator.level1,
                r.indicator.level2,
                r.indicator.level3,
                _n(r.target, r.indicator.unit),
                _n(r.actual.value, r.indicator.unit),
                _n(r.indicator.weight),
                _n(r.score),
                r.indicator.deviation,
            ]
            for r in evaluation.rows
        ]
        + [["合计", "", "", "", "", _n(evaluation.weight), _n(evaluation.total), ""]],
    )
    _paragraph(
        document,
        f"附：一户一档抽样{len(content.sample)}户（按县和取暖路径分层，种子「{content.seed}」），"
        "见同批生成的抽样PDF。",
    )
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _buckets(content: PackContent) -> list[str]:
    first = content.completeness[0] if content.completeness else None
    return [f"完整度{name}" for name in (first.buckets if first else {})]
