from __future__ import annotations

from django.urls import path

from energy_supply import views

urlpatterns = [
    path("supply/", views.index, name="supply"),
    path("supply/heat-sources/", views.heat_sources, name="heat-sources"),
    path("supply/key-projects/", views.key_projects, name="key-projects"),
    path("supply/key-projects/<int:pk>/", views.key_project, name="key-project"),
    path("supply/reserves/", views.reserves, name="supply-reserves"),
    path("supply/reserves/new/", views.reserve_form, name="reserve-create"),
    path("supply/reserves/<int:pk>/edit/", views.reserve_form, name="reserve-edit"),
    path("supply/contracts/<int:pk>/cancel/", views.contract_cancel, name="contract-cancel"),
    path("supply/households/<int:pk>/gas/", views.gas_connection, name="gas-connection"),
    # Before the kinds' patterns, which would take "imports" for a kind.
    path("supply/imports/<int:pk>/", views.import_detail, name="supply-import-detail"),
    path("supply/imports/<int:pk>/errors.xlsx", views.import_errors, name="supply-import-errors"),
    path("supply/<slug:kind>/", views.record_list, name="supply-list"),
    path("supply/<slug:kind>/new/", views.record_form, name="supply-create"),
    path("supply/<slug:kind>/export.xlsx", views.record_export, name="supply-export"),
    path("supply/<slug:kind>/template.xlsx", views.record_template, name="supply-template"),
    path("supply/<slug:kind>/import/", views.record_import, name="supply-import"),
    path("supply/<slug:kind>/<int:pk>/", views.record_detail, name="supply-detail"),
    path("supply/<slug:kind>/<int:pk>/edit/", views.record_form, name="supply-edit"),
    path("supply/imports/<int:pk>/confirm/", views.import_confirm, name="supply-import-confirm"),
]
