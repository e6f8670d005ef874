from __future__ import annotations

from django.urls import path

from acceptance import views

urlpatterns = [
    path("acceptance/", views.worklist, name="worklist"),
    path("acceptance/households/<int:pk>/visit/", views.visit, name="visit"),
    path("acceptance/households/<int:pk>/removal/", views.removal, name="heating-removal"),
    path("acceptance/projects/<int:pk>/visit/", views.project_visit, name="project-visit"),
    path("acceptance/photos/<int:pk>/", views.photo, name="inspection-photo"),
    path("acceptance/ledger.xlsx", views.acceptance_ledger, name="acceptance-ledger"),
]
