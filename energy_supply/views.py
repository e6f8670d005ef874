"""Supply pages: the three supply ledgers (contracts, grid upgrades, gas networks) share one set of
views, listed in KINDS; heat sources, key projects, fuel reserves and the 通气 record have their own.
Every view fetches through the access policy (404 / 403 with the reason)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from energy_supply.forms import (
    CancelForm,
    FuelReserveForm,
    GasConnectionForm,
    GasContractForm,
    GasNetworkForm,
    GridUpgradeForm,
    SupplyForm,
)
from energy_supply.models import (
    AreaWork,
    FuelReserve,
    GasContract,
    HeatSource,
    KeyProject,
    SupplyImport,
)
from energy_supply.selectors import county_energy
from energy_supply.services import (
    area_work_save,
    fuel_reserve_save,
    gas_connection_record,
    gas_contract_save,
)
from energy_supply.services.jobs import (
    supply_import_confirm,
    supply_import_start,
    supply_imports_sweep,
)
from energy_supply.sheets import CONTRACT, NETWORK, UPGRADE, Template, write_template
from heating import access
from heating.access import Action, get_permitted
from heating.forms import SheetUploadForm, add_service_errors
from heating.history import record_changes
from heating.http import bad_request, parse_id, plan_year_of, request_user, xlsx_response
from heating.models import County, User
from heating.sheets import SheetFileError
from retrofits.choices import Stage
from retrofits.ledger.jobs import ConfirmRefused
from retrofits.models import Household

PAGE_SIZE = 50


@dataclass(frozen=True)
class Kind:
    slug: str
    template: Template
    form: type[SupplyForm]
    save: Callable[..., Any]
    columns: tuple[tuple[str, str], ...]  # (heading, attribute) of the list

    @property
    def model(self) -> Any:
        return self.template.model

    @property
    def name(self) -> str:
        return self.template.name


def _save_contract(record: GasContract, user: User, expected: int | None) -> GasContract:
    return gas_contract_save(contract=record, user=user, expected_version=expected)


def _save_works(record: Any, user: User, expected: int | None) -> Any:
    return area_work_save(work=record, user=user, expected_version=expected)


KINDS = {
    "contracts": Kind(
        "contracts",
        CONTRACT,
        GasContractForm,
        _save_contract,
        (
            ("合同编号", "code"),
            ("县（市、区）", "county"),
            ("供气企业", "supplier"),
            ("采暖季", "season_label"),
            ("合同气量（万立方米）", "volume_10k_m3"),
            ("可保障户数", "households"),
            ("解除日期", "cancelled_on"),
        ),
    ),
    "upgrades": Kind(
        "upgrades",
        UPGRADE,
        GridUpgradeForm,
        _save_works,
        (
            ("工程编号", "code"),
            ("县（市、区）", "county"),
            ("范围", "area"),
            ("新增配变容量（kVA）", "capacity_kva"),
            ("状态", "get_status_display"),
            ("投运日期", "energized_on"),
        ),
    ),
    "networks": Kind(
        "networks",
        NETWORK,
        GasNetworkForm,
        _save_works,
        (
            ("工程编号", "code"),
            ("县（市、区）", "county"),
            ("范围", "area"),
            ("管网长度（公里）", "length_km"),
            ("燃气企业", "company"),
            ("状态", "get_status_display"),
            ("通气日期", "supplied_on"),
        ),
    ),
}


def _kind(slug: str) -> Kind:
    if slug not in KINDS:
        raise Http404("没有这类能源保障台账")
    return KINDS[slug]


def _county_filter(request: HttpRequest, records: Any) -> tuple[Any, County | None]:
    """?county= narrows a list to one county the user sees (404 for others, 400 for garbage)."""
    chosen = request.GET.get("county", "")
    if not chosen:
        return records, None
    if parse_id(chosen) is None:
        raise _BadQuery(f"县（市、区）「{chosen}」无效，请从列表中选择")
    county = get_permitted(
        County.objects.all(), request_user(request), Action.VIEW, pk=parse_id(chosen)
    )
    return records.filter(county=county), county


class _BadQuery(Exception):
    pass


@require_GET
@login_required
def index(request: HttpRequest) -> HttpResponse:
    """Every visible county's supply at a glance, and the ways to the ledgers."""
    user = request_user(request)
    plan_year = plan_year_of(request)
    energy = county_energy(counties=County.objects.visible_to(user), plan_year=plan_year)
    return render(
        request,
        "energy_supply/index.html",
        {"energy": energy, "plan_year": plan_year, "kinds": KINDS.values()},
    )


@require_GET
@login_required
def record_list(request: HttpRequest, kind: str) -> HttpResponse:
    spec = _kind(kind)
    user = request_user(request)
    records = spec.model.objects.visible_to(user).select_related("county")
    try:
        records, county = _county_filter(request, records)
    except _BadQuery as exc:
        return bad_request(request, str(exc))
    # Works not yet serving their area (a grid warning links here): 已投运 / 已通气 left out.
    unfinished = issubclass(spec.model, AreaWork) and request.GET.get("unfinished") == "1"
    if unfinished:
        records = records.exclude(status=spec.model.READY)
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(r, [_shown(getattr(r, a)) for _, a in spec.columns]) for r in page]
    query = urlencode(
        {
            k: v
            for k, v in (
                ("county", county.pk if county else ""),
                ("unfinished", "1" if unfinished else ""),
            )
            if v
        }
    )
    return render(
        request,
        "energy_supply/list.html",
        {
            "kind": spec,
            "page": page,
            "rows": rows,
            "county": county,
            "counties": County.objects.visible_to(user),
            "can_keep": access.may(user, Action.SUPPLY),
            "area_work": issubclass(spec.model, AreaWork),
            "unfinished": unfinished,
            "query": query,
        },
    )


def _shown(value: Any) -> Any:
    return value() if callable(value) else value


@require_GET
@login_required
def record_detail(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    spec = _kind(kind)
    user = request_user(request)
    record = get_permitted(spec.model.objects.select_related("county"), user, Action.VIEW, pk=pk)
    history = record_changes(record)
    return render(
        request,
        "energy_supply/detail.html",
        {
            "kind": spec,
            "record": record,
            "facts": [(h, _shown(getattr(record, a))) for h, a in spec.columns],
            "history": history,
            "can_keep": access.may(user, Action.SUPPLY, record.county_id),
            "cancel_form": CancelForm(initial={"seen_version": record.version})
            if kind == "contracts"
            else None,
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
def record_form(request: HttpRequest, kind: str, pk: int | None = None) -> HttpResponse:
    spec = _kind(kind)
    user = request_user(request)
    if pk is None:
        access.require(user, Action.SUPPLY)
        record = spec.model()
    else:
        record = get_permitted(spec.model.objects.all(), user, Action.SUPPLY, pk=pk)
    form = spec.form(request.POST or None, instance=record, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            saved = spec.save(form.save(commit=False), user, form.expected_version)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"已保存：{saved}")
            return redirect("supply-detail", kind=kind, pk=saved.pk)
    return render(
        request, "energy_supply/form.html", {"kind": spec, "form": form, "record": record}
    )


@require_POST
@login_required
def contract_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel a contract (解除): refused while the gas it covers is counted on."""
    user = request_user(request)
    contract = get_permitted(GasContract.objects.all(), user, Action.SUPPLY, pk=pk)
    form = CancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请填写解除日期。")
    else:
        contract.cancelled_on = form.cleaned_data["cancelled_on"]
        try:
            gas_contract_save(contract=contract, user=user, expected_version=form.expected_version)
        except ValidationError as exc:
            for error in exc.messages:
                messages.error(request, error)
        else:
            messages.success(request, f"已解除：{contract}")
    return redirect("supply-detail", kind="contracts", pk=pk)


@require_GET
@login_required
def record_export(request: HttpRequest, kind: str) -> HttpResponse:
    spec = _kind(kind)
    user = request_user(request)
    records = spec.model.objects.visible_to(user).select_related("county", *_places(spec))
    try:
        records, _ = _county_filter(request, records)
    except _BadQuery as exc:
        return bad_request(request, str(exc))
    counties = [c.short_name for c in County.objects.visible_to(user)]
    return xlsx_response(write_template(spec.template, records, counties), f"{spec.name}.xlsx")


def _places(spec: Kind) -> list[str]:
    return ["township", "village"] if spec.slug != "contracts" else []


@require_GET
@login_required
def record_template(request: HttpRequest, kind: str) -> HttpResponse:
    spec = _kind(kind)
    counties = [c.short_name for c in County.objects.visible_to(request_user(request))]
    return xlsx_response(write_template(spec.template, [], counties), f"{spec.name}模板.xlsx")


@require_http_methods(["GET", "POST"])
@login_required
def record_import(request: HttpRequest, kind: str) -> HttpResponse:
    """Upload a file of the template: kept and queued at once, imported in the background (all
    or nothing); the job's page shows the progress and the outcome."""
    spec = _kind(kind)
    user = request_user(request)
    access.require(user, Action.SUPPLY)
    form = SheetUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = supply_import_start(
                kind=spec.slug,
                upload=form.cleaned_data["file"],
                user=user,
                dry_run=form.cleaned_data["dry_run"],
            )
        except SheetFileError as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("supply-import-detail", pk=job.pk)
    supply_imports_sweep()  # a job whose worker died shows as interrupted, not 处理中 forever
    recent = SupplyImport.objects.filter(created_by=user, kind=spec.slug)[:10]
    return render(
        request, "energy_supply/import.html", {"kind": spec, "form": form, "recent": recent}
    )


def _job(request: HttpRequest, pk: int) -> SupplyImport:
    """The user's own import (404 for anyone else's, another county's included)."""
    return get_object_or_404(SupplyImport.objects.filter(created_by=request_user(request)), pk=pk)


@require_GET
@login_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    if not job.finished and supply_imports_sweep():  # its worker may have died: say so at once
        job.refresh_from_db()
    template = (
        "energy_supply/_import_status.html"
        if request.headers.get("HX-Request")
        else "energy_supply/import_detail.html"
    )
    return render(request, template, {"job": job, "kind": KINDS[job.kind]})


@require_POST
@login_required
def import_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """确认导入: import the file a passed 仅检查 kept, without choosing it again."""
    checked = _job(request, pk)
    try:
        job, started = supply_import_confirm(checked=checked, user=request_user(request))
    except ConfirmRefused as exc:
        messages.error(request, str(exc))
        return redirect("supply-import-detail", pk=checked.pk)
    if not started:
        messages.info(request, "这次检查已确认导入，未重复导入。")
    return redirect("supply-import-detail", pk=job.pk)


@require_GET
@login_required
def import_errors(request: HttpRequest, pk: int) -> FileResponse:
    """The uploaded rows again, the wrong ones marked and explained, to fix and upload again."""
    job = _job(request, pk)
    if not job.error_file:
        raise Http404("该次导入没有错误文件")
    return FileResponse(
        job.error_file.open("rb"),
        as_attachment=True,
        filename=f"错误标注-{job.original_name.rsplit('.', 1)[0]}.xlsx",
    )


# ---------------------------------------------------------------- heat sources, projects, fuel


@require_GET
@login_required
def heat_sources(request: HttpRequest) -> HttpResponse:
    sources = HeatSource.objects.visible_to(request_user(request)).prefetch_related("counties")
    return render(request, "energy_supply/heat_sources.html", {"sources": sources})


@require_GET
@login_required
def key_projects(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    projects = KeyProject.objects.visible_to(user).select_related("county")
    return render(request, "energy_supply/key_projects.html", {"projects": projects})


@require_GET
@login_required
def key_project(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    project = get_permitted(KeyProject.objects.select_related("county"), user, Action.VIEW, pk=pk)
    today = timezone.localdate()
    plan_year = plan_year_of(request)
    counted = dict(project.households().values_list("stage").annotate(n=models.Count("*")))
    stages = [(s.label, counted[s.value]) for s in Stage if counted.get(s.value)]
    return render(
        request,
        "energy_supply/key_project.html",
        {
            "project": project,
            "milestones": project.milestones.all(),
            "late": {m.pk for m in project.late_milestones(today)},
            "works_due": plan_year.works_due_for(project.county),
            "today": today,
            "households": stages,
            "households_total": sum(n for _, n in stages),
            "counties": project.counties.all(),
        },
    )


@require_GET
@login_required
def reserves(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    plan_year = plan_year_of(request)
    counties = County.objects.visible_to(user)
    chosen = request.GET.get("county", "")
    if chosen:
        if parse_id(chosen) is None:
            return bad_request(request, f"县（市、区）「{chosen}」无效，请从列表中选择")
        counties = counties.filter(
            pk=get_permitted(County.objects.all(), user, Action.VIEW, pk=parse_id(chosen)).pk
        )
    energy = county_energy(counties=counties, plan_year=plan_year)
    return render(
        request,
        "energy_supply/reserves.html",
        {
            "energy": energy,
            "plan_year": plan_year,
            "can_keep": access.may(user, Action.SUPPLY),
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
def reserve_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = request_user(request)
    if pk is None:
        access.require(user, Action.SUPPLY)
        reserve = FuelReserve()
    else:
        reserve = get_permitted(FuelReserve.objects.all(), user, Action.SUPPLY, pk=pk)
    form = FuelReserveForm(request.POST or None, instance=reserve, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            fuel_reserve_save(
                reserve=form.save(commit=False), user=user, expected_version=form.expected_version
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "已保存燃料储备。")
            return redirect("supply-reserves")
    return render(request, "energy_supply/reserve_form.html", {"form": form, "reserve": reserve})


@require_POST
@login_required
def gas_connection(request: HttpRequest, pk: int) -> HttpResponse:
    """Record the day gas reached a completed 煤改气 household (from its dossier)."""
    user = request_user(request)
    household = get_permitted(Household.objects.all(), user, Action.EDIT, pk=pk)
    form = GasConnectionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请填写通气日期。")
    else:
        try:
            gas_connection_record(
                household=household, connected_on=form.cleaned_data["connected_on"], user=user
            )
        except ValidationError as exc:
            for error in exc.messages:
                messages.error(request, error)
        else:
            messages.success(request, "已登记通气。")
    return redirect("household-detail", pk=household.pk)
