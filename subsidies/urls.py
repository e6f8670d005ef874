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
    path("subsidies/batches/<int:pk>/return/", views.batch_return, name="subsidy-batch-return"),
    path("subsidies/accounts/import/", views.accounts_import, name="subsidy-accounts-import"),
    path("subsidies/accounts/template/", views.accounts_template, name="subsidy-accounts-template"),
    path("subsidies/accounts/<int:pk>/", views.account_edit, name="subsidy-account"),
]
