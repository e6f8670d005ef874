"""The bureau's page of ID numbers registered in another county (身份证号冲突): each conflict a
county user met, both households side by side, personal data as the viewer may see it, and
标记已处理 with a reason. Who may is the access policy's (Action.CONFLICTS)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from heating import access
from heating.access import Action, PersonalData, get_permitted
from heating.http import page_query, parse_id, request_user
from heating.models import PersonalDataAccess, User
from heating.services import personal_access_record
from retrofits.models import Household, IdConflict
from retrofits.services.conflicts import id_conflict_resolve

PAGE_SIZE = 50
STATES = {"open": "待处理", "resolved": "已处理", "all": "全部"}


class ResolveForm(forms.Form):
    reason = forms.CharField(label="处理说明", max_length=200, strip=True)


def _side(household: Household | None, shown: PersonalData) -> dict[str, Any] | None:
    """A household as the viewer may see it: the ID and phone numbers masked where the policy
    says (PersonalData)."""
    if household is None:
        return None
    id_number, phone = shown.shown(household.county_id, household.id_number, household.phone)
    return {"h": household, "id_number": id_number, "phone": phone}


def _conflicts(user: User) -> Any:
    return IdConflict.objects.permitted(user, Action.CONFLICTS).select_related(*_RELATED)


_RELATED = ("user", "county", "household__county", "claimant", "job", "resolved_by")


@require_GET
@login_required
def id_conflicts(request: HttpRequest) -> HttpResponse:
    """Every conflict, open ones first by default; ?user= one user's."""
    user = request_user(request)
    access.require(user, Action.CONFLICTS)
    state = request.GET.get("state") or "open"
    if state not in STATES:
        state = "open"
    conflicts = _conflicts(user)
    if state == "open":
        conflicts = conflicts.open()
    elif state == "resolved":
        conflicts = conflicts.filter(resolved_at__isnull=False)
    by = parse_id(request.GET.get("user"))
    if by is not None:
        conflicts = conflicts.filter(user_id=by)
    page = Paginator(conflicts, PAGE_SIZE).get_page(request.GET.get("page"))
    shown = PersonalData(user)
    rows = []
    full = 0
    for conflict in page:
        held = conflict.household.county_id if conflict.household else None
        full += int(shown.sees(held))
        rows.append((conflict, shown.value(held, "id_number", conflict.id_number)))
    personal_access_record(
        user=user,
        kind=PersonalDataAccess.Kind.LIST,
        households=full,
        detail=f"身份证号冲突（{request.path}）",
    )
    return render(
        request,
        "retrofits/id_conflicts.html",
        {
            "page": page,
            "rows": rows,
            "state": state,
            "query": page_query(request),
            "states": STATES,
            "by": by,
            "budget": settings.ID_CONFLICT_DAILY_BUDGET,
        },
    )


@require_GET
@login_required
def id_conflict_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One conflict: what the county user submitted beside the household that holds the number."""
    user = request_user(request)
    found = IdConflict.objects.select_related(*_RELATED)
    conflict = get_permitted(found, user, Action.CONFLICTS, pk=pk)
    shown = PersonalData(user)
    held = conflict.household.county_id if conflict.household else None
    claimant = _side(conflict.claimant, shown)
    holder = _side(conflict.household, shown)
    personal_access_record(
        user=user,
        kind=PersonalDataAccess.Kind.DOSSIER,
        households=sum(
            int(shown.sees(h.county_id)) for h in (conflict.claimant, conflict.household) if h
        ),
        detail=f"身份证号冲突 {conflict.pk}（{request.path}）",
    )
    same_number = _conflicts(user).filter(id_number=conflict.id_number).exclude(pk=conflict.pk)[:20]
    return render(
        request,
        "retrofits/id_conflict_detail.html",
        {
            "c": conflict,
            "id_number": shown.value(held, "id_number", conflict.id_number),
            "claimant": claimant,
            "holder": holder,
            "same_number": same_number,
            "form": ResolveForm(),
        },
    )


@require_POST
@login_required
def id_conflict_resolve_view(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    conflict = get_permitted(IdConflict.objects.all(), user, Action.CONFLICTS, pk=pk)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请填写处理说明（最多200字）。")
    else:
        try:
            id_conflict_resolve(conflict=conflict, user=user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            for errors in exc.message_dict.values():
                for error in errors:
                    messages.error(request, error)
        else:
            messages.success(request, "已标记处理。")
    return redirect("id-conflict", pk=conflict.pk)
