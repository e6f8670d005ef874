"""绩效自评: the indicator table live (the rehearsal: each score and what would raise it most), the
bureau's targets and 偏差原因, and the pack made on a button."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from heating import access
from heating.access import Action
from heating.http import bad_request, plan_year_of, request_user
from heating.models import PlanYear
from oversight.evaluation.forms import IndicatorForm, PackForm
from oversight.evaluation.measures import Actual, Context
from oversight.evaluation.models import Indicator, Pack
from oversight.evaluation.scoring import evaluate, measured
from oversight.evaluation.services import (
    default_seed,
    indicator_update,
    indicators_load,
    pack_request,
    packs_expire,
)

RAISING_SHOWN = 5
# The whole city's figures take seconds to measure: the page keeps them this long (a typed target
# or 偏差原因 shows at once; 重新计算 measures again).
MEASURED_SECONDS = 600


def _measured(
    plan_year: PlanYear, as_of: dt.date, *, fresh: bool = False
) -> tuple[dict[str, Actual], dt.datetime]:
    key = f"evaluation:{plan_year.year}:{as_of.isoformat()}"
    found = None if fresh else cache.get(key)
    if found is None:
        wanted = set(
            Indicator.objects.filter(plan_year=plan_year).values_list("measure", flat=True)
        )
        found = (measured(Context(plan_year=plan_year, as_of=as_of), wanted), timezone.now())
        cache.set(key, found, MEASURED_SECONDS)
    return found


def _as_of(request: HttpRequest, plan_year: PlanYear) -> dt.date | None:
    """?as_of= or, by default, today, or the evaluation's end once it is past."""
    asked = request.GET.get("as_of", "")
    if not asked:
        return min(timezone.localdate(), plan_year.evaluation_due)
    try:
        return dt.date.fromisoformat(asked)
    except ValueError:
        return None


def _page(
    request: HttpRequest,
    plan_year: PlanYear,
    as_of: dt.date,
    *,
    forms: dict[int, IndicatorForm] | None = None,
    pack_form: PackForm | None = None,
    status: int = 200,
    fresh: bool = False,
) -> HttpResponse:
    packs_expire()
    actuals, measured_at = _measured(plan_year, as_of, fresh=fresh)
    evaluation = evaluate(plan_year=plan_year, as_of=as_of, actuals=actuals)
    forms = forms or {}
    rows = [
        (r, forms.get(r.indicator.pk) or IndicatorForm(instance=r.indicator))
        for r in evaluation.rows
    ]
    return render(
        request,
        "evaluation/indicators.html",
        {
            "plan_year": plan_year,
            "as_of": as_of,
            "measured_at": measured_at,
            "evaluation": evaluation,
            "rows": rows,
            "raising": evaluation.raising()[:RAISING_SHOWN],
            "pack_form": pack_form
            or PackForm(
                initial={"as_of": as_of, "seed": default_seed(plan_year, as_of), "sample_size": 100}
            ),
            "packs": Pack.objects.filter(plan_year=plan_year)[:10],
        },
        status=status,
    )


@require_GET
@login_required
def indicators(request: HttpRequest) -> HttpResponse:
    access.require(request_user(request), Action.EVALUATE)
    plan_year = plan_year_of(request)
    as_of = _as_of(request, plan_year)
    if as_of is None:
        return bad_request(request, f"日期「{request.GET.get('as_of')}」应写作 2024-04-30")
    return _page(request, plan_year, as_of, fresh=request.GET.get("fresh") == "1")


def _back(plan_year: PlanYear, request: HttpRequest) -> str:
    as_of = request.POST.get("as_of", "")
    return f"{reverse('evaluation')}?year={plan_year.year}" + (f"&as_of={as_of}" if as_of else "")


@require_POST
@login_required
def indicators_standard(request: HttpRequest) -> HttpResponse:
    access.require(request_user(request), Action.EVALUATE)
    plan_year = plan_year_of(request)
    indicators_load(plan_year=plan_year)
    return redirect(_back(plan_year, request))


@require_POST
@login_required
def indicator_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    access.require(user, Action.EVALUATE)
    indicator = get_object_or_404(Indicator.objects.select_related("plan_year"), pk=pk)
    form = IndicatorForm(request.POST, instance=Indicator.objects.get(pk=pk))
    if not form.is_valid():
        as_of = _as_of(request, indicator.plan_year) or timezone.localdate()
        return _page(request, indicator.plan_year, as_of, forms={pk: form}, status=400)
    indicator_update(
        indicator=indicator,
        target=form.cleaned_data["target"],
        deviation=form.cleaned_data["deviation"],
        user=user,
    )
    return redirect(_back(indicator.plan_year, request) + f"#indicator-{pk}")


@require_POST
@login_required
def pack_create(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    access.require(user, Action.EVALUATE)
    plan_year = plan_year_of(request)
    form = PackForm(request.POST, latest=timezone.localdate())
    if not form.is_valid():
        return _page(request, plan_year, timezone.localdate(), pack_form=form, status=400)
    if not plan_year.indicators.exists():
        indicators_load(plan_year=plan_year)
    pack_request(
        plan_year=plan_year,
        as_of=form.cleaned_data["as_of"],
        seed=form.cleaned_data["seed"],
        sample_size=form.cleaned_data["sample_size"],
        user=user,
    )
    return redirect(f"{reverse('evaluation')}?year={plan_year.year}#packs")


@require_GET
@login_required
def packs(request: HttpRequest) -> HttpResponse:
    """The list of packs, polled while one is being made."""
    access.require(request_user(request), Action.EVALUATE)
    plan_year = plan_year_of(request)
    packs_expire()
    return render(
        request,
        "evaluation/_packs.html",
        {"plan_year": plan_year, "packs": Pack.objects.filter(plan_year=plan_year)[:10]},
    )


FILES = ("report", "table", "evidence")


@require_GET
@login_required
def pack_file(request: HttpRequest, pk: int) -> FileResponse:
    """One of a pack's three files: ?file=report, table or evidence."""
    access.require(request_user(request), Action.EVALUATE)
    pack = get_object_or_404(Pack, pk=pk, status=Pack.Status.DONE)
    kind = request.GET.get("file", "report")
    if kind not in FILES:
        raise Http404("没有该文件")
    stored = getattr(pack, kind)
    if not stored:
        raise Http404("该文件已不存在，请重新生成")
    name = stored.name.rsplit("/", 1)[-1]
    return FileResponse(stored.open("rb"), as_attachment=True, filename=name)
