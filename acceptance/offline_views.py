"""What an inspector's phone needs to work offline: the service worker, the outbox page, and the
list of pages to take along for a village (static/js/outbox.js caches them; the service worker
answers from that cache when there is no signal)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from acceptance.forms import WorklistSearch
from acceptance.selectors import spot_checks_due
from heating import access
from heating.access import Action
from heating.http import bad_request, request_user
from retrofits.models import Household

SERVICE_WORKER = "js/offline-sw.js"
# Households of one village taken along at once: a large village is some hundreds.
MANIFEST_LIMIT = 300


@require_GET
@login_required
def service_worker(request: HttpRequest) -> HttpResponse:
    """static/js/offline-sw.js, served under /acceptance/ and allowed the scope of the whole site
    (Service-Worker-Allowed: /): the dossiers an inspector takes along are /households/…, outside
    both /static/js/ and /acceptance/. It is the site's own script, so the Content-Security-Policy
    (scripts from 'self' only) lets it run; it is fetched on every visit (no-cache), so a new
    version reaches the phones at once."""
    path = finders.find(SERVICE_WORKER)
    assert isinstance(path, str), SERVICE_WORKER
    with open(path, "rb") as script:
        body = script.read()
    return HttpResponse(
        body,
        content_type="text/javascript; charset=utf-8",
        headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"},
    )


@require_GET
@login_required
def outbox(request: HttpRequest) -> HttpResponse:
    """The phone's outbox (待同步记录) and the villages taken along; its copy is also what the
    service worker shows for a page that was not taken along when there is no signal."""
    access.require(request_user(request), Action.INSPECT)
    return render(request, "acceptance/outbox.html")


@require_GET
@login_required
def offline_manifest(request: HttpRequest) -> HttpResponse:
    """The pages of one village to keep on the phone: its worklist, and the visit form and the
    dossier of each of its households on the inspector's worklist (awaiting acceptance, or
    drawn for a spot check)."""
    user = request_user(request)
    access.require(user, Action.INSPECT)
    form = WorklistSearch(request.GET)
    if not form.is_valid() or not form.cleaned_data["village"]:
        return bad_request(request, "请选择要离线带走的村（社区）")
    village = form.cleaned_data["village"]
    mine = Household.objects.permitted(user, Action.INSPECT).filter(village_id=village)
    awaiting = list(
        mine.awaiting_acceptance()
        .select_related("county", "township", "village")
        .order_by("code")[:MANIFEST_LIMIT]
    )
    drawn = list(
        spot_checks_due(mine)
        .select_related("county", "township", "village")
        .order_by("code")[:MANIFEST_LIMIT]
    )
    if not awaiting and not drawn:
        return bad_request(request, "该村（社区）没有您待验收或待抽查的户")
    pages = [f"{reverse('worklist')}?village={village}"]
    for name, households in (("visit", awaiting), ("spot-check-visit", drawn)):
        for household in households:
            pages += [
                reverse(name, args=[household.pk]),
                reverse("household-detail", args=[household.pk]),
            ]
    first = (awaiting or drawn)[0]
    return JsonResponse(
        {
            "village": village,
            "name": f"{first.county} {first.township} {first.village}",
            "households": len(awaiting) + len(drawn),
            "pages": list(dict.fromkeys(pages)),
        },
        json_dumps_params={"ensure_ascii": False},
    )
