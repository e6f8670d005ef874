"""The dossier completeness page (档案完整性): per county, how complete the completed households'
files are, and the households whose file misses something, with what it misses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from heating import access
from heating.access import Action
from heating.http import bad_request, parse_id, plan_year_of, request_user
from heating.models import County, User
from oversight.evaluation.completeness import (
    BUCKETS,
    CHECKS,
    LABELS,
    DossierScore,
    Tally,
    dossier_scores,
)
from retrofits.models import Household

PAGE_SIZE = 50


class CompletenessFilter(forms.Form):
    county = forms.ModelChoiceField(
        label="县（市、区）", queryset=County.objects.none(), required=False, empty_label="全部"
    )
    missing = forms.ChoiceField(label="缺项", choices=[("", "全部"), *CHECKS], required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["county"].queryset = County.objects.visible_to(user)  # type: ignore[attr-defined]


class _Window(Sequence[DossierScore]):
    """The matching households of one streamed pass, as a Paginator sees them: their number, and
    the rows of the page asked for and of the last page (where a page past the end lands), so that
    a list of 200,000 keeps 100 rows."""

    def __init__(self, number: int, size: int) -> None:
        self.number, self.size = number, size
        self.total = 0
        self.wanted: list[DossierScore] = []
        self.last: list[DossierScore] = []
        self.last_start = 0

    def add(self, row: DossierScore) -> None:
        if self.total // self.size + 1 == self.number:
            self.wanted.append(row)
        if self.total % self.size == 0:
            self.last, self.last_start = [], self.total
        self.last.append(row)
        self.total += 1

    def __len__(self) -> int:
        return self.total

    @overload
    def __getitem__(self, index: int) -> DossierScore: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[DossierScore]: ...
    def __getitem__(self, index: int | slice) -> DossierScore | Sequence[DossierScore]:
        if not isinstance(index, slice):
            raise TypeError("only the page's slice is kept")
        start = index.start or 0
        if start == (self.number - 1) * self.size:
            return self.wanted
        if start == self.last_start:
            return self.last
        return []


@require_GET
@login_required
def completeness(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    access.require(user, Action.VIEW)
    plan_year = plan_year_of(request)
    filters = CompletenessFilter(request.GET, user=user)
    if not filters.is_valid():
        errors = [str(e) for errors in filters.errors.values() for e in errors]
        return bad_request(request, "筛选条件无效：" + "；".join(errors))
    county: County | None = filters.cleaned_data["county"]
    missing = LABELS.get(filters.cleaned_data["missing"] or "")
    as_of = timezone.localdate()
    households = Household.objects.visible_to(user).filter(plan_year=plan_year)
    tally = Tally(households)
    window = _Window(parse_id(request.GET.get("page")) or 1, PAGE_SIZE)
    # One pass: every score counts in the table, the incomplete ones that match go to the list.
    for score in dossier_scores(households, as_of=as_of):
        tally.add(score)
        if not score.missing or (county and score.county_id != county.pk):
            continue
        if missing and missing not in score.missing:
            continue
        window.add(score)
    rows = tally.finish()
    page: Page[DossierScore] = Paginator(window, PAGE_SIZE).get_page(window.number)
    names = {r.county.pk: r.county.short_name for r in rows}
    query = {
        "year": plan_year.year,
        "county": county.pk if county else "",
        "missing": filters.cleaned_data["missing"] or "",
    }
    return render(
        request,
        "evaluation/completeness.html",
        {
            "plan_year": plan_year,
            "as_of": as_of,
            "rows": rows,
            "buckets": BUCKETS,
            "checks": CHECKS,
            "missing_counts": [(label, tally.missing[label]) for _, label in CHECKS],
            "filters": filters,
            "page": page,
            "listed": [(s, names.get(s.county_id, "")) for s in page],
            "query": urlencode({k: v for k, v in query.items() if v != ""}),
            "total": sum(r.households for r in rows),
            "complete": sum(r.complete for r in rows),
        },
    )
