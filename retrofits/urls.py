from __future__ import annotations

from django.urls import path

from retrofits import views

urlpatterns = [
    path("households/", views.household_list, name="household-list"),
    path("households/new/", views.household_create, name="household-create"),
    path("households/<int:pk>/", views.household_detail, name="household-detail"),
    path("households/<int:pk>/edit/", views.household_edit, name="household-edit"),
    path("households/villages/", views.village_options, name="village-options"),
    path("households/townships/", views.township_options, name="township-options"),
    path("households/equipment/", views.equipment_options, name="equipment-options"),
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
