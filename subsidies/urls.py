from __future__ import annotations

from django.urls import path

from subsidies import views

urlpatterns = [
    path("subsidies/policies/", views.policies, name="subsidy-policies"),
    path("subsidies/funds/", views.funds, name="subsidy-funds"),
    path("api/funds", views.funds_api, name="api-funds"),
    path("subsidies/batches/", views.batches, name="subsidy-batches"),
    path("subsidies/batches/step/", views.batch_step, name="subsidy-batch-step"),
    path("subsidies/batches/notice/", views.batch_notice, name="subsidy-batch-notice"),
    path("subsidies/batches/roster/", views.batch_roster, name="subsidy-batch-roster"),
]
