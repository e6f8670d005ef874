from __future__ import annotations

from django.urls import path

from oversight.evaluation import completeness_views, views

urlpatterns = [
    path("evaluation/", views.indicators, name="evaluation"),
    path("evaluation/standard/", views.indicators_standard, name="evaluation-standard"),
    path("evaluation/indicators/<int:pk>/", views.indicator_edit, name="evaluation-indicator"),
    path("evaluation/packs/", views.packs, name="evaluation-packs"),
    path("evaluation/packs/new/", views.pack_create, name="evaluation-pack-create"),
    path("evaluation/packs/<int:pk>/", views.pack_file, name="evaluation-pack-file"),
    path(
        "evaluation/completeness/",
        completeness_views.completeness,
        name="evaluation-completeness",
    ),
]
