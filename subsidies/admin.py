"""The funds' records (资金下达, 其他支出) are the bureau's, kept in the admin; the policies are
imported (import_subsidy_policies), the rest comes from the services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.forms import ModelForm
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from heating.admin import PlanAdmin
from heating.http import request_user
from subsidies.models import Allocation, Spending
from subsidies.services.funds import fund_record_save


class FundAdmin(SimpleHistoryAdmin, PlanAdmin):
    list_select_related = ["county", "plan_year"]
    list_filter = ["plan_year", "source", "county"]

    def save_model(
        self, request: HttpRequest, obj: Any, form: ModelForm[Any], change: bool
    ) -> None:
        fund_record_save(record=obj, user=request_user(request))


@admin.register(Allocation)
class AllocationAdmin(FundAdmin):
    list_display = ["plan_year", "county", "source", "amount", "document_no", "allocated_on"]
    search_fields = ["document_no"]


@admin.register(Spending)
class SpendingAdmin(FundAdmin):
    list_display = ["plan_year", "county", "source", "amount", "purpose", "spent_on"]
    search_fields = ["purpose"]
