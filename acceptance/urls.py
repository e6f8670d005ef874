from __future__ import annotations

from django.urls import path

from acceptance import offline_views, review_views, views

urlpatterns = [
    path("acceptance/", views.worklist, name="worklist"),
    path("acceptance/households/<int:pk>/visit/", views.visit, name="visit"),
    path(
        "acceptance/households/<int:pk>/spot-check/",
        views.spot_check_visit,
        name="spot-check-visit",
    ),
    path("acceptance/households/<int:pk>/removal/", views.removal, name="heating-removal"),
    path("acceptance/projects/<int:pk>/visit/", views.project_visit, name="project-visit"),
    path("acceptance/photos/<int:pk>/", views.photo, name="inspection-photo"),
    path("acceptance/ledger.xlsx", views.acceptance_ledger, name="acceptance-ledger"),
    # Working offline (static/js/outbox.js, static/js/offline-sw.js).
    path("acceptance/sw.js", offline_views.service_worker, name="service-worker"),
    path("acceptance/outbox/", offline_views.outbox, name="outbox"),
    path("acceptance/offline/manifest/", offline_views.offline_manifest, name="offline-manifest"),
    # Trust: integrity flags and their review, spot checks.
    path("acceptance/flags/", review_views.integrity_flags, name="integrity-flags"),
    path(
        "acceptance/flags/<int:pk>/review/",
        review_views.integrity_flag_review_view,
        name="integrity-flag-review",
    ),
    path("acceptance/spot-checks/", review_views.spot_checks, name="spot-checks"),
    path("acceptance/spot-checks/<int:pk>/", review_views.spot_check, name="spot-check"),
]
