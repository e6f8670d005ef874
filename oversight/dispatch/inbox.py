"""The user's inbox: their alerts, newest first; opening one marks it read and goes where it
points; the choice between e-mail at once and a daily digest."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from heating.http import page_query, request_user
from heating.models import User
from oversight.dispatch.models import Alert
from oversight.dispatch.services.alerts import alerts_mark_read, user_alert_delivery_set


class DeliveryForm(forms.ModelForm[User]):
    """Validates the choice; `user_alert_delivery_set` writes it."""

    class Meta:
        model = User
        fields = ["alert_delivery", "email"]
        labels = {"email": "接收邮箱"}


@require_GET
@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    page = Paginator(Alert.objects.filter(user=user), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "dispatch/inbox.html",
        {"page": page, "query": page_query(request), "delivery": DeliveryForm(instance=user)},
    )


@require_GET
@login_required
def alert_open(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    alert = get_object_or_404(Alert, pk=pk, user=user)
    if alert.read_at is None:
        alerts_mark_read(user=user, alerts=[alert])
    # Only a path of this site: an alert never sends anyone elsewhere.
    safe = url_has_allowed_host_and_scheme(alert.link, allowed_hosts=None)
    return redirect(alert.link if alert.link.startswith("/") and safe else "inbox")


@require_POST
@login_required
def read_all(request: HttpRequest) -> HttpResponse:
    alerts_mark_read(user=request_user(request))
    return redirect("inbox")


@require_POST
@login_required
def delivery(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    form = DeliveryForm(request.POST, instance=user)
    if form.is_valid():
        user_alert_delivery_set(
            user=user,
            alert_delivery=form.cleaned_data["alert_delivery"],
            email=form.cleaned_data["email"],
        )
        messages.success(request, "已保存提醒方式。")
    else:
        messages.error(
            request, "；".join(str(e) for errors in form.errors.values() for e in errors)
        )
    return redirect("inbox")
