from __future__ import annotations

from django.urls import path

from retrofits import api, dashboard_views, views

urlpatterns = [
    path("api/progress", api.progress, name="api-progress"),
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("dashboard/counties/<int:pk>/", dashboard_views.county_dashboard, name="dashboard-county"),
    path(
        "dashboard/townships/<int:pk>/",
        dashboard_views.township_dashboard,
        name="dashboard-township",
    ),
    path("dashboard/progress.xlsx", dashboard_views.progress_export, name="progress-export"),
    path("households/", views.household_list, name="household-list"),
    path("households/new/", views.household_create, name="household-create"),
    path("households/<int:pk>/", views.household_detail, name="household-detail"),
    path("households/<int:pk>/edit/", views.household_edit, name="household-edit"),
    path("households/villages/", views.village_options, name="village-options"),
    path("households/export.xlsx", views.ledger_export, name="ledger-export"),
    path("ledger/template.xlsx", views.ledger_template, name="ledger-template"),
    path("ledger/imports/", views.ledger_import, name="ledger-import"),
    path("ledger/imports/<int:pk>/", views.ledger_import_detail, name="ledger-import-detail"),
    path(
        "ledger/imports/<int:pk>/errors.xlsx",
        views.ledger_import_errors,
        name="ledger-import-errors",
    ),
]
