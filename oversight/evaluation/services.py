"""Writes of the evaluation: the standard indicators loaded for a year, an indicator's target and
偏差原因 kept by the bureau, a pack asked for."""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from heating.models import PlanYear, User
from oversight.evaluation.measures import MEASURES
from oversight.evaluation.models import Indicator, Pack
from oversight.evaluation.pack import gather, write_pack

if TYPE_CHECKING:
    from retrofits.demo import DemoCity

logger = logging.getLogger(__name__)
STANDARD = Path(settings.BASE_DIR) / "fixtures" / "evaluation" / "indicators.json"


@transaction.atomic
def indicators_load(*, plan_year: PlanYear) -> int:
    """The standard indicators (fixtures/evaluation/indicators.json) for a year: those the year
    lacks are added; those it has are left as the bureau kept them. Returns how many were added."""
    standard = json.loads(STANDARD.read_text(encoding="utf-8"))["indicators"]
    have = set(Indicator.objects.filter(plan_year=plan_year).values_list("code", flat=True))
    added = 0
    for order, item in enumerate(standard, start=1):
        if item["measure"] not in MEASURES:
            raise ValidationError(f"指标「{item['level3']}」的取数口径「{item['measure']}」未定义")
        if item["code"] in have:
            continue
        Indicator.objects.create(
            plan_year=plan_year,
            order=order,
            code=item["code"],
            level1=item["level1"],
            level2=item["level2"],
            level3=item["level3"],
            weight=Decimal(item["weight"]),
            direction=item["direction"],
            measure=item["measure"],
            unit=item["unit"],
            target=Decimal(item["target"]) if item["target"] is not None else None,
        )
        added += 1
    return added


def indicator_update(
    *, indicator: Indicator, target: Decimal | None, deviation: str, user: User
) -> Indicator:
    """The bureau's typed target (blank: the plan's) and 偏差原因及改进措施, kept in history."""
    indicator.target = target
    indicator.deviation = deviation.strip()
    indicator._change_reason = f"{user.get_username()} 修改"  # type: ignore[attr-defined]
    indicator.full_clean()
    indicator.save(update_fields=["target", "deviation"])
    return indicator


def pack_request(
    *, plan_year: PlanYear, as_of: dt.date, seed: str, sample_size: int, user: User | None
) -> Pack:
    """A pack to make, in the background (oversight/evaluation/tasks.py) once this commits."""
    from oversight.evaluation.tasks import make_pack

    pack = Pack(
        plan_year=plan_year,
        as_of=as_of,
        seed=seed.strip() or default_seed(plan_year, as_of),
        sample_size=sample_size,
        created_by=user,
    )
    pack.full_clean()
    pack.save()
    transaction.on_commit(lambda: make_pack.delay(pack.pk))
    return pack


def pack_make(*, pack_id: int) -> None:
    """Make a requested pack, once (a second worker finds it claimed), its files stored with it."""
    claimed = Pack.objects.filter(pk=pack_id, status=Pack.Status.PENDING).update(
        status=Pack.Status.RUNNING
    )
    if not claimed:
        return
    pack = Pack.objects.select_related("plan_year").get(pk=pack_id)

    def progress(step: str, percent: int) -> None:
        Pack.objects.filter(pk=pack_id).update(step=step, progress=percent)

    try:
        content = gather(
            plan_year=pack.plan_year,
            as_of=pack.as_of,
            seed=pack.seed,
            sample_size=pack.sample_size,
            progress=progress,
        )
        with tempfile.TemporaryDirectory() as out:
            files = write_pack(content, Path(out), progress=progress)
            for field, path in (
                (pack.report, files.report),
                (pack.table, files.table),
                (pack.evidence, files.evidence),
            ):
                with path.open("rb") as handle:
                    field.save(path.name, File(handle), save=False)
    except Exception:
        logger.exception("evaluation pack %s failed", pack_id)
        Pack.objects.filter(pk=pack_id).update(
            status=Pack.Status.FAILED, message="生成失败，请稍后重试；如仍失败请联系系统管理员。"
        )
        return  # said on the page; in-process (make run) the request must not fail with it
    pack.sample, pack.digest = content.sample, content.digest
    pack.status, pack.step, pack.progress = Pack.Status.DONE, "完成", 100
    pack.finished_at = timezone.now()
    pack.save()


# A whole city's pack takes under a minute; one still unfinished after this lost its worker.
PACK_STUCK_AFTER = dt.timedelta(minutes=30)


def packs_expire() -> int:
    """Packs whose worker died are failed in Chinese, so that nobody waits on them."""
    return Pack.objects.filter(
        status__in=(Pack.Status.PENDING, Pack.Status.RUNNING),
        created_at__lt=timezone.now() - PACK_STUCK_AFTER,
    ).update(status=Pack.Status.FAILED, message="生成超时（后台任务中断），请重新生成。")


def default_seed(plan_year: PlanYear, as_of: dt.date) -> str:
    return f"{plan_year.year}-{as_of:%Y%m%d}"


def demo_indicators(city: DemoCity) -> None:
    added = indicators_load(plan_year=city.plan_year)
    held = Indicator.objects.filter(plan_year=city.plan_year).count()
    # `make setup` loads them before the demo: say what the year holds, not only what was new.
    city.say(f"绩效自评：{city.plan_year.year}年度指标 {held} 项（本次新增 {added} 项）")
