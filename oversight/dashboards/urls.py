from __future__ import annotations

from django.urls import path
from django.views.generic import RedirectView

from oversight.dashboards import api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("api/progress", api.progress, name="api-progress"),
    path("api/energy", api.energy, name="api-energy"),
    path("dashboard/", views.city, name="dashboard"),
    path("counties/<int:pk>/", views.county, name="county"),
    # Where the county's progress page was before it became the county's one page.
    path(
        "dashboard/counties/<int:pk>/", RedirectView.as_view(pattern_name="county", permanent=True)
    ),
    path("dashboard/townships/<int:pk>/", views.township, name="dashboard-township"),
    path("dashboard/progress.xlsx", views.progress_export, name="progress-export"),
]
