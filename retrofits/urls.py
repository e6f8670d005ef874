from __future__ import annotations

from django.urls import path

from retrofits import conflict_views, views

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
    path(
        "ledger/imports/<int:pk>/confirm/",
        views.ledger_import_confirm_view,
        name="ledger-import-confirm",
    ),
]

# ID numbers registered in another county: the bureau's page (retrofits/conflict_views.py).
urlpatterns += [
    path("ledger/conflicts/", conflict_views.id_conflicts, name="id-conflicts"),
    path("ledger/conflicts/<int:pk>/", conflict_views.id_conflict_detail, name="id-conflict"),
    path(
        "ledger/conflicts/<int:pk>/resolve/",
        conflict_views.id_conflict_resolve_view,
        name="id-conflict-resolve",
    ),
]
