"""The subsidies' pages: the policies (补贴标准: every county's and the city's defaults for the
bureau, a county's own and the city's defaults for the county; imported with
`import_subsidy_policies`), the funds and the tilt (and /api/funds), and the payment batches with
their printable 公示 list and the bank roster (the county's 县级财政 only, every download
recorded); the 县级财政's uploads (the bank's return, checked and then confirmed; the 一卡通 accounts)
and one household's account form, which is how a failed payment's account is corrected (待更正).
The older batch pages name theirs by `?batch=`, the return page by its path."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from heating import access
from heating.access import Action, get_permitted
from heating.forms import SheetUploadForm, add_service_errors
from heating.http import parse_id, plan_year_of, request_user, xlsx_response
from heating.models import County
from heating.sheets import SheetFileError, write_sheet
from retrofits.models import Household
from subsidies.forms import BankAccountForm, ReturnConfirmForm, ReturnUploadForm
from subsidies.funds import fund_lines, tilt
from subsidies.models import BankAccount, Batch, BatchLine, Entitlement, yuan
from subsidies.selectors import policies_for
from subsidies.services import batches as batch_services
from subsidies.services.accounts import bank_account_save, bank_accounts_import
from subsidies.sheets import BANK_COLUMNS, BANK_TEMPLATE


@require_GET
@login_required
def policies(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    access.require(user, Action.VIEW)
    plan_year = plan_year_of(request)
    rows = list(policies_for(user, plan_year.year))
    return render(
        request,
        "subsidies/policies.html",
        {
            "plan_year": plan_year,
            "season": plan_year.heating_season(),
            "city": [p for p in rows if p.county_id is None],
            "own": [p for p in rows if p.county_id is not None],
            "can_keep": access.may(user, Action.SUBSIDY_POLICY),
        },
    )


@require_GET
@login_required
def funds(request: HttpRequest) -> HttpResponse:
    """资金: allocated, spent, balance and 预算执行率 per county and source; and the tilt."""
    user = request_user(request)
    access.require(user, Action.VIEW)
    plan_year = plan_year_of(request)
    return render(
        request,
        "subsidies/funds.html",
        {
            "plan_year": plan_year,
            "lines": fund_lines(user, plan_year.year),
            "tilt": tilt(user, plan_year.year),
        },
    )


@require_GET
@login_required
def funds_api(request: HttpRequest) -> JsonResponse:
    user = request_user(request)
    access.require(user, Action.VIEW)
    plan_year = plan_year_of(request)
    return JsonResponse(
        {
            "year": plan_year.year,
            "funds": [line.as_dict() for line in fund_lines(user, plan_year.year)],
        },
        json_dumps_params={"ensure_ascii": False},
    )


@require_GET
@login_required
def batches(request: HttpRequest) -> HttpResponse:
    """发放批次: a county's batches of the year, each with what may be done next."""
    user = request_user(request)
    access.require(user, Action.VIEW)
    plan_year = plan_year_of(request)
    rows = list(
        Batch.objects.visible_to(user)
        .filter(season=plan_year.year)
        .select_related("county")
        .annotate(count=Count("lines"), fen=Sum("lines__amount_fen"))
        .order_by("county__order", "pk")
    )
    for batch in rows:
        batch.total = yuan(batch.fen or 0)  # type: ignore[attr-defined]
        batch.can_prepare = access.may(user, Action.SUBSIDY_BATCH, batch.county_id)  # type: ignore[attr-defined]
        batch.can_pay = access.may(user, Action.SUBSIDY_PAY, batch.county_id)  # type: ignore[attr-defined]
    preparing = access.scope(user, Action.SUBSIDY_BATCH)
    waiting = batch_services.awaiting_correction(
        Entitlement.objects.visible_to(user).filter(season=plan_year.year)
    )
    shown = list(waiting[:WAITING_SHOWN])
    for line in shown:
        line.can_correct = access.may(user, Action.SUBSIDY_PAY, line.batch.county_id)  # type: ignore[attr-defined]
    return render(
        request,
        "subsidies/batches.html",
        {
            "plan_year": plan_year,
            "batches": rows,
            "counties": County.objects.filter(preparing.q("pk")).order_by("order")
            if preparing
            else [],
            "waiting": shown,
            "waiting_count": waiting.count() if len(shown) == WAITING_SHOWN else len(shown),
            "keeps_accounts": access.may(user, Action.SUBSIDY_PAY),
        },
    )


WAITING_SHOWN = 200  # the 待更正 lines listed on the batches page; the count says if there are more


STEPS = ("create", "publicize", "submit", "approve")


@require_POST
@login_required
def batch_step(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    step = request.POST.get("step", "")
    if step not in STEPS:
        raise Http404("没有这个操作。")
    today = timezone.localdate()
    try:
        if step == "create":
            county_id = parse_id(request.POST.get("county"))
            if county_id is None:
                raise Http404("请选择县（市、区）。")
            access.require(user, Action.SUBSIDY_BATCH, county_id)
            county = get_object_or_404(County, pk=county_id)
            year = plan_year_of(request).year
            created = batch_services.batch_create(county=county, season=year)
            messages.success(request, f"已编制批次：{created.lines.count()} 笔。")
            season = year
        else:
            batch = get_permitted(
                Batch.objects.all(), user, Action.VIEW, pk=parse_id(request.POST.get("batch"))
            )
            season = batch.season
            if step == "approve":
                batch_services.batch_approve(batch=batch, user=user)
                messages.success(request, "已审核，报银行。")
            else:
                access.require(user, Action.SUBSIDY_BATCH, batch.county_id)
                if step == "publicize":
                    batch = batch_services.batch_publicize(batch=batch, start=today)
                    messages.success(
                        request, f"公示至 {batch.publicity_end:%Y-%m-%d}（7个工作日）。"
                    )
                else:
                    batch_services.batch_submit(batch=batch, today=today)
                    messages.success(request, "已报县级财政审核。")
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
        season = plan_year_of(request).year
    return redirect(f"{reverse('subsidy-batches')}?{urlencode({'year': season})}")


def _batch_of(request: HttpRequest, action: Action) -> Batch:
    return get_permitted(
        Batch.objects.select_related("county"),
        request_user(request),
        action,
        pk=parse_id(request.GET.get("batch")),
    )


@require_GET
@login_required
def batch_notice(request: HttpRequest) -> HttpResponse:
    """The village lists to print for the 公示: masked ID numbers, no account numbers."""
    batch = _batch_of(request, Action.VIEW)
    return render(
        request,
        "subsidies/notice.html",
        {"batch": batch, "rows": list(batch_services.notice_rows(batch))},
    )


@require_GET
@login_required
def batch_roster(request: HttpRequest) -> HttpResponse:
    """The roster for the bank: the county's 县级财政 only, every download recorded."""
    batch = _batch_of(request, Action.SUBSIDY_PAY)
    try:
        data = batch_services.batch_roster(batch=batch, user=request_user(request))
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
        return redirect(f"{reverse('subsidy-batches')}?{urlencode({'year': batch.season})}")
    return xlsx_response(data, f"一卡通发放花名册-{batch.county.short_name}-{batch.pk}.xlsx")


# ---------------------------------------------------------------- the 县级财政's uploads and form

RETURN_SALT = "subsidies.bank-return"
RETURN_VALID = 2 * 3600  # seconds a checked return may wait for its confirmation


def _return_page(
    request: HttpRequest, batch: Batch, form: ReturnUploadForm, **context: Any
) -> HttpResponse:
    count = batch.lines.aggregate(n=Count("pk"), fen=Sum("amount_fen"))
    pending = batch.lines.filter(result=BatchLine.Result.PENDING).count()
    return render(
        request,
        "subsidies/batch_return.html",
        {"batch": batch, "form": form, "lines": count["n"], "total": yuan(count["fen"] or 0),
         "pending": pending, **context},
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
@login_required
def batch_return(request: HttpRequest, pk: int) -> HttpResponse:
    """导入银行回盘: the upload is checked (every error by row and column, nothing written) and
    what it would write is shown; 确认导入 writes it, all or nothing. Paying is irreversible, so
    nothing is paid without the confirmation."""
    user = request_user(request)
    batch = get_permitted(Batch.objects.select_related("county"), user, Action.SUBSIDY_PAY, pk=pk)
    if request.method == "POST" and "token" in request.POST:
        return _return_confirm(request, batch)
    form = ReturnUploadForm(
        request.POST or None, request.FILES or None, initial={"paid_on": timezone.localdate()}
    )
    if request.method != "POST" or not form.is_valid():
        return _return_page(request, batch, form)
    upload = form.cleaned_data["file"]
    try:
        checked = batch_services.batch_return_check(
            batch=batch, data=upload.read(), name=upload.name or "", user=user
        )
    except SheetFileError as exc:
        form.add_error("file", str(exc))
        return _return_page(request, batch, form)
    except ValidationError as exc:
        form.add_error(None, "；".join(exc.messages))
        return _return_page(request, batch, form)
    if checked.errors:
        return _return_page(request, batch, form, result=checked)
    token = signing.dumps(
        {
            "batch": batch.pk,
            "user": user.pk,
            "paid_on": form.cleaned_data["paid_on"].isoformat(),
            "answers": checked.answers,
        },
        salt=RETURN_SALT,
        compress=True,
    )
    return _return_page(
        request,
        batch,
        form,
        result=checked,
        paid_on=form.cleaned_data["paid_on"],
        confirm=ReturnConfirmForm(initial={"token": token}),
    )


def _return_confirm(request: HttpRequest, batch: Batch) -> HttpResponse:
    user = request_user(request)
    form = ReturnConfirmForm(request.POST)
    payload: dict[str, Any] = {}
    if form.is_valid():
        try:
            payload = signing.loads(
                form.cleaned_data["token"], salt=RETURN_SALT, max_age=RETURN_VALID
            )
        except signing.BadSignature:
            payload = {}
    if payload.get("batch") != batch.pk or payload.get("user") != user.pk:
        messages.error(request, "确认已过期或无效，未写入任何数据，请重新上传银行回盘文件。")
        return redirect("subsidy-batch-return", pk=batch.pk)
    try:
        outcome = batch_services.batch_return_apply(
            batch=batch,
            answers=[
                (int(pk), str(result), str(reason)) for pk, result, reason in payload["answers"]
            ],
            user=user,
            paid_on=dt.date.fromisoformat(payload["paid_on"]),
        )
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
        return redirect("subsidy-batch-return", pk=batch.pk)
    messages.success(
        request,
        f"银行回盘已导入：成功 {outcome.paid} 笔，失败 {outcome.failed} 笔（待更正），"
        f"未回盘 {outcome.waiting} 笔。",
    )
    return redirect(f"{reverse('subsidy-batches')}?{urlencode({'year': batch.season})}")


@require_http_methods(["GET", "POST"])
@login_required
def accounts_import(request: HttpRequest) -> HttpResponse:
    """导入一卡通账户: the county's 县级财政 uploads its households' accounts, all or nothing."""
    user = request_user(request)
    access.require(user, Action.SUBSIDY_PAY)
    form = SheetUploadForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = bank_accounts_import(
                data=upload.read(),
                name=upload.name or "",
                user=user,
                dry_run=form.cleaned_data["dry_run"],
            )
        except SheetFileError as exc:
            form.add_error("file", str(exc))
    return render(
        request,
        "subsidies/accounts_import.html",
        {
            "form": form,
            "result": result,
            "dry_run": form.cleaned_data.get("dry_run") if result else False,
        },
    )


@require_GET
@login_required
def accounts_template(request: HttpRequest) -> HttpResponse:
    access.require(request_user(request), Action.SUBSIDY_PAY)
    return xlsx_response(
        write_sheet([], BANK_COLUMNS, title=BANK_TEMPLATE), f"{BANK_TEMPLATE}导入模板.xlsx"
    )


@require_http_methods(["GET", "POST"])
@login_required
def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """一户的一卡通账户: registered or corrected by the county's 县级财政. The number is never put
    back into the page: the form asks for it whole, and shows the last four digits."""
    user = request_user(request)
    household = get_permitted(
        Household.objects.select_related("county", "village"), user, Action.SUBSIDY_PAY, pk=pk
    )
    account = BankAccount.objects.filter(household=household).first()
    initial = (
        {"bank": account.bank, "holder": account.holder, "notes": account.notes}
        if account
        else {"holder": household.head_name}
    )
    form = BankAccountForm(request.POST or None, initial=initial, household=household)
    if request.method == "POST" and form.is_valid():
        try:
            bank_account_save(household=household, user=user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"已保存{household.code}的一卡通账户。")
            return redirect("household-detail", pk=household.pk)
    waiting = batch_services.awaiting_correction(Entitlement.objects.filter(household=household))
    return render(
        request,
        "subsidies/account_form.html",
        {"household": household, "account": account, "form": form, "waiting": list(waiting)},
    )
